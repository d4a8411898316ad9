import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signSubscriberToken } from "../src/core/auth-tokens.ts";
import { ChannelUsersDocument, ChannelsDocument, PresenceDocument, PublishDocument, TerminateUserConnectionsDocument } from "./generated/graphql.ts";
import { APP_ONE, TEST_APPS, connectWs, gql, sleep, startHerald, subscribeChannel, type TestServer, type WsConnection, refusal, usePair } from "./helpers/herald.ts";
import { spawnHerald, type HeraldProcess } from "./helpers/process.ts";
import { deleteBackendKeys, uniquePrefix, ENGINES, REDIS_BACKENDS } from "./helpers/redis.ts";
import { eventually } from "./helpers/wait.ts";

const userToken = (sub: string, info: unknown = { name: sub }) =>
  signSubscriberToken(APP_ONE.secret, { sub, info, channels: ["presence-*"], expiresInSeconds: 600 });
const join = (server: { wsUrl: string }, user: string, info?: unknown) => connectWs(server, { key: APP_ONE.key, token: userToken(user, info) });


const prefix = uniquePrefix("presence");

describe.each(ENGINES)("presence ($name)", ({ redis, skip }) => {
  const { a, b } = usePair({ redis, skip }, prefix, { HERALD_MAX_PRESENCE_MEMBERS: "3" });
  const members = (server: TestServer, channel: string) =>
    gql(server, PresenceDocument, { channel }).then((r) => r.data?.presence.members.map((m) => m.userId));

  it.skipIf(skip)("adds members on subscribe and removes them on unsubscribe or disconnect, with events", async () => {
    const ada = join(a, "ada", { name: "Ada" });
    const adaSub = subscribeChannel(ada, "presence-room");
    const first = await adaSub.subscribed;
    expect(first.data).toEqual({ count: 1, members: [{ userId: "ada", info: { name: "Ada" } }] });

    const bob = join(b, "bob");
    const bobSub = subscribeChannel(bob, "presence-room");
    expect((await bobSub.subscribed).data).toMatchObject({ count: 2 });
    const [added] = await adaSub.messages(1);
    expect(added).toMatchObject({ kind: "MEMBER_ADDED", member: { userId: "bob", info: { name: "bob" } } });

    for (const server of [a, b]) {
      expect(await members(server, "presence-room")).toEqual(["ada", "bob"]);
      const channel = await gql(server, ChannelUsersDocument, { name: "presence-room" });
      expect(channel.data?.channel).toMatchObject({ occupied: true, subscriptionCount: 2, userCount: 2 });
      const listed = await gql(server, ChannelsDocument, { prefix: "presence-" });
      expect(listed.data?.channels.map((c) => c.name)).toEqual(["presence-room"]);
    }
    const published = await gql(a, PublishDocument, { input: { channels: ["presence-room"], info: ["USER_COUNT", "SUBSCRIPTION_COUNT"] } });
    expect(published.data?.publish.channels[0]).toMatchObject({ subscriptionCount: 2, userCount: 2 });
    // Elsewhere there are no users: null, as the channel query says, not 0.
    const publicChannel = await gql(a, PublishDocument, { input: { channels: ["lobby"], info: ["USER_COUNT"] } });
    expect(publicChannel.data?.publish.channels[0]?.userCount).toBeNull();
    expect((await gql(a, ChannelUsersDocument, { name: "lobby" })).data?.channel.userCount).toBeNull();

    bobSub.unsubscribe();
    const [, removed] = await adaSub.messages(3); // MEMBER_ADDED, the published message, MEMBER_REMOVED
    expect(removed!.kind).toBe("MESSAGE");
    expect((await adaSub.messages(3))[2]).toMatchObject({ kind: "MEMBER_REMOVED", member: { userId: "bob" } });
    await eventually(() => members(b, "presence-room"), ["ada"]);
    await Promise.all([ada.dispose(), bob.dispose()]);
    await eventually(() => members(a, "presence-room"), []);
  });

  it.skipIf(skip)("counts a user with several connections once, until the last one leaves", async () => {
    const watcher = join(a, "watcher");
    const watch = subscribeChannel(watcher, "presence-multi");
    await watch.subscribed;
    const tabs = [join(a, "cat"), join(b, "cat")];
    const subs = tabs.map((t) => subscribeChannel(t, "presence-multi"));
    await Promise.all(subs.map((s) => s.subscribed));
    await eventually(() => members(a, "presence-multi"), ["cat", "watcher"]);
    const userCount = await gql(b, ChannelUsersDocument, { name: "presence-multi" });
    expect(userCount.data?.channel).toMatchObject({ subscriptionCount: 3, userCount: 2 });
    await tabs[0]!.dispose();
    await sleep(200);
    expect(await members(b, "presence-multi")).toEqual(["cat", "watcher"]);
    await tabs[1]!.dispose();
    await eventually(() => members(a, "presence-multi"), ["watcher"]);
    await watch.messages(2);
    expect(watch.events.map((e) => `${e.kind}:${e.member?.userId}`)).toEqual(["MEMBER_ADDED:cat", "MEMBER_REMOVED:cat"]);
    await watcher.dispose();
  });

  it.skipIf(skip)("refuses a member past the channel's limit with TOO_MANY_MEMBERS", async () => {
    const connections: WsConnection[] = [];
    for (const user of ["u1", "u2", "u3"]) {
      const ws = join(user === "u2" ? b : a, user);
      connections.push(ws);
      await subscribeChannel(ws, "presence-full").subscribed;
    }
    const late = join(a, "u4");
    connections.push(late);
    const refused = subscribeChannel(late, "presence-full");
    expect(await refusal(refused)).toMatchObject({ code: "TOO_MANY_MEMBERS", limit: 3 });
    // An already present user may still open another connection.
    const again = join(b, "u1");
    connections.push(again);
    await subscribeChannel(again, "presence-full").subscribed;
    await Promise.all(connections.map((c) => c.dispose()));
  });

  it.skipIf(skip)("refuses the presence query for a channel that is not a presence channel", async () => {
    const result = await gql(a, PresenceDocument, { channel: "news" });
    expect(result.errors?.[0]?.extensions?.code).toBe("BAD_REQUEST");
  });

  it.skipIf(skip)("terminates every connection of a user, on every instance, with close code 4031", async () => {
    const tabs = [join(a, "mallory"), join(b, "mallory")];
    const bystander = join(a, "alice");
    await Promise.all([...tabs, bystander].map((t) => t.ack));
    const result = await gql(b, TerminateUserConnectionsDocument, { userId: "mallory" });
    expect(result.data?.terminateUserConnections).toBe(true);
    for (const tab of tabs) expect((await tab.closed).code).toBe(4031);
    const still = subscribeChannel(bystander, "presence-after");
    await still.subscribed;
    await bystander.dispose();
  });
});

describe.each(REDIS_BACKENDS)("an instance killed with SIGKILL, on $name", (backend) => {
  const killPrefix = uniquePrefix("presence-kill");
  let survivor: TestServer;
  let victim: HeraldProcess;
  const fast = { HERALD_INSTANCE_HEARTBEAT_MS: "200", HERALD_INSTANCE_TTL_MS: "1500" };
  beforeAll(async () => {
    if (backend.skip) return;
    survivor = await startHerald({ prefix: killPrefix, env: { ...backend.env(), ...fast } });
    victim = await spawnHerald({ ...backend.env(), HERALD_REDIS_PREFIX: killPrefix, HERALD_APPS: JSON.stringify(TEST_APPS), ...fast });
  }, 30_000);
  afterAll(async () => {
    if (backend.skip) return;
    victim?.child.kill("SIGKILL");
    await survivor?.close();
    await deleteBackendKeys(backend.env(), killPrefix);
  });

  it.skipIf(backend.skip)("loses its members and subscriptions within the instance TTL", async () => {
    const victimServer = { wsUrl: `${victim.url.replace("http", "ws")}/graphql` };
    const watcher = join(survivor, "watcher");
    const watch = subscribeChannel(watcher, "presence-doomed");
    await watch.subscribed;
    const doomed = join(victimServer, "doomed");
    await subscribeChannel(doomed, "presence-doomed").subscribed;
    await watch.messages(1);
    expect((await gql(survivor, PresenceDocument, { channel: "presence-doomed" })).data?.presence.count).toBe(2);

    const killedAt = Date.now();
    victim.child.kill("SIGKILL");
    const [, removed] = await watch.messages(2, 10_000);
    const after = Date.now() - killedAt;
    expect(removed).toMatchObject({ kind: "MEMBER_REMOVED", member: { userId: "doomed" } });
    expect(after).toBeLessThan(10_000);
    // Reaped by the survivor's heartbeat once the victim's passed the TTL (slack for the run).
    expect(after).toBeLessThan(Number(fast.HERALD_INSTANCE_TTL_MS) + Number(fast.HERALD_INSTANCE_HEARTBEAT_MS) + 1_000);
    const presence = await gql(survivor, PresenceDocument, { channel: "presence-doomed" });
    expect(presence.data?.presence.members.map((m) => m.userId)).toEqual(["watcher"]);
    const channel = await gql(survivor, ChannelUsersDocument, { name: "presence-doomed" });
    expect(channel.data?.channel).toMatchObject({ subscriptionCount: 1, userCount: 1 });
    await watcher.dispose();
    await doomed.dispose();
  });
});
