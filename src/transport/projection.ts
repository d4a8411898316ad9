import { Kind, type ExecutionResult, type OperationDefinitionNode, type SelectionSetNode } from "graphql";
import { base64Of, textOf } from "../core/formats.ts";
import type { ChannelEvent } from "../core/types.ts";
import type { HttpResponseFormat, HttpStreamFormat, MessageFormats, WsMessageFormat } from "../engine/types.ts";

/**
 * A direct serializer for the common `channel` subscription: plain fields of ChannelEvent (and
 * of its `member` and `formats` objects), aliases allowed; no arguments, directives or fragments
 * below the root field. For such a selection the result of executing it is known without running
 * graphql-js, and building it directly costs a fraction of `execute` — which the fast path pays
 * once per message per operation. Anything else returns undefined and is executed. A test
 * compares both on every field and kind of event, so the two cannot drift apart silently.
 */
export type Projection = (event: ChannelEvent) => ExecutionResult;

type Read<T> = (value: T) => unknown;

/** An object field: how to reach the object (null: the field is null), and its own fields. */
interface Nested<T, C> {
  readonly object: (value: T) => C | null | undefined;
  readonly fields: Fields<C>;
}

type Fields<T> = Readonly<Record<string, Read<T> | Nested<T, any>>>;

const nested = <T, C>(object: (value: T) => C | null | undefined, fields: Fields<C>): Nested<T, C> => ({ object, fields });

const dateTime = (value: unknown) => (value == null ? null : new Date(value as string).toISOString());
/** GripAction's enum names, as graphql-js serializes the internal values. */
const action = (value: string) => value.toUpperCase();

const MEMBER_FIELDS: Fields<{ userId: unknown; info?: unknown }> = {
  __typename: () => "Member",
  userId: (m) => String(m.userId),
  info: (m) => m.info ?? null,
};

const HTTP_RESPONSE_FIELDS: Fields<HttpResponseFormat> = {
  __typename: () => "HttpResponseFormat",
  code: (f) => f.code,
  reason: (f) => f.reason ?? null,
  headers: (f) => f.headers,
  body: (f) => textOf(f.body, f.bodyBin),
  bodyBase64: (f) => base64Of(f.body, f.bodyBin),
};

const HTTP_STREAM_FIELDS: Fields<HttpStreamFormat> = {
  __typename: () => "HttpStreamFormat",
  content: (f) => textOf(f.content, f.contentBin),
  contentBase64: (f) => base64Of(f.content, f.contentBin),
  action: (f) => action(f.action),
};

const WS_MESSAGE_FIELDS: Fields<WsMessageFormat> = {
  __typename: () => "WsMessageFormat",
  content: (f) => textOf(f.content, f.contentBin),
  contentBase64: (f) => base64Of(f.content, f.contentBin),
  action: (f) => action(f.action),
  code: (f) => f.code ?? null,
};

const FORMATS_FIELDS: Fields<MessageFormats> = {
  __typename: () => "MessageFormats",
  httpResponse: nested((f: MessageFormats) => f.httpResponse, HTTP_RESPONSE_FIELDS),
  httpStream: nested((f: MessageFormats) => f.httpStream, HTTP_STREAM_FIELDS),
  wsMessage: nested((f: MessageFormats) => f.wsMessage, WS_MESSAGE_FIELDS),
};

const EVENT_FIELDS: Fields<ChannelEvent> = {
  __typename: () => "ChannelEvent",
  kind: (e) => e.kind,
  id: (e) => e.id ?? null,
  channel: (e) => e.channel,
  event: (e) => e.event,
  data: (e) => e.data ?? null,
  headers: (e) => e.headers,
  publisherId: (e) => e.publisherId ?? null,
  priority: (e) => e.priority ?? null,
  mimeType: (e) => e.mimeType ?? null,
  expiresAt: (e) => dateTime(e.expiresAt),
  publishedAt: (e) => dateTime(e.publishedAt),
  offset: (e) => e.offset ?? null,
  epoch: (e) => e.epoch ?? null,
  recovered: (e) => e.recovered ?? null,
  prevId: (e) => e.prevId ?? null,
  member: nested(
    (e: ChannelEvent) => (e.kind === "MEMBER_ADDED" || e.kind === "MEMBER_REMOVED" ? (e.data as { userId: unknown }) : null),
    MEMBER_FIELDS,
  ),
  formats: nested((e: ChannelEvent) => e.formats, FORMATS_FIELDS),
};

export function compileProjection(operation: OperationDefinitionNode): Projection | undefined {
  const [root] = operation.selectionSet.selections;
  if (!root || root.kind !== Kind.FIELD || root.directives?.length || !root.selectionSet) return undefined;
  const event = compileSelection(root.selectionSet, EVENT_FIELDS);
  if (!event) return undefined;
  const name = root.alias?.value ?? root.name.value;
  return (e) => ({ data: { [name]: event(e) } });
}

function compileSelection<T>(selectionSet: SelectionSetNode, fields: Fields<T>): ((value: T) => Record<string, unknown>) | undefined {
  const readers: [string, Read<T>][] = [];
  const keys = new Set<string>();
  for (const selection of selectionSet.selections) {
    if (selection.kind !== Kind.FIELD || selection.directives?.length || selection.arguments?.length) return undefined;
    const field = Object.hasOwn(fields, selection.name.value) ? fields[selection.name.value] : undefined;
    if (!field) return undefined;
    let read: Read<T>;
    if (typeof field === "function") {
      if (selection.selectionSet) return undefined;
      read = field;
    } else {
      if (!selection.selectionSet) return undefined;
      const inner = compileSelection(selection.selectionSet, field.fields);
      if (!inner) return undefined;
      read = (value) => {
        const object = field.object(value);
        return object == null ? null : inner(object);
      };
    }
    const key = selection.alias?.value ?? selection.name.value;
    // graphql-js merges a repeated response key; leave that to it.
    if (keys.has(key)) return undefined;
    keys.add(key);
    readers.push([key, read]);
  }
  return (value) => {
    const out: Record<string, unknown> = {};
    for (const [key, read] of readers) out[key] = read(value);
    return out;
  };
}
