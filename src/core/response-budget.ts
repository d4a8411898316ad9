import { ErrorCode, HeraldError } from "../errors.ts";
import type { ChannelEvent } from "./types.ts";

/**
 * The bytes one request's answer may take (HERALD_MAX_RESPONSE_BYTES). Document bounds cap how
 * many fields a request selects; what a field returns can still be large (a history read is up
 * to a hundred messages of 64 KiB each), so the reads that return messages charge what they
 * return here, and once the budget is spent every further read fails with PAYLOAD_TOO_LARGE
 * instead of building the answer.
 */
export class ResponseBudget {
  #left: number;

  constructor(readonly maxBytes: number) {
    this.#left = maxBytes;
  }

  /** Charges `messages` (their data and headers, as sent); throws when the budget is spent. */
  chargeMessages(messages: readonly Pick<ChannelEvent, "data" | "headers">[]): void {
    let bytes = 0;
    for (const message of messages) {
      const data = message.data;
      bytes += typeof data === "string" ? data.length : data == null ? 4 : JSON.stringify(data).length;
      for (const name in message.headers) bytes += name.length + message.headers[name]!.length + 6;
    }
    this.charge(bytes);
  }

  charge(bytes: number): void {
    this.#left -= bytes;
    if (this.#left < 0) {
      throw new HeraldError(ErrorCode.PayloadTooLarge, `Response is larger than ${this.maxBytes} bytes (HERALD_MAX_RESPONSE_BYTES)`, {
        limit: this.maxBytes,
        setting: "HERALD_MAX_RESPONSE_BYTES",
      });
    }
  }
}
