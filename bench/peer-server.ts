/**
 * The peer server: what a GraphQL subscription server built the standard way does with the same
 * contract. graphql-yoga + graphql-ws `useServer` (Yoga's documented recipe) +
 * graphql-redis-subscriptions `RedisPubSub`, and a small schema with Herald's `publish`
 * mutation and `channel` subscription shape. Every event is executed once per subscriber, as
 * graphql-js does for any subscription.
 *
 * It has no `SUBSCRIBED` event (RedisPubSub subscribes lazily), so the load generator probes it.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { GraphQLScalarType, valueFromASTUntyped, type ExecutionArgs } from "graphql";
import { RedisPubSub } from "graphql-redis-subscriptions";
import { useServer } from "graphql-ws/use/ws";
import { createSchema, createYoga } from "graphql-yoga";
import { Redis } from "ioredis";
import { WebSocketServer } from "ws";
import { answerHealth, readReferenceServerEnv, serveUntilStopped } from "./lib/reference-server.ts";

const env = readReferenceServerEnv();
const topicOf = (channel: string) => `${env.redisPrefix}${channel}`;

const publisher = new Redis(env.redisUrl);
const subscriber = new Redis(env.redisUrl);
const pubsub = new RedisPubSub({ publisher, subscriber });

const JSONScalar = new GraphQLScalarType({
  name: "JSON",
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});

interface PublishInput {
  channels: string[];
  event: string;
  data?: unknown;
}

const schema = createSchema({
  typeDefs: /* GraphQL */ `
    scalar JSON
    enum ChannelEventKind {
      MESSAGE
      SUBSCRIBED
    }
    type ChannelEvent {
      kind: ChannelEventKind!
      id: ID
      channel: String!
      event: String!
      data: JSON
      publishedAt: String
    }
    input PublishInput {
      channels: [String!]!
      event: String = "message"
      data: JSON
    }
    type PublishResult {
      id: ID!
      publishedAt: String!
    }
    type Query {
      ok: Boolean!
    }
    type Mutation {
      publish(input: PublishInput!): PublishResult!
    }
    type Subscription {
      channel(name: String!): ChannelEvent!
    }
  `,
  resolvers: {
    JSON: JSONScalar,
    Query: { ok: () => true },
    Mutation: {
      async publish(_root: unknown, { input }: { input: PublishInput }) {
        const id = randomUUID();
        const publishedAt = new Date().toISOString();
        await Promise.all(
          input.channels.map((channel) =>
            pubsub.publish(topicOf(channel), { kind: "MESSAGE", id, channel, event: input.event, data: input.data, publishedAt }),
          ),
        );
        return { id, publishedAt };
      },
    },
    Subscription: {
      channel: {
        subscribe: (_root: unknown, { name }: { name: string }) => pubsub.asyncIterator(topicOf(name)),
        resolve: (event: unknown) => event,
      },
    },
  },
});

const yoga = createYoga({ schema, graphqlEndpoint: "/graphql", logging: "warn", graphiql: false });

const server = createServer((req, res) => {
  if (answerHealth(req, res, [publisher, subscriber])) return;
  void yoga(req, res);
});

// Yoga's recipe for graphql-ws: parse, validate and execute through Yoga's envelop.
interface EnvelopedRoot {
  execute(args: ExecutionArgs): unknown;
  subscribe(args: ExecutionArgs): unknown;
}
const wss = new WebSocketServer({ server, path: "/graphql" });
useServer(
  {
    execute: (args: ExecutionArgs) => (args.rootValue as EnvelopedRoot).execute(args) as never,
    subscribe: (args: ExecutionArgs) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
    onConnect: (ctx) => ctx.connectionParams?.key === env.appKey,
    onSubscribe: async (ctx, _id, params) => {
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
        ...ctx,
        req: ctx.extra.request,
        socket: ctx.extra.socket,
        params,
      });
      const args: ExecutionArgs = {
        schema,
        operationName: params.operationName,
        document: parse(params.query),
        variableValues: params.variables,
        contextValue: await contextFactory(),
        rootValue: { execute, subscribe } satisfies EnvelopedRoot,
      };
      const errors = validate(args.schema, args.document);
      if (errors.length) return errors;
      return args;
    },
  },
  wss,
);

serveUntilStopped(server, env.port, () => {
  publisher.disconnect();
  subscriber.disconnect();
});
