import { lexicographicSortSchema, type GraphQLSchema } from "graphql";
import { builder } from "./builder.ts";
import "./scalars.ts";
import "./presence.ts";
import "./channel.ts";
import "./channel-event.ts";
import "./publish.ts";
import "./message-status.ts";
import "./schedule.ts";
import "./queue.ts";
import "./watch.ts";
import "./activity.ts";

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

/** The Herald GraphQL schema (built once; the builder is the only module-level state). */
export const schema: GraphQLSchema = builder.toSchema();

/** SDL as written to `schema/schema.graphql`. */
export function printHeraldSchema(print: (schema: GraphQLSchema) => string): string {
  return print(lexicographicSortSchema(schema)) + "\n";
}
