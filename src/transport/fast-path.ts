import {
  createSourceEventStream,
  execute,
  getOperationAST,
  GraphQLError,
  Kind,
  parse,
  validate,
  type DocumentNode,
  type GraphQLSchema,
} from "graphql";
import type { SubscriberQueue } from "../core/subscriber-queue.ts";
import type { ChannelEvent } from "../core/types.ts";
import { HeraldError } from "../errors.ts";
import type { HeraldContext } from "../schema/context.ts";

/**
 * Delivery that does the work once per message, not once per subscriber.
 *
 * A `channel` subscription's payload depends only on the event and on the operation (document,
 * operation name, variables): who may subscribe, selectors and `excludeSocketId` decide *whether*
 * a subscriber gets an event (the core filters each subscriber's queue), never what the payload
 * looks like — no ChannelEvent field reads the context. So subscribers are grouped by
 * operation: each event is executed once per group and serialized once, and every member gets
 * the same bytes with its own operation id spliced in.
 *
 * Anything else (other operations, invalid documents, connections not yet acknowledged) goes
 * the standard graphql-ws way.
 */
export interface FastPathOptions {
  schema: GraphQLSchema;
  maskError: (error: unknown) => Error;
  /** Documents analysed and kept (by query text). */
  maxCachedDocuments?: number;
}

export interface FastSubscription {
  /** Ends the subscription (a client `complete`, or the socket closing). */
  stop(): void;
}

export interface FastPath {
  /** The analysed operation, or undefined when this subscribe must go the standard way. */
  analyse(query: string, operationName: string | null | undefined): FastOperation | undefined;
  /**
   * Starts a fast subscription: resolves the source stream (authorization, validation of
   * arguments, engine subscribe) and attaches the sink; every payload goes to `send`.
   * Resolves once started; `onEnd` runs when it ends for any reason.
   */
  start(
    operation: FastOperation,
    id: string,
    variables: Record<string, unknown> | null | undefined,
    contextValue: HeraldContext,
    send: (data: string | Buffer) => void,
    onEnd: () => void,
  ): Promise<FastSubscription>;
}

export interface FastOperation {
  readonly document: DocumentNode;
  readonly operationName: string | undefined;
  readonly query: string;
}

export function createFastPath({ schema, maskError, maxCachedDocuments = 1_000 }: FastPathOptions): FastPath {
  const documents = new Map<string, FastOperation | null>();
  /**
   * event → group → the UTF-8 bytes of `<ExecutionResult JSON>}`: the once-per-message work.
   * A subscriber's frame is its own `{"id":…,"type":"next","payload":` bytes followed by these.
   */
  const rendered = new WeakMap<object, Map<string, Buffer>>();

  function analyse(query: string, operationName: string | null | undefined): FastOperation | undefined {
    const key = `${operationName ?? ""}\0${query}`;
    let operation = documents.get(key);
    if (operation === undefined) {
      operation = analyseUncached(query, operationName ?? undefined);
      if (documents.size >= maxCachedDocuments) documents.delete(documents.keys().next().value!);
      documents.set(key, operation);
    }
    return operation ?? undefined;
  }

  function analyseUncached(query: string, operationName: string | undefined): FastOperation | null {
    let document: DocumentNode;
    try {
      document = parse(query);
    } catch {
      return null;
    }
    if (validate(schema, document).length > 0) return null;
    const operation = getOperationAST(document, operationName);
    if (!operation || operation.operation !== "subscription") return null;
    const [field, ...more] = operation.selectionSet.selections;
    if (!field || more.length > 0 || field.kind !== Kind.FIELD || field.name.value !== "channel") return null;
    return { document, operationName, query };
  }

  function errorPayload(error: unknown): string {
    return JSON.stringify({ errors: [maskError(error)], data: null });
  }

  return {
    analyse,
    async start(operation, id, variables, contextValue, send, onEnd) {
      const head = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
      const headBytes = Buffer.from(head);
      const complete = `{"id":${JSON.stringify(id)},"type":"complete"}`;
      const source = await createSourceEventStream({
        schema,
        document: operation.document,
        operationName: operation.operationName,
        variableValues: variables ?? undefined,
        contextValue,
      });
      if (!isSubscriberQueue(source)) {
        // The subscribe resolver refused (FORBIDDEN, INVALID_CHANNEL_NAME, …) or the arguments
        // were invalid: as graphql-ws does, one `next` with the errors, then `complete`.
        const errors = "errors" in source && source.errors ? source.errors.map((e) => maskError(e)) : [];
        send(head + JSON.stringify({ errors }) + "}");
        send(complete);
        onEnd();
        return { stop() {} };
      }
      const group = `${operation.operationName ?? ""}\0${operation.query}\0${JSON.stringify(variables ?? {})}`;
      const render = (event: ChannelEvent): Buffer => {
        let byGroup = rendered.get(event);
        if (!byGroup) rendered.set(event, (byGroup = new Map()));
        let tail = byGroup.get(group);
        if (tail === undefined) {
          const result = execute({
            schema,
            document: operation.document,
            operationName: operation.operationName,
            variableValues: variables ?? undefined,
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
      };
      let stopped = false;
      source.attach({
        next(item) {
          if (stopped) return;
          if (item instanceof HeraldError) send(head + errorPayload(new GraphQLError(item.message, { originalError: item })) + "}");
          else {
            const tail = render(item);
            send(Buffer.concat([headBytes, tail], headBytes.length + tail.length));
          }
        },
        end() {
          if (!stopped) send(complete);
          stopped = true;
          onEnd();
        },
      });
      return {
        stop() {
          if (stopped) return;
          stopped = true;
          source.return();
        },
      };
    },
  };
}

function isSubscriberQueue(value: unknown): value is SubscriberQueue<ChannelEvent> {
  return typeof value === "object" && value !== null && typeof (value as { attach?: unknown }).attach === "function";
}
