import type { HttpResponseFormat, HttpStreamFormat, MessageFormats, WsMessageFormat } from "../engine/types.ts";
import { base64Of, textOf, type FormatsInput } from "../core/formats.ts";
import { builder } from "./builder.ts";

/** GRIP formats of a message (Fanout / Pushpin items), as subscribers read them. */

export const GripActionRef = builder.enumType("GripAction", {
  description: "What a GRIP format asks of the connection it reaches.",
  values: {
    SEND: { value: "send", description: "Deliver the content." },
    CLOSE: { value: "close", description: "End the stream, or close the WebSocket (with `code`)." },
    HINT: { value: "hint", description: "http-stream only: content is available elsewhere (Herald's GRIP stream ignores it)." },
  } as const,
});

const HttpResponseFormatRef = builder.objectRef<HttpResponseFormat>("HttpResponseFormat").implement({
  description: "GRIP `http-response`: the answer a long-polling client gets.",
  fields: (t) => ({
    code: t.exposeInt("code", { description: "HTTP status (200 when the item gave none)." }),
    reason: t.exposeString("reason", { nullable: true, description: "Reason phrase, when the item gave one." }),
    headers: t.expose("headers", { type: "JSON", description: "String → string map." }),
    body: t.string({ nullable: true, description: "The body as text; null when it is bytes that are not UTF-8.", resolve: (f) => textOf(f.body, f.bodyBin) }),
    bodyBase64: t.string({ description: "The body's exact bytes, base64.", resolve: (f) => base64Of(f.body, f.bodyBin) }),
  }),
});

const HttpStreamFormatRef = builder.objectRef<HttpStreamFormat>("HttpStreamFormat").implement({
  description: "GRIP `http-stream`: content written to streaming HTTP clients.",
  fields: (t) => ({
    content: t.string({ nullable: true, description: "The content as text; null when it is bytes that are not UTF-8.", resolve: (f) => textOf(f.content, f.contentBin) }),
    contentBase64: t.string({ description: "The content's exact bytes, base64.", resolve: (f) => base64Of(f.content, f.contentBin) }),
    action: t.field({ type: GripActionRef, resolve: (f) => f.action }),
  }),
});

const WsMessageFormatRef = builder.objectRef<WsMessageFormat>("WsMessageFormat").implement({
  description: "GRIP `ws-message`: a WebSocket message (text, or binary for `content-bin`).",
  fields: (t) => ({
    content: t.string({ nullable: true, description: "The content as text; null when it is bytes that are not UTF-8.", resolve: (f) => textOf(f.content, f.contentBin) }),
    contentBase64: t.string({ description: "The content's exact bytes, base64.", resolve: (f) => base64Of(f.content, f.contentBin) }),
    action: t.field({ type: GripActionRef, resolve: (f) => f.action }),
    code: t.exposeInt("code", { nullable: true, description: "Close code of `action: CLOSE`." }),
  }),
});

export const MessageFormatsRef = builder.objectRef<MessageFormats>("MessageFormats").implement({
  description: "The GRIP formats a message was published with; each is null when the item did not have it.",
  fields: (t) => ({
    httpResponse: t.expose("httpResponse", { type: HttpResponseFormatRef, nullable: true }),
    httpStream: t.expose("httpStream", { type: HttpStreamFormatRef, nullable: true }),
    wsMessage: t.expose("wsMessage", { type: WsMessageFormatRef, nullable: true }),
  }),
});

/** GRIP formats as a GraphQL publisher gives them (the GRIP route's `formats`, with camel-case names). */
const HttpResponseFormatInputRef = builder.inputType("HttpResponseFormatInput", {
  description: "GRIP `http-response`: the answer a long-polling client gets (`body` or `bodyBase64`).",
  fields: (t) => ({
    code: t.int({ description: "HTTP status; 200 when absent." }),
    reason: t.string(),
    headers: t.field({ type: "JSON", description: "String → string map." }),
    body: t.string(),
    bodyBase64: t.string({ description: "The body's bytes, base64 (GRIP `body-bin`)." }),
  }),
});

const HttpStreamFormatInputRef = builder.inputType("HttpStreamFormatInput", {
  description: "GRIP `http-stream`: content for streaming HTTP clients (`content` or `contentBase64`).",
  fields: (t) => ({
    content: t.string(),
    contentBase64: t.string({ description: "The content's bytes, base64 (GRIP `content-bin`)." }),
    action: t.field({ type: GripActionRef, description: "SEND (default), CLOSE or HINT." }),
  }),
});

const WsMessageFormatInputRef = builder.inputType("WsMessageFormatInput", {
  description: "GRIP `ws-message`: a WebSocket message (`content` or `contentBase64`).",
  fields: (t) => ({
    content: t.string(),
    contentBase64: t.string({ description: "The content's bytes, base64 (GRIP `content-bin`): a binary frame." }),
    action: t.field({ type: GripActionRef, description: "SEND (default) or CLOSE (CLOSE with `code`)." }),
    code: t.int({ description: "Close code of CLOSE." }),
  }),
});

export const MessageFormatsInputRef = builder.inputType("MessageFormatsInput", {
  description: "GRIP formats to publish with, as a Fanout / GRIP item carries them; without `data`, `data` is derived from them.",
  fields: (t) => ({
    httpResponse: t.field({ type: HttpResponseFormatInputRef }),
    httpStream: t.field({ type: HttpStreamFormatInputRef }),
    wsMessage: t.field({ type: WsMessageFormatInputRef }),
  }),
});

type FormatsArgument = Record<string, Record<string, unknown> | null | undefined>;

/** The core's formats input from GraphQL's: `*Base64` is the core's `*Bin`; nulls are absent. */
export function formatsInputOf(formats: FormatsArgument | null | undefined): FormatsInput | undefined {
  if (formats == null) return undefined;
  const renamed = (fields: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(fields)
        .filter(([, value]) => value != null)
        .map(([name, value]) => [name.replace(/Base64$/, "Bin"), value]),
    );
  return Object.fromEntries(Object.entries(formats).filter(([, fields]) => fields != null).map(([name, fields]) => [name, renamed(fields!)]));
}
