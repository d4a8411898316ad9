/**
 * Pusher subscriber authorization strings: `"<key>:" + hex(HMAC-SHA256(secret, message))`,
 * minted by the app's backend (usually with a Pusher SDK) and checked here when a client joins a
 * `private-*` / `presence-*` channel. The user-signin pair below matches Pusher's vectors but no
 * route uses it yet: Herald has no `pusher:signin`.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export interface PusherAuthApp {
  key: string;
  secret: string;
}

/** Auth string for `private-*` and `presence-*` channels; presence adds the `channel_data` JSON. */
export function signPusherChannelAuth(
  app: PusherAuthApp,
  socketId: string,
  channel: string,
  channelData?: string,
): string {
  const message = channelData === undefined ? `${socketId}:${channel}` : `${socketId}:${channel}:${channelData}`;
  return sign(app, message);
}

export function verifyPusherChannelAuth(
  app: PusherAuthApp,
  auth: string,
  socketId: string,
  channel: string,
  channelData?: string,
): boolean {
  return timingSafeStringEqual(auth, signPusherChannelAuth(app, socketId, channel, channelData));
}

/** Auth string for `pusher:signin`; `userData` is the JSON string exactly as the client sent it. */
export function signPusherUserAuth(app: PusherAuthApp, socketId: string, userData: string): string {
  return sign(app, `${socketId}::user::${userData}`);
}

export function verifyPusherUserAuth(app: PusherAuthApp, auth: string, socketId: string, userData: string): boolean {
  return timingSafeStringEqual(auth, signPusherUserAuth(app, socketId, userData));
}

function sign(app: PusherAuthApp, message: string): string {
  return `${app.key}:${createHmac("sha256", app.secret).update(message, "utf8").digest("hex")}`;
}

/**
 * Whether `given` is exactly `expected` (a signature), in constant time for equal lengths; the
 * length itself is not secret (it is fixed per key and algorithm). The `typeof` guard is for
 * callers that pass along untyped client input.
 */
export function timingSafeStringEqual(given: unknown, expected: string): boolean {
  if (typeof given !== "string") return false;
  const a = Buffer.from(given, "utf8");
  const b = Buffer.from(expected, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}
