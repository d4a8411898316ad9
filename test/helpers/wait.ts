import { expect } from "vitest";

/** Polls `read` until it returns `expected` (deep-equal) or `ms` pass, then asserts it. */
export async function eventually<T>(read: () => Promise<T>, expected: T, ms = 5_000): Promise<T> {
  const deadline = Date.now() + ms;
  let value = await read();
  while (JSON.stringify(value) !== JSON.stringify(expected) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    value = await read();
  }
  expect(value).toEqual(expected);
  return value;
}

/** Polls `check` until it holds or `ms` pass, then asserts it. */
export async function until(check: () => boolean, ms = 8_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(check()).toBe(true);
}

/** What an SDK rejects with on a non-2xx answer (the `pusher` SDK's RequestError). */
export interface SdkError {
  status?: number;
  body?: string;
}

/** The rejection of `request`; fails the test if it resolves. */
export async function rejectionOf(request: Promise<unknown>): Promise<SdkError> {
  try {
    await request;
  } catch (error) {
    return error as SdkError;
  }
  throw new Error("expected the request to be rejected");
}
