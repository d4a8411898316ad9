import SchemaBuilder from "@pothos/core";
import type { HeraldContext } from "./context.ts";

/** The Pothos builder: types are defined in their own files, never here. */
export const builder = new SchemaBuilder<{
  Context: HeraldContext;
  DefaultFieldNullability: false;
  Scalars: {
    // graphql-js's ID always parses input (a string or an integer literal) to a string.
    ID: { Input: string; Output: string | number };
    JSON: { Input: unknown; Output: unknown };
    DateTime: { Input: Date; Output: Date | string };
    Offset: { Input: number; Output: number };
  };
}>({
  // Non-null unless a field says otherwise: clients can rely on what the schema promises.
  defaultFieldNullability: false,
});
