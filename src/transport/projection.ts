import { Kind, type ExecutionResult, type FieldNode, type OperationDefinitionNode, type SelectionSetNode } from "graphql";
import type { ChannelEvent } from "../core/types.ts";

/**
 * A direct serializer for the common `channel` subscription: plain fields of ChannelEvent (and
 * of its `member`), aliases allowed; no arguments, directives or fragments below the root field.
 * For such a selection the result of executing it is known without running graphql-js, and
 * building it directly costs a fraction of `execute` — which the fast path pays once per message
 * per operation. Anything else returns undefined and is executed. A test compares both on every
 * field and kind of event, so the two cannot drift apart silently.
 */
export type Projection = (event: ChannelEvent) => ExecutionResult;

type Read<T> = (value: T) => unknown;

const dateTime = (value: unknown) => (value == null ? null : new Date(value as string).toISOString());

const MEMBER_FIELDS: Record<string, Read<{ userId: unknown; info?: unknown }>> = {
  __typename: () => "Member",
  userId: (m) => String(m.userId),
  info: (m) => m.info ?? null,
};

const EVENT_FIELDS: Record<string, Read<ChannelEvent>> = {
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
};

export function compileProjection(operation: OperationDefinitionNode): Projection | undefined {
  const [root] = operation.selectionSet.selections;
  if (!root || root.kind !== Kind.FIELD || root.directives?.length || !root.selectionSet) return undefined;
  const event = compileSelection(root.selectionSet, EVENT_FIELDS, (field) => {
    if (field.name.value !== "member" || !field.selectionSet) return undefined;
    const member = compileSelection(field.selectionSet, MEMBER_FIELDS, () => undefined);
    if (!member) return undefined;
    return (e: ChannelEvent) => (e.kind === "MEMBER_ADDED" || e.kind === "MEMBER_REMOVED" ? member(e.data as { userId: unknown }) : null);
  });
  if (!event) return undefined;
  const name = root.alias?.value ?? root.name.value;
  return (e) => ({ data: { [name]: event(e) } });
}

function compileSelection<T>(
  selectionSet: SelectionSetNode,
  fields: Record<string, Read<T>>,
  nested: (field: FieldNode) => Read<T> | undefined,
): ((value: T) => Record<string, unknown>) | undefined {
  const readers: [string, Read<T>][] = [];
  const keys = new Set<string>();
  for (const selection of selectionSet.selections) {
    if (selection.kind !== Kind.FIELD || selection.directives?.length || selection.arguments?.length) return undefined;
    const read = selection.selectionSet ? nested(selection) : fields[selection.name.value];
    if (!read) return undefined;
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
