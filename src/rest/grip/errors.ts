import { plainTextErrorResponse } from "../plain-errors.ts";

/** GRIP publish answers: the Herald code's HTTP status and a plain-text reason, newline-terminated, as Pushpin and Fastly answer. */
export const gripErrorResponse = plainTextErrorResponse("\n");
