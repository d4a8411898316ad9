import type { CodegenConfig } from "@graphql-codegen/cli";

/**
 * GraphQL Code Generator: typed documents for the operations in schema/operations, checked
 * against schema/schema.graphql (`npm run codegen`). The tests import them from test/generated.
 */
const config: CodegenConfig = {
  schema: "schema/schema.graphql",
  documents: ["schema/operations/*.graphql"],
  emitLegacyCommonJSImports: false,
  generates: {
    "test/generated/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        documentMode: "string",
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { JSON: "unknown", DateTime: "string", Offset: "number" },
      },
    },
  },
};

export default config;
