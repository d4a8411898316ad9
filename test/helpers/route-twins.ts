import { buildSchema, printSchema, type GraphQLObjectType } from "graphql";
import { expect } from "vitest";
import type { RestRoute } from "../../src/rest/router.ts";
import { printHeraldSchema } from "../../src/schema/index.ts";

/** Asserts that every GraphQL twin a REST route names is a root field of the printed schema. */
export function expectTwinsInSchema(routes: readonly RestRoute[]): void {
  const schema = buildSchema(printHeraldSchema(printSchema));
  for (const { method, path, twins } of routes) {
    for (const twin of twins) {
      const [typeName, field] = twin.split(".") as [string, string];
      const type = schema.getType(typeName) as GraphQLObjectType | undefined;
      expect(type?.getFields()[field], `${method} ${path} → ${twin}`).toBeDefined();
    }
  }
}
