import type { HttpResponseFormat, HttpStreamFormat, MessageFormats, WsMessageFormat } from "../engine/types.ts";
import { base64Of, textOf } from "../core/formats.ts";
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
