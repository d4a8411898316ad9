import SchemaBuilder from "@pothos/core";
import type { HeraldContext } from "./context.ts";

/** The Pothos builder: types are defined in their own files, never here. */
export const builder = new SchemaBuilder<{
  Context: HeraldContext;
  DefaultFieldNullability: false;
  Scalars: {
    JSON: { Input: unknown; Output: unknown };
    DateTime: { Input: Date; Output: Date | string };
    Offset: { Input: number; Output: number };
  };
}>({
  // Non-null unless a field says otherwise: clients can rely on what the schema promises.
  defaultFieldNullability: false,
});
