import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import Pusher from "pusher";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, HeraldError } from "../src/errors.ts";
import {
  pusherStringToSign,
  signPusherRequest,
  verifyPusherRequest,
  type SignatureApp,
  type SignedRequest,
} from "../src/rest/pusher/signature.ts";

// Worked example from Pusher's HTTP API reference
// (https://pusher.com/docs/channels/library_auth_reference/rest-api/#worked-authentication-example).
const app: SignatureApp = { id: "3", key: "278d425bdf160c739803", secret: "7ad3773142a6692b25b8" };
const vector = {
  method: "POST",
  path: "/apps/3/events",
  body: '{"name":"foo","channels":["project-3"],"data":"{\\"some\\":\\"data\\"}"}',
  bodyMd5: "ec365a775a4cd0599faeb73354201b6f",
  authTimestamp: "1353088179",
  stringToSign:
    "POST\n/apps/3/events\nauth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f",
  authSignature: "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c",
};

const findApp = (key: string) => (key === app.key ? app : undefined);
const options = { maxClockSkewSeconds: 600, now: () => Number(vector.authTimestamp) * 1000 };

/** The vector request, with `change` applied to its query before it is handed over. */
function vectorRequest(change: (query: URLSearchParams) => void = () => {}, body = vector.body): SignedRequest {
  const query = new URLSearchParams({
    auth_key: app.key,
    auth_timestamp: vector.authTimestamp,
    auth_version: "1.0",
    body_md5: vector.bodyMd5,
    auth_signature: vector.authSignature,
  });
  change(query);
  return { method: vector.method, path: vector.path, query, rawBody: Buffer.from(body) };
}

/** A request signed with `secret` after `params` are set: the way to build a validly signed variant. */
function signedRequest(params: Record<string, string>, body = "", secret = app.secret, method = "GET"): SignedRequest {
  const path = "/apps/3/channels";
  const query = new URLSearchParams({ auth_key: app.key, auth_timestamp: vector.authTimestamp, ...params });
  query.set("auth_signature", signPusherRequest(secret, method, path, query));
  return { method, path, query, rawBody: Buffer.from(body) };
}

function rejection(req: SignedRequest, opts = options): HeraldError {
  try {
    verifyPusherRequest(req, findApp, opts);
  } catch (error) {
    expect(error).toBeInstanceOf(HeraldError);
    expect((error as HeraldError).code).toBe(ErrorCode.Unauthenticated);
    return error as HeraldError;
  }
  throw new Error("expected the request to be rejected");
}

describe("Pusher docs vector", () => {
  it("builds the exact string to sign and signature", () => {
    const { query, method, path } = vectorRequest();
    expect(pusherStringToSign(method, path, query)).toBe(vector.stringToSign);
    expect(signPusherRequest(app.secret, method, path, query)).toBe(vector.authSignature);
  });

  it("verifies, returning the app", () => {
    expect(verifyPusherRequest(vectorRequest(), findApp, options)).toBe(app);
  });

  it("lower-cases and sorts keys, keeps decoded values as they are", () => {
    const query = new URLSearchParams("b=2&A=1&info=user_count,subscription_count&x=a%20b&auth_signature=zz");
    expect(pusherStringToSign("get", "/p", query)).toBe(
      "GET\n/p\na=1&b=2&info=user_count,subscription_count&x=a b",
    );
  });
});

describe("requests signed by the official pusher SDK", () => {
  const captured: SignedRequest[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? "/", "http://localhost");
    captured.push({ method: req.method ?? "", path: url.pathname, query: url.searchParams, rawBody: Buffer.concat(chunks) });
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
  let sdk: Pusher;
  const sdkApp: SignatureApp = { id: "1234", key: "sdk-key", secret: "sdk-secret" };
  const findSdkApp = (key: string) => (key === sdkApp.key ? sdkApp : undefined);

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    sdk = new Pusher({ appId: sdkApp.id, key: sdkApp.key, secret: sdkApp.secret, host: "127.0.0.1", port: String(port), useTLS: false });
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("trigger (POST with a JSON body)", async () => {
    captured.length = 0;
    await sdk.trigger("my-channel", "my-event", { hello: "world" });
    const [req] = captured;
    expect(req?.method).toBe("POST");
    expect(req?.path).toBe("/apps/1234/events");
    expect(req?.rawBody.length).toBeGreaterThan(0);
    expect(verifyPusherRequest(req!, findSdkApp, { maxClockSkewSeconds: 600 })).toBe(sdkApp);
    // The same bytes with one changed no longer pass.
    const tampered = { ...req!, rawBody: Buffer.from(req!.rawBody.toString().replace("world", "World")) };
    expect(() => verifyPusherRequest(tampered, findSdkApp, { maxClockSkewSeconds: 600 })).toThrow(
      "body_md5 does not match the request body",
    );
  });

  it("get (GET with query params, no body)", async () => {
    captured.length = 0;
    await sdk.get({ path: "/channels", params: { filter_by_prefix: "presence-", info: "user_count" } });
    const [req] = captured;
    expect(req?.method).toBe("GET");
    expect(req?.path).toBe("/apps/1234/channels");
    expect(req?.query.get("filter_by_prefix")).toBe("presence-");
    expect(req?.rawBody.length).toBe(0);
    expect(verifyPusherRequest(req!, findSdkApp, { maxClockSkewSeconds: 600 })).toBe(sdkApp);
  });
});

describe("verifyPusherRequest rejects", () => {
  it.each(["auth_key", "auth_timestamp", "auth_signature"])("a missing %s", (name) => {
    expect(rejection(vectorRequest((q) => q.delete(name))).message).toBe(`Missing ${name}`);
  });

  it("an empty auth_key", () => {
    expect(rejection(vectorRequest((q) => q.set("auth_key", ""))).message).toBe("Missing auth_key");
  });

  it("an auth_version other than 1.0", () => {
    expect(rejection(vectorRequest((q) => q.set("auth_version", "2.0"))).message).toBe(
      'Unsupported auth_version: "2.0" (only 1.0 is supported)',
    );
  });

  it("an unknown key", () => {
    expect(rejection(vectorRequest((q) => q.set("auth_key", "someone-else"))).message).toBe("Unknown auth_key");
  });

  it("a timestamp that is not an integer", () => {
    expect(rejection(vectorRequest((q) => q.set("auth_timestamp", "1353088179.5"))).message).toBe(
      'Invalid auth_timestamp: "1353088179.5" is not a number of seconds',
    );
  });

  it("a timestamp 601 s old, while 600 s is still fine", () => {
    const at = (seconds: number) => ({ ...options, now: () => (Number(vector.authTimestamp) + seconds) * 1000 });
    expect(verifyPusherRequest(vectorRequest(), findApp, at(600))).toBe(app);
    expect(rejection(vectorRequest(), at(601)).message).toBe(
      "Timestamp expired: Given timestamp (1353088179) not within 600s of server time (1353088780)",
    );
  });

  it("a timestamp 601 s in the future, while 600 s is still fine", () => {
    const at = (seconds: number) => ({ ...options, now: () => (Number(vector.authTimestamp) + seconds) * 1000 });
    expect(verifyPusherRequest(vectorRequest(), findApp, at(-600))).toBe(app);
    expect(rejection(vectorRequest(), at(-601)).message).toBe(
      "Timestamp expired: Given timestamp (1353088179) not within 600s of server time (1353087578)",
    );
  });

  it("a body without body_md5", () => {
    expect(rejection(vectorRequest((q) => q.delete("body_md5"))).message).toBe("Missing body_md5");
  });

  it("a tampered body", () => {
    const req = vectorRequest(undefined, vector.body.replace("project-3", "project-4"));
    expect(rejection(req).message).toBe("body_md5 does not match the request body");
  });

  it("a wrong body_md5", () => {
    const req = vectorRequest((q) => q.set("body_md5", "0".repeat(32)));
    expect(rejection(req).message).toBe("body_md5 does not match the request body");
  });

  it("a body_md5 that does not match an empty body", () => {
    const req = signedRequest({ auth_version: "1.0", body_md5: vector.bodyMd5 });
    expect(rejection(req).message).toBe("body_md5 does not match the request body");
    // ... while the MD5 of nothing is accepted.
    const empty = signedRequest({ auth_version: "1.0", body_md5: "d41d8cd98f00b204e9800998ecf8427e" });
    expect(verifyPusherRequest(empty, findApp, options)).toBe(app);
  });

  it("a tampered query parameter", () => {
    const req = signedRequest({ auth_version: "1.0", filter_by_prefix: "presence-" });
    expect(verifyPusherRequest(req, findApp, options)).toBe(app);
    req.query.set("filter_by_prefix", "private-");
    const expected = pusherStringToSign(req.method, req.path, req.query);
    expect(rejection(req).message).toBe(
      `Invalid signature: you should have sent HmacSHA256Hex(${JSON.stringify(expected)}, your_secret_key), but you sent ${JSON.stringify(req.query.get("auth_signature"))}`,
    );
  });

  it("a signature made with the wrong secret", () => {
    const req = signedRequest({ auth_version: "1.0" }, "", "wrong-secret");
    expect(rejection(req).message).toMatch(/^Invalid signature: you should have sent HmacSHA256Hex\(/);
  });

  it("a signature for another method or path", () => {
    const req = vectorRequest();
    expect(rejection({ ...req, method: "PUT" }).message).toMatch(/^Invalid signature/);
    expect(rejection({ ...req, path: "/apps/4/events" }).message).toMatch(/^Invalid signature/);
  });

  it.each(["", "da45", "not-hex", `${vector.authSignature}00`])("a malformed signature %j without crashing", (sig) => {
    const req = vectorRequest((q) => q.set("auth_signature", sig));
    expect(rejection(req).message).toMatch(sig === "" ? /^Missing auth_signature$/ : /^Invalid signature/);
  });
});
