import type { ExpiredMembersListener, PresenceMember, PresenceStore } from "./types.ts";

/** Presence in one process: channel → socketId → member. Nothing can expire here. */
export function createMemoryPresence(): PresenceStore & { clear(): void } {
  const channels = new Map<string, Map<string, PresenceMember>>();
  const keyOf = (appId: string, channel: string) => `${appId}\0${channel}`;
  const usersOf = (sockets: Map<string, PresenceMember> | undefined) => {
    const users = new Map<string, PresenceMember>();
    for (const member of sockets?.values() ?? []) if (!users.has(member.userId)) users.set(member.userId, member);
    return users;
  };

  return {
    async join(appId, channel, socketId, member, maxMembers) {
      const key = keyOf(appId, channel);
      let sockets = channels.get(key);
      const users = usersOf(sockets);
      if (users.has(member.userId)) {
        sockets!.set(socketId, member);
        return "present";
      }
      if (users.size >= maxMembers) return "full";
      if (!sockets) channels.set(key, (sockets = new Map()));
      sockets.set(socketId, member);
      return "added";
    },
    async leave(appId, channel, socketId, userId) {
      const key = keyOf(appId, channel);
      const sockets = channels.get(key);
      if (!sockets?.delete(socketId)) return false;
      if (sockets.size === 0) channels.delete(key);
      return !usersOf(sockets).has(userId);
    },
    async members(appId, channel) {
      return [...usersOf(channels.get(keyOf(appId, channel))).values()].sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
    },
    onExpired(_listener: ExpiredMembersListener) {},
    clear: () => channels.clear(),
  };
}
