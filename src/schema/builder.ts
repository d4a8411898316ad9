import SchemaBuilder from "@pothos/core";
import type { HeraldContext } from "./context.ts";

/** The Pothos builder: types are defined in their own files, never here. */
export const builder = new SchemaBuilder<{
  Context: HeraldContext;
  Scalars: {
    JSON: { Input: unknown; Output: unknown };
    DateTime: { Input: Date; Output: Date | string };
  };
}>({});
