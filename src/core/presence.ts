import { randomUUID } from "node:crypto";
import type { ChannelMessage, Engine, PresenceMember } from "../engine/types.ts";

/** MEMBER_ADDED / MEMBER_REMOVED travel as messages on the presence channel itself. */
export const MEMBER_ADDED_EVENT = "herald:member_added";
export const MEMBER_REMOVED_EVENT = "herald:member_removed";

export function memberMessage(
  channel: string,
  kind: "MEMBER_ADDED" | "MEMBER_REMOVED",
  member: PresenceMember,
  excludeSocketId?: string,
): ChannelMessage {
  return {
    kind,
    id: randomUUID(),
    channel,
    event: kind === "MEMBER_ADDED" ? MEMBER_ADDED_EVENT : MEMBER_REMOVED_EVENT,
    data: { userId: member.userId, info: member.info },
    headers: {},
    publishedAt: new Date().toISOString(),
    excludeSocketId,
  };
}

/** Publishes a membership change; presence events are not kept in history. */
export function publishMemberEvent(
  engine: Engine,
  appId: string,
  channel: string,
  kind: "MEMBER_ADDED" | "MEMBER_REMOVED",
  member: PresenceMember,
  excludeSocketId?: string,
): Promise<void> {
  return engine.publish(appId, [memberMessage(channel, kind, member, excludeSocketId)], { history: false });
}
