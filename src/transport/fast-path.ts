import {
  createSourceEventStream,
  execute,
  getOperationAST,
  GraphQLError,
  Kind,
  visit,
  type DocumentNode,
  type FieldNode,
  type VariableNode,
  type GraphQLSchema,
} from "graphql";
import type { QueueSink, SubscriberQueue } from "../core/subscriber-queue.ts";
import type { ChannelEvent } from "../core/types.ts";
import { HeraldError } from "../errors.ts";
import { compileProjection, type Projection } from "./projection.ts";
import type { DocumentPolicy } from "./document-policy.ts";
import type { HeraldContext } from "../schema/context.ts";

/**
 * Delivery that does the work once per message, not once per subscriber.
 *
 * A `channel` subscription's payload depends only on the event and on the operation (document,
 * operation name, and the variables used below the root field): who may subscribe, tokens,
 * selectors and `excludeSocketId` decide *whether* a subscriber gets an event (the core filters
 * each subscriber's queue), never what the payload looks like — no ChannelEvent field reads the
 * context. So subscribers are grouped by operation: each event is executed once per group and
 * serialized once, and every member gets the same bytes with its own operation id spliced in.
 *
 * Anything else (other operations, invalid documents, connections not yet acknowledged) goes
 * the standard graphql-ws way.
 */
export interface FastPathOptions {
  schema: GraphQLSchema;
  maskError: (error: unknown) => Error;
  /** The bounds every document passes first (shared with Yoga); it also keeps the documents. */
  documents: DocumentPolicy;
}

/** The socket side of fast subscriptions: one per socket, shared by its subscriptions. */
export interface FastSubscriber {
  /** The context of its operations: who subscribes (no ChannelEvent field reads it). */
  readonly context: HeraldContext;
  send(data: string | Buffer): void;
  /** Sends `head` followed by `tail` as one message (a `next` frame: the subscriber's head, the group's bytes). */
  sendJoined(head: Buffer, tail: Buffer): void;
  /** `subscription` ended on the server's side (its stream completed, or it was refused). */
  ended(subscription: FastSubscription): void;
}

export interface FastSubscription {
  readonly id: string;
  /**
   * Resolves the source stream (authorization, validation of arguments, engine subscribe) and
   * starts sending; resolves once started. Rejects only on an unexpected failure.
   */
  start(variables: Record<string, unknown> | undefined): Promise<void>;
  /** Ends the subscription (a client `complete`, or the socket closing); also while starting. */
  stop(): void;
}

export interface FastPath {
  /** The analysed operation, or undefined when this subscribe must go the standard way. */
  analyse(query: string, operationName: string | null | undefined): FastOperation | undefined;
  /** A fast subscription of `subscriber`, to `start`; every payload goes to `subscriber.send`. */
  subscription(operation: FastOperation, id: string, subscriber: FastSubscriber): FastSubscription;
}

export interface FastOperation {
  readonly document: DocumentNode;
  readonly operationName: string | undefined;
  /** Builds the result directly when the selection is plain (projection.ts); else execute. */
  readonly projection: Projection | undefined;
  /**
   * The variables a payload can depend on: those used below the root field or in its
   * directives. The root field's arguments (channel, token, auth, selector, since) only choose
   * what is subscribed to, so subscribers differing only there (every private or presence
   * subscriber has its own `auth` or `token`) share a group. None for a projection.
   */
  readonly payloadVariables: readonly string[];
  /** Live groups of this operation by the values of its payload variables (JSON). */
  readonly groups: Map<string, FastGroup>;
}

/**
 * Subscribers whose payloads are identical: same operation, same payload variables. One object
 * per group rather than a key string per subscriber; it lives while it has members.
 */
export interface FastGroup {
  readonly operation: FastOperation;
  readonly key: string;
  readonly variables: Record<string, unknown> | undefined;
  members: number;
}

export function createFastPath({ schema, maskError, documents }: FastPathOptions): FastPath {
  /**
   * Analyses by document and operation name. The policy hands out the same document object for
   * the same text while it caches it, so this lives as long as the policy keeps the document.
   */
  const analysed = new WeakMap<DocumentNode, Map<string, FastOperation | null>>();
  /**
   * event → group → the UTF-8 bytes of `<ExecutionResult JSON>}`: the once-per-message work.
   * A subscriber's frame is its own `{"id":…,"type":"next","payload":` bytes followed by these.
   */
  const rendered = new WeakMap<object, Map<FastGroup, Buffer>>();

  function analyse(query: string, operationName: string | null | undefined): FastOperation | undefined {
    const document = documents.validDocument(query);
    if (!document) return undefined; // over a bound, not parsing or not valid: graphql-ws's path says so
    let byName = analysed.get(document);
    if (!byName) analysed.set(document, (byName = new Map()));
    const key = operationName ?? "";
    let operation = byName.get(key);
    if (operation === undefined) byName.set(key, (operation = analyseDocument(document, operationName ?? undefined)));
    return operation ?? undefined;
  }

  function analyseDocument(document: DocumentNode, operationName: string | undefined): FastOperation | null {
    const operation = getOperationAST(document, operationName);
    if (!operation || operation.operation !== "subscription") return null;
    const [field, ...more] = operation.selectionSet.selections;
    if (!field || more.length > 0 || field.kind !== Kind.FIELD || field.name.value !== "channel") return null;
    const projection = compileProjection(operation);
    return { document, operationName, projection, payloadVariables: projection ? [] : payloadVariablesOf(document, field), groups: new Map() };
  }

  function joinGroup(operation: FastOperation, variables: Record<string, unknown> | undefined): FastGroup {
    const names = operation.payloadVariables;
    const key = names.length === 0 ? "" : JSON.stringify(names.map((name) => variables?.[name] ?? null));
    let group = operation.groups.get(key);
    if (!group) operation.groups.set(key, (group = { operation, key, variables, members: 0 }));
    group.members++;
    return group;
  }

  function leaveGroup(group: FastGroup) {
    if (--group.members > 0) return;
    // An evicted-and-reanalysed operation has a new map: only remove what is still ours.
    if (group.operation.groups.get(group.key) === group) group.operation.groups.delete(group.key);
  }

  /** The bytes after a subscriber's head for `event`: executed and serialized once per group. */
  function render(group: FastGroup, event: ChannelEvent, contextValue: HeraldContext): Buffer {
    let byGroup = rendered.get(event);
    if (!byGroup) rendered.set(event, (byGroup = new Map()));
    let tail = byGroup.get(group);
    if (tail === undefined) {
      const projection = group.operation.projection;
      const result = projection ? projection(event) : execute({
        schema,
        document: group.operation.document,
        operationName: group.operation.operationName,
        variableValues: group.variables,
        rootValue: event,
        contextValue,
      });
      // ChannelEvent's resolvers are synchronous, so execution is too.
      if (result instanceof Promise) throw new Error("fast path: execution must be synchronous");
      const json = JSON.stringify(result.errors ? { ...result, errors: result.errors.map((e) => maskError(e)) } : result);
      tail = Buffer.from(json + "}");
      byGroup.set(group, tail);
    }
    return tail;
  }

  function errorPayload(error: unknown): string {
    return JSON.stringify({ errors: [maskError(error)], data: null });
  }

  const head = (id: string) => `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  const complete = (id: string) => `{"id":${JSON.stringify(id)},"type":"complete"}`;

  /**
   * One fast subscription, and the sink of its queue. It lives as long as its client stays
   * subscribed, so it is a class (methods shared, not closures per subscription) holding only
   * its id, its head bytes, its group and its socket side.
   */
  class Subscription implements FastSubscription, QueueSink<ChannelEvent> {
    readonly #operation: FastOperation;
    readonly #subscriber: FastSubscriber;
    /** `{"id":…,"type":"next","payload":` in UTF-8: what differs between the members of a group. */
    readonly #head: Buffer;
    #group: FastGroup | undefined = undefined;
    #source: SubscriberQueue<ChannelEvent> | undefined = undefined;
    /** Set by `stop()` and at the end: nothing more is sent. */
    #stopped = false;

    constructor(
      operation: FastOperation,
      readonly id: string,
      subscriber: FastSubscriber,
    ) {
      this.#operation = operation;
      this.#subscriber = subscriber;
      this.#head = Buffer.from(head(id));
    }

    async start(variables: Record<string, unknown> | undefined) {
      const source = await createSourceEventStream({
        schema,
        document: this.#operation.document,
        operationName: this.#operation.operationName,
        variableValues: variables,
        contextValue: this.#subscriber.context,
      });
      if (!isSubscriberQueue(source)) {
        // The subscribe resolver refused (FORBIDDEN, INVALID_CHANNEL_NAME, …) or the arguments
        // were invalid: as graphql-ws does, one `next` with the errors, then `complete` — unless
        // the client completed it meanwhile (then nothing more is sent for its id).
        if (this.#stopped) return this.#subscriber.ended(this);
        const errors = "errors" in source && source.errors ? source.errors.map((e) => maskError(e)) : [];
        this.#subscriber.send(head(this.id) + JSON.stringify({ errors }) + "}");
        this.#subscriber.send(complete(this.id));
        this.#subscriber.ended(this);
        return;
      }
      if (this.#stopped) {
        // The client completed (or the socket closed) while the subscription was starting.
        void source.return();
        return;
      }
      this.#source = source;
      this.#group = joinGroup(this.#operation, variables);
      source.attach(this);
    }

    stop() {
      if (this.#stopped) return;
      this.#stopped = true;
      void this.#source?.return();
    }

    next(item: ChannelEvent | HeraldError) {
      if (this.#stopped) return;
      if (item instanceof HeraldError) {
        this.#subscriber.send(head(this.id) + errorPayload(new GraphQLError(item.message, { originalError: item })) + "}");
        return;
      }
      const tail = render(this.#group!, item, this.#subscriber.context);
      this.#subscriber.sendJoined(this.#head, tail);
    }

    end() {
      if (!this.#stopped) this.#subscriber.send(complete(this.id));
      this.#stopped = true;
      leaveGroup(this.#group!);
      this.#subscriber.ended(this);
    }
  }

  return {
    analyse,
    subscription: (operation, id, subscriber) => new Subscription(operation, id, subscriber),
  };
}

/** Variables used anywhere in `document` except in the root field's arguments (and their definitions). */
function payloadVariablesOf(document: DocumentNode, root: FieldNode): string[] {
  const names = new Set<string>();
  const collect = { Variable: (node: VariableNode) => void names.add(node.name.value) };
  visit(document, {
    ...collect,
    VariableDefinition: () => false,
    Field(node) {
      if (node !== root) return undefined;
      for (const directive of node.directives ?? []) visit(directive, collect);
      if (node.selectionSet) visit(node.selectionSet, collect);
      return false;
    },
  });
  return [...names].sort();
}

function isSubscriberQueue(value: unknown): value is SubscriberQueue<ChannelEvent> {
  return typeof value === "object" && value !== null && typeof (value as { attach?: unknown }).attach === "function";
}
