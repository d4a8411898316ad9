import Pusher from "pusher";
import { describe, expect, it } from "vitest";
import {
  signPusherChannelAuth,
  signPusherUserAuth,
  verifyPusherChannelAuth,
  verifyPusherUserAuth,
} from "../src/core/pusher-auth.ts";

// Worked examples from Pusher's auth signature docs
// (https://pusher.com/docs/channels/library_auth_reference/auth-signatures/).
const app = { key: "278d425bdf160c739803", secret: "7ad3773142a6692b25b8" };
const privateChannel = {
  socketId: "1234.1234",
  channel: "private-foobar",
  auth: "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4",
};
const presenceChannel = {
  socketId: "1234.1234",
  channel: "presence-foobar",
  channelData: '{"user_id":10,"user_info":{"name":"Mr. Channels"}}',
  auth: "278d425bdf160c739803:31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80",
};
const userSignin = {
  socketId: "1234.1234",
  userData: '{"id":"12345"}',
  auth: "278d425bdf160c739803:4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba",
};

describe("Pusher docs vectors", () => {
  it("signs and verifies a private channel", () => {
    const { socketId, channel, auth } = privateChannel;
    expect(signPusherChannelAuth(app, socketId, channel)).toBe(auth);
    expect(verifyPusherChannelAuth(app, auth, socketId, channel)).toBe(true);
  });

  it("signs and verifies a presence channel with channel_data", () => {
    const { socketId, channel, channelData, auth } = presenceChannel;
    expect(signPusherChannelAuth(app, socketId, channel, channelData)).toBe(auth);
    expect(verifyPusherChannelAuth(app, auth, socketId, channel, channelData)).toBe(true);
  });

  it("signs and verifies a user sign-in", () => {
    const { socketId, userData, auth } = userSignin;
    expect(signPusherUserAuth(app, socketId, userData)).toBe(auth);
    expect(verifyPusherUserAuth(app, auth, socketId, userData)).toBe(true);
  });
});

describe("verifyPusherChannelAuth rejects", () => {
  const { socketId, channel, channelData, auth } = presenceChannel;
  const signature = auth.slice(auth.indexOf(":") + 1);

  it.each([
    ["a wrong secret", { ...app, secret: "not-the-secret" }, auth, socketId, channel, channelData],
    ["another app's key prefix", app, `0123456789abcdef0123:${signature}`, socketId, channel, channelData],
    ["a missing key prefix", app, signature, socketId, channel, channelData],
    ["a wrong socket id", app, auth, "1234.1235", channel, channelData],
    ["a wrong channel", app, auth, socketId, "presence-other", channelData],
    ["tampered channel_data", app, auth, socketId, channel, channelData.replace("10", "11")],
    ["missing channel_data", app, auth, socketId, channel, undefined],
    ["channel_data on a private channel", app, privateChannel.auth, socketId, privateChannel.channel, "{}"],
    ["an upper-cased signature", app, `${app.key}:${signature.toUpperCase()}`, socketId, channel, channelData],
  ])("%s", (_, theApp, theAuth, theSocketId, theChannel, theChannelData) => {
    expect(verifyPusherChannelAuth(theApp, theAuth, theSocketId, theChannel, theChannelData)).toBe(false);
  });

  it.each([
    ["empty", ""],
    ["truncated by one", auth.slice(0, -1)],
    ["just the key", `${app.key}:`],
    ["one char too long", `${auth}0`],
    ["garbage", "not an auth string at all"],
    ["multi-byte garbage of the right length", "é".repeat(auth.length / 2)],
    ["a non-string", 42 as unknown as string],
  ])("without throwing: %s", (_, garbage) => {
    expect(() => verifyPusherChannelAuth(app, garbage, socketId, channel, channelData)).not.toThrow();
    expect(verifyPusherChannelAuth(app, garbage, socketId, channel, channelData)).toBe(false);
  });

  it("a user sign-in string used as a channel auth, and the other way round", () => {
    expect(verifyPusherChannelAuth(app, userSignin.auth, socketId, "private-x")).toBe(false);
    expect(verifyPusherUserAuth(app, privateChannel.auth, socketId, userSignin.userData)).toBe(false);
  });
});

describe("the official pusher SDK", () => {
  const sdk = new Pusher({ appId: "42", key: app.key, secret: app.secret, cluster: "mt1" });
  const socketId = "123.456";

  it("mints private channel auth we accept", () => {
    const { auth, channel_data } = sdk.authorizeChannel(socketId, "private-orders");
    expect(channel_data).toBeUndefined();
    expect(verifyPusherChannelAuth(app, auth, socketId, "private-orders")).toBe(true);
    expect(verifyPusherChannelAuth(app, auth, socketId, "private-other")).toBe(false);
  });

  it("mints presence channel auth we accept, with its channel_data", () => {
    const presenceData = { user_id: "u-1", user_info: { name: "Ada", note: "ünïcödé: ✓" } };
    const { auth, channel_data } = sdk.authorizeChannel(socketId, "presence-room", presenceData);
    expect(channel_data).toBe(JSON.stringify(presenceData));
    expect(verifyPusherChannelAuth(app, auth, socketId, "presence-room", channel_data)).toBe(true);
    expect(verifyPusherChannelAuth(app, auth, socketId, "presence-room")).toBe(false);
  });

  it("mints user sign-in auth we accept", () => {
    const { auth, user_data } = sdk.authenticateUser(socketId, { id: "u-1", name: "Ada" });
    expect(verifyPusherUserAuth(app, auth, socketId, user_data)).toBe(true);
    expect(signPusherUserAuth(app, socketId, user_data)).toBe(auth);
  });
});
