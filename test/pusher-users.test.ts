import Pusher from "pusher";
import { beforeAll, describe, expect, it } from "vitest";
import { signSubscriberToken } from "../src/core/auth-tokens.ts";
import { APP_ONE, sleep, subscribeChannel, type WsConnection, refusal, useHerald, subscribed } from "./helpers/herald.ts";
import { uniquePrefix, ENGINES } from "./helpers/redis.ts";
import { eventually, rejectionOf } from "./helpers/wait.ts";

/**
 * The Pusher routes about users and presence (`/channels/:name/users`, `/users/:id/…`,
 * `user_count`), with the official SDK as the backend and graphql-ws subscribers holding JWTs.
 */
const prefix = uniquePrefix("pusher-users");




describe.each(ENGINES)("Pusher user and presence routes with the official SDK ($name engine)", ({ redis, skip }) => {
  const server = useHerald({ redis, skip }, prefix);
  let pusher: Pusher;
  beforeAll(() => {
    if (!skip) pusher = sdk(APP_ONE.secret);
  });

  function sdk(secret: string): Pusher {
    return new Pusher({ appId: APP_ONE.id, key: APP_ONE.key, secret, host: "127.0.0.1", port: new URL(server.url).port, useTLS: false });
  }

  /** A connection authenticated as `sub`, allowed into every presence channel. */
  function connectAs(sub: string): WsConnection {
    const token = signSubscriberToken(APP_ONE.secret, { sub, info: { name: sub }, channels: ["presence-*"], expiresInSeconds: 600 });
    return server.connect({ key: APP_ONE.key, token });
  }

  /**
   * `POST /users/:userId/events` through the SDK's signed `post`. The SDK JSON-encodes `body`
   * itself (its own `terminateUserConnections` passes `{}`), though its types say string.
   */
  const postUserEvent = (userId: string, body: object) => pusher.post({ path: `/users/${userId}/events`, body: body as unknown as string });
  const json = (response: Promise<{ json(): Promise<unknown> }>) => response.then((r) => r.json());
  const userIds = (channel: string) =>
    json(pusher.get({ path: `/channels/${channel}/users` })).then((body) => (body as { users: { id: string }[] }).users.map((u) => u.id).sort());

  describe.skipIf(skip)("GET /channels/:name/users", () => {
    it("lists each present user once, as Pusher does", async () => {
      const ada = connectAs("ada");
      await Promise.all([subscribed(ada, "presence-users"), subscribed(connectAs("bob"), "presence-users"), subscribed(connectAs("ada"), "presence-users")]);
      const body = (await json(pusher.get({ path: "/channels/presence-users/users" }))) as { users: { id: string }[] };
      expect(Object.keys(body)).toEqual(["users"]);
      expect(body.users.sort((a, b) => a.id.localeCompare(b.id))).toEqual([{ id: "ada" }, { id: "bob" }]);
      expect(await json(pusher.get({ path: "/channels/presence-nobody/users" }))).toEqual({ users: [] });
    });

    it("answers 400 for a channel that is not a presence channel", async () => {
      await subscribed(connectAs("carl"), "users-public");
      for (const channel of ["users-public", "private-users"]) {
        const rejected = await rejectionOf(pusher.get({ path: `/channels/${channel}/users` }));
        expect(rejected, channel).toMatchObject({ status: 400, body: expect.stringContaining("not a presence channel") });
      }
      const invalid = await rejectionOf(pusher.get({ path: "/channels/presence-bad!name/users" }));
      expect(invalid).toMatchObject({ status: 400, body: expect.stringContaining("Invalid channel name") });
    });
  });

  describe.skipIf(skip)("user_count", () => {
    it("counts distinct users in /channels, /channels/:name and trigger info", async () => {
      const [dora, dora2, eve] = [connectAs("dora"), connectAs("dora"), connectAs("eve")];
      await Promise.all([subscribed(dora, "presence-count-a"), subscribed(dora2, "presence-count-a"), subscribed(eve, "presence-count-a")]);
      await subscribed(eve, "presence-count-b");

      const listed = await json(pusher.get({ path: "/channels", params: { filter_by_prefix: "presence-count-", info: "user_count" } }));
      expect(listed).toEqual({ channels: { "presence-count-a": { user_count: 2 }, "presence-count-b": { user_count: 1 } } });
      const plain = await json(pusher.get({ path: "/channels", params: { filter_by_prefix: "presence-count-" } }));
      expect(plain).toEqual({ channels: { "presence-count-a": {}, "presence-count-b": {} } });

      const one = await json(pusher.get({ path: "/channels/presence-count-a", params: { info: "user_count,subscription_count" } }));
      expect(one).toEqual({ occupied: true, user_count: 2, subscription_count: 3 });
      const empty = await json(pusher.get({ path: "/channels/presence-count-none", params: { info: "user_count" } }));
      expect(empty).toEqual({ occupied: false, user_count: 0 });

      const triggered = await json(pusher.trigger(["presence-count-a", "presence-count-b"], "ping", "x", { info: "user_count,subscription_count" }));
      expect(triggered).toEqual({
        channels: { "presence-count-a": { user_count: 2, subscription_count: 3 }, "presence-count-b": { user_count: 1, subscription_count: 1 } },
      });
      const batch = await json(
        pusher.triggerBatch([
          { channel: "presence-count-a", name: "ping", data: "1", info: "user_count" },
          { channel: "presence-count-b", name: "ping", data: "2", info: "subscription_count,user_count" },
        ]),
      );
      expect(batch).toEqual({ batch: [{ user_count: 2 }, { subscription_count: 1, user_count: 1 }] });

      // A user leaving with their last connection is no longer counted.
      await eve.dispose();
      await eventually(() => json(pusher.get({ path: "/channels/presence-count-a", params: { info: "user_count" } })), { occupied: true, user_count: 1 });
    });
  });

  describe.skipIf(skip)("terminateUserConnections", () => {
    it("closes every connection of the user with 4031 and leaves other users connected", async () => {
      const tabs = [connectAs("mallory"), connectAs("mallory")];
      const bystander = connectAs("frank");
      await Promise.all([...tabs, bystander].map((ws) => subscribed(ws, "presence-terminate")));
      expect(await userIds("presence-terminate")).toEqual(["frank", "mallory"]);

      // Signed with a wrong secret: 401, and nobody is disconnected.
      expect(await rejectionOf(sdk("not-the-secret-0123456789").terminateUserConnections("mallory"))).toMatchObject({ status: 401 });
      expect(await Promise.race([tabs[0]!.closed.then(() => "closed"), sleep(200).then(() => "open")])).toBe("open");

      const response = await pusher.terminateUserConnections("mallory");
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({});
      for (const tab of tabs) expect((await tab.closed).code).toBe(4031);

      // The bystander's socket stays open and keeps working.
      const stillOpen = await Promise.race([bystander.closed.then(() => false), sleep(200).then(() => true)]);
      expect(stillOpen).toBe(true);
      await subscribed(bystander, "presence-terminate-after");
      await eventually(() => userIds("presence-terminate"), ["frank"]);
    });

    it("answers {} for a user with no connections, and 400 for an invalid user id", async () => {
      expect(await json(pusher.terminateUserConnections("nobody-connected"))).toEqual({});
      const rejected = await rejectionOf(pusher.terminateUserConnections("u".repeat(129)));
      expect(rejected).toMatchObject({ status: 400, body: expect.stringContaining("user id") });
    });
  });

  describe.skipIf(skip)("sendToUser and POST /users/:userId/events", () => {
    it("delivers to that user's #server-to-user- subscription and nobody else's", async () => {
      const gina = connectAs("gina");
      const hal = connectAs("hal");
      const ginaSub = await subscribed(gina, "#server-to-user-gina");
      const halSub = await subscribed(hal, "#server-to-user-hal");
      // Another user's connection, and a connection with only the app key, may not listen in.
      const snoop = subscribeChannel(hal, "#server-to-user-gina");
      expect((await refusal(snoop))?.code).toBe("FORBIDDEN");
      const anonymous = server.connect({ key: APP_ONE.key });
      const stranger = subscribeChannel(anonymous, "#server-to-user-gina");
      expect((await refusal(stranger))?.code).toBe("FORBIDDEN");

      // The SDK's sendToUser triggers on `#server-to-user-gina` through POST /apps/:appId/events.
      const sent = await pusher.sendToUser("gina", "notice", { text: "for gina" });
      expect(await sent.json()).toEqual({});
      const [event] = await ginaSub.messages(1);
      expect(event).toMatchObject({ kind: "MESSAGE", channel: "#server-to-user-gina", event: "notice", data: '{"text":"for gina"}' });

      // Herald's own route for the same thing.
      const posted = await postUserEvent("gina", { name: "direct", data: "hello gina" });
      expect(await posted.json()).toEqual({});
      expect((await ginaSub.messages(2))[1]).toMatchObject({ channel: "#server-to-user-gina", event: "direct", data: "hello gina" });

      // Signed with a wrong secret: 401, and nothing reaches gina.
      expect(await rejectionOf(sdk("not-the-secret-0123456789").sendToUser("gina", "evil", "x"))).toMatchObject({ status: 401 });

      // Hal got neither: a marker sent to him after is the only thing he has.
      await pusher.sendToUser("hal", "marker", "after");
      await halSub.messages(1);
      expect(halSub.events.map((e) => e.event)).toEqual(["marker"]);
      await pusher.sendToUser("gina", "marker", "after");
      expect((await ginaSub.messages(3)).map((e) => e.event)).toEqual(["notice", "direct", "marker"]);
    });

    it("answers 400 for a bad body or user id, and delivers nothing", async () => {
      const ida = connectAs("ida");
      const sub = await subscribed(ida, "#server-to-user-ida");
      for (const [body, message] of [
        [{ name: "evil" }, "data is required"],
        [{ name: "evil", data: { not: "a string" } }, "data must be a string"],
        [{ data: "x" }, "name is required"],
      ] as const) {
        const rejected = await rejectionOf(postUserEvent("ida", body));
        expect(rejected, message).toMatchObject({ status: 400, body: expect.stringContaining(message) });
      }
      const badUser = await rejectionOf(postUserEvent("i*da", { name: "evil", data: "x" }));
      expect(badUser).toMatchObject({ status: 400, body: expect.stringContaining("Invalid channel name") });
      const tooBig = await rejectionOf(postUserEvent("ida", { name: "evil", data: "x".repeat(10 * 1024 + 1) }));
      expect(tooBig.status).toBe(413);

      await pusher.sendToUser("ida", "marker", "after");
      await sub.messages(1);
      expect(sub.events.map((e) => e.event)).toEqual(["marker"]);
    });
  });
});
