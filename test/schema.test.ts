import { readFileSync } from "node:fs";
import { printSchema } from "graphql";
import { describe, expect, it } from "vitest";
import { printHeraldSchema } from "../src/schema/index.ts";

describe("schema/schema.graphql", () => {
  it("is the SDL printed from the Pothos schema (run `npm run schema` after changing a type)", () => {
    const committed = readFileSync(new URL("../schema/schema.graphql", import.meta.url), "utf8");
    expect(committed).toBe(printHeraldSchema(printSchema));
  });

  it("has the contract's operations", () => {
    const sdl = printHeraldSchema(printSchema);
    for (const field of ["publish(input: PublishInput!): PublishResult!", "triggerBatch(events: [PublishInput!]!): BatchResult!", "channel(name: String!): Channel!", "messageStatus(id: ID!)"]) {
      expect(sdl).toContain(field);
    }
    const subscription = /type Subscription \{[\s\S]*?\n\}/.exec(sdl)![0];
    expect(subscription).toMatch(/channel\([\s\S]*name: String![\s\S]*\): ChannelEvent!/);
    for (const arg of ["selector: String", "token: String", "auth: String", "channelData: String"]) expect(subscription).toContain(arg);
  });
});
