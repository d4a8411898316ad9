import type { App, Limits } from "../config.ts";
import { ErrorCode, HeraldError } from "../errors.ts";
import { validateJsonDepth } from "./json-depth.ts";
import { tokenAllowsChannel, verifySubscriberToken, type SubscriberClaims } from "./auth-tokens.ts";
import { verifyPusherChannelAuth } from "./pusher-auth.ts";

/** Who may join which channel. Public channels need only the app key. */
export type ChannelKind = "public" | "private" | "presence" | "user";

const USER_CHANNEL_PREFIX = "#server-to-user-";

export function channelKind(name: string): ChannelKind {
  if (name.startsWith("private-")) return "private";
  if (name.startsWith("presence-")) return "presence";
  if (name.startsWith(USER_CHANNEL_PREFIX)) return "user";
  return "public";
}

/** The channel a user's `sendToUser` messages go to. */
export const userChannel = (userId: string) => `${USER_CHANNEL_PREFIX}${userId}`;

/** What a subscriber presents for a channel that needs an authorization. */
export interface ChannelGrant {
  /** A subscriber JWT for this subscription (overrides the connection's). */
  readonly token?: string | null | undefined;
  /** Pusher auth string: `<key>:<hex HMAC(secret, socketId:channel[:channelData])>`. */
  readonly auth?: string | null | undefined;
  /** Pusher presence `channel_data`: JSON `{"user_id", "user_info"}`. */
  readonly channelData?: string | null | undefined;
}

export interface Member {
  readonly userId: string;
  readonly info: unknown;
}

export interface ChannelAccess {
  /** Set for presence channels: who joins. */
  readonly member?: Member;
}

export interface AuthorizeDeps {
  readonly app: App;
  readonly socketId: string;
  /** Claims of the token the connection was opened with, if any. */
  readonly connectionClaims: SubscriberClaims | undefined;
  readonly limits: Pick<Limits, "maxUserIdLength" | "maxUserInfoBytes" | "maxJsonDepth">;
  readonly now?: () => number;
}

/**
 * Checks a subscriber's authorization for `channel`. Throws `FORBIDDEN` naming what is missing
 * or wrong; returns the presence member for presence channels.
 */
export function authorizeChannel(channel: string, grant: ChannelGrant, deps: AuthorizeDeps): ChannelAccess {
  const kind = channelKind(channel);
  if (kind === "public") return {};
  let claims = deps.connectionClaims;
  if (grant.token != null) {
    const check = verifySubscriberToken(deps.app.secret, grant.token, deps.now);
    if (!check.ok) throw forbidden(channel, check.reason);
    claims = check.claims;
  }

  if (kind === "user") {
    const userId = channel.slice(USER_CHANNEL_PREFIX.length);
    if (claims?.sub === userId) return {};
    throw forbidden(channel, "only a connection authenticated as that user (token sub) may subscribe");
  }

  if (grant.auth != null) {
    const channelData = kind === "presence" ? (grant.channelData ?? undefined) : undefined;
    if (kind === "presence" && channelData === undefined) throw forbidden(channel, "a presence channel's Pusher auth needs channelData");
    if (!verifyPusherChannelAuth(deps.app, grant.auth, deps.socketId, channel, channelData)) {
      throw forbidden(channel, "the Pusher auth string does not match this socket and channel");
    }
    return kind === "presence" ? { member: memberFromChannelData(channelData!, deps.limits) } : {};
  }

  if (!claims) throw forbidden(channel, "give a token (connectionParams.token or the token argument) or a Pusher auth string");
  if (!tokenAllowsChannel(claims, channel)) throw forbidden(channel, "the token's channels do not include it");
  if (kind === "presence") {
    if (claims.sub === undefined) throw forbidden(channel, "a presence channel needs a token with a sub (the user id)");
    return { member: validateMember(claims.sub, claims.info ?? null, deps.limits) };
  }
  return {};
}

function forbidden(channel: string, why: string): HeraldError {
  return new HeraldError(ErrorCode.Forbidden, `Not authorized for channel ${channel}: ${why}`);
}

function memberFromChannelData(channelData: string, limits: AuthorizeDeps["limits"]): Member {
  let parsed: unknown;
  try {
    parsed = JSON.parse(channelData);
  } catch {
    throw new HeraldError(ErrorCode.BadRequest, "channelData must be JSON: {\"user_id\": …, \"user_info\": …}");
  }
  const record = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const userId = record.user_id;
  if (typeof userId !== "string" && typeof userId !== "number") {
    throw new HeraldError(ErrorCode.InvalidUserId, "channelData.user_id must be a string or a number");
  }
  return validateMember(String(userId), record.user_info ?? null, limits);
}

export function validateMember(userId: string, info: unknown, limits: AuthorizeDeps["limits"]): Member {
  if (userId.length === 0 || userId.length > limits.maxUserIdLength) {
    throw new HeraldError(ErrorCode.InvalidUserId, `A user id must be 1-${limits.maxUserIdLength} characters`, { limit: limits.maxUserIdLength });
  }
  validateJsonDepth(info, limits, "User info");
  const bytes = Buffer.byteLength(JSON.stringify(info));
  if (bytes > limits.maxUserInfoBytes) {
    throw new HeraldError(ErrorCode.UserInfoTooLarge, `User info is ${bytes} bytes, over the limit of ${limits.maxUserInfoBytes}`, {
      limit: limits.maxUserInfoBytes,
    });
  }
  return { userId, info };
}
