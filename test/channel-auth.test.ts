import Pusher from "pusher";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signSubscriberToken, verifySubscriberToken } from "../src/core/auth-tokens.ts";
import { authorizeChannel } from "../src/core/channel-auth.ts";
import { HeraldError } from "../src/errors.ts";
import { PublishDocument } from "./generated/graphql.ts";
import { APP_ONE, APP_TWO, connectWs, gql, startHerald, subscribeChannel, type TestServer, refusal } from "./helpers/herald.ts";

// From Pusher's docs (shared/vectors/pusher.json): auth strings for socket 1234.1234.
const VECTOR_APP = { id: "3", key: "278d425bdf160c739803", secret: "7ad3773142a6692b25b8", name: "v", enabled: true };
const VECTORS = {
  private: { channel: "private-foobar", auth: "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4" },
  presence: {
    channel: "presence-foobar",
    channelData: '{"user_id":10,"user_info":{"name":"Mr. Channels"}}',
    auth: "278d425bdf160c739803:31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80",
  },
};
const limits = { maxUserIdLength: 128, maxUserInfoBytes: 1024, maxJsonDepth: 64 };
const deps = (claims?: Parameters<typeof authorizeChannel>[2]["connectionClaims"]) => ({ app: VECTOR_APP, socketId: "1234.1234", connectionClaims: claims, limits });

function code(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return error instanceof HeraldError ? error.code : "not a HeraldError";
  }
}

describe("channel authorization matrix", () => {
  const token = (claims: Parameters<typeof signSubscriberToken>[1], secret = VECTOR_APP.secret) => signSubscriberToken(secret, claims);

  it.each([
    ["public channel, nothing", "news", {}, undefined],
    ["private, Pusher vector", VECTORS.private.channel, { auth: VECTORS.private.auth }, undefined],
    ["presence, Pusher vector", VECTORS.presence.channel, { auth: VECTORS.presence.auth, channelData: VECTORS.presence.channelData }, undefined],
    ["private, nothing", "private-foobar", {}, "FORBIDDEN"],
    ["private, auth for another channel", "private-other", { auth: VECTORS.private.auth }, "FORBIDDEN"],
    ["presence, tampered channelData", VECTORS.presence.channel, { auth: VECTORS.presence.auth, channelData: VECTORS.presence.channelData.replace("10", "11") }, "FORBIDDEN"],
    ["presence, auth without channelData", VECTORS.presence.channel, { auth: VECTORS.presence.auth }, "FORBIDDEN"],
    ["private, JWT naming it", "private-foobar", { token: token({ channels: ["private-foobar"], expiresInSeconds: 60 }) }, undefined],
    ["private, JWT prefix pattern", "private-orders-42", { token: token({ channels: ["private-orders-*"] }) }, undefined],
    ["private, JWT for another channel", "private-foobar", { token: token({ channels: ["private-other"] }) }, "FORBIDDEN"],
    ["private, expired JWT", "private-foobar", { token: token({ channels: ["private-foobar"], exp: Math.floor(Date.now() / 1000) - 10 }) }, "FORBIDDEN"],
    ["private, JWT of another app", "private-foobar", { token: token({ channels: ["private-foobar"] }, "another-apps-secret-0000") }, "FORBIDDEN"],
    ["private, garbage token", "private-foobar", { token: "not.a.jwt" }, "FORBIDDEN"],
    ["presence, JWT with sub", "presence-room", { token: token({ sub: "u1", info: { name: "Ada" }, channels: ["presence-*"] }) }, undefined],
    ["presence, JWT without sub", "presence-room", { token: token({ channels: ["presence-*"] }) }, "FORBIDDEN"],
    ["presence, user info too large", "presence-room", { token: token({ sub: "u1", info: "x".repeat(2000), channels: ["presence-*"] }) }, "USER_INFO_TOO_LARGE"],
    ["presence, user id too long", "presence-room", { token: token({ sub: "u".repeat(129), channels: ["presence-*"] }) }, "INVALID_USER_ID"],
    ["user channel, its user", "#server-to-user-u1", { token: token({ sub: "u1" }) }, undefined],
    ["user channel, another user", "#server-to-user-u1", { token: token({ sub: "u2" }) }, "FORBIDDEN"],
  ])("%s", (_label, channel, grant, expected) => {
    expect(code(() => authorizeChannel(channel, grant, deps()))).toBe(expected);
  });

  it("takes the connection's token when the subscription gives none", () => {
    const check = verifySubscriberToken(VECTOR_APP.secret, signSubscriberToken(VECTOR_APP.secret, { sub: "u1", channels: ["private-x"] }));
    if (!check.ok) throw new Error(check.reason);
    expect(code(() => authorizeChannel("private-x", {}, deps(check.claims)))).toBeUndefined();
    expect(authorizeChannel("presence-x", {}, deps({ ...check.claims, channels: ["presence-x"] })).member).toEqual({ userId: "u1", info: null });
  });

  it("reads the presence member from Pusher channel_data", () => {
    const access = authorizeChannel(VECTORS.presence.channel, { auth: VECTORS.presence.auth, channelData: VECTORS.presence.channelData }, deps());
    expect(access.member).toEqual({ userId: "10", info: { name: "Mr. Channels" } });
  });
});

describe("authorized subscriptions end to end", () => {
  let server: TestServer;
  const pusher = new Pusher({ appId: APP_ONE.id, key: APP_ONE.key, secret: APP_ONE.secret, cluster: "mt1" });
  beforeAll(async () => {
    server = await startHerald();
  });
  afterAll(() => server.close());

  it("admits a connection token to its private channels, and refuses the others without hurting the connection", async () => {
    const token = signSubscriberToken(APP_ONE.secret, { sub: "u1", channels: ["private-mine"], expiresInSeconds: 60 });
    const ws = connectWs(server, { key: APP_ONE.key, token });
    const mine = subscribeChannel(ws, "private-mine");
    const theirs = subscribeChannel(ws, "private-theirs");
    await mine.subscribed;
    expect((await refusal(theirs))?.code).toBe("FORBIDDEN");
    await gql(server, PublishDocument, { input: { channels: ["private-mine"], data: "secret" } });
    expect((await mine.messages(1))[0]!.data).toBe("secret");
    await ws.dispose();
  });

  it("closes a connection whose token is invalid (another app's secret) with 4403", async () => {
    const ws = connectWs(server, { key: APP_ONE.key, token: signSubscriberToken(APP_TWO.secret, { sub: "u1" }) });
    expect((await ws.closed).code).toBe(4403);
  });

  it("accepts Pusher auth strings minted by the official SDK for this socket", async () => {
    const ws = connectWs(server);
    const socketId = String((await ws.ack).socketId);
    const { auth } = pusher.authorizeChannel(socketId, "private-pusher");
    const sub = subscribeChannel(ws, "private-pusher", { auth });
    await sub.subscribed;
    const presenceAuth = pusher.authorizeChannel(socketId, "presence-pusher", { user_id: "42", user_info: { name: "Zed" } });
    const presence = subscribeChannel(ws, "presence-pusher", { auth: presenceAuth.auth, channelData: presenceAuth.channel_data! });
    const first = await presence.subscribed;
    expect(first.data).toEqual({ count: 1, members: [{ userId: "42", info: { name: "Zed" } }] });
    // An auth string for another socket is refused.
    const other = connectWs(server);
    const stolen = subscribeChannel(other, "private-pusher", { auth });
    expect((await refusal(stolen))?.code).toBe("FORBIDDEN");
    await Promise.all([ws.dispose(), other.dispose()]);
  });

  it("lets only the user itself subscribe to #server-to-user-<id>", async () => {
    const ws = connectWs(server, { key: APP_ONE.key, token: signSubscriberToken(APP_ONE.secret, { sub: "u7" }) });
    await subscribeChannel(ws, "#server-to-user-u7").subscribed;
    const other = subscribeChannel(ws, "#server-to-user-u8");
    expect((await refusal(other))?.code).toBe("FORBIDDEN");
    await ws.dispose();
  });
});
