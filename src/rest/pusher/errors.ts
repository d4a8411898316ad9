import { plainTextErrorResponse } from "../plain-errors.ts";

/** Pusher's error answers: the plain HTTP status of the failure and a plain-text body (`400 Invalid channel name …`). */
export const pusherErrorResponse = plainTextErrorResponse();
