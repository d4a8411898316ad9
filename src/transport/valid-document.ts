import { parse, validate, type DocumentNode, type GraphQLSchema } from "graphql";

/** `query` parsed, if it parses and validates against `schema` (graphql-js alone, no plugin hooks). */
export function validDocument(schema: GraphQLSchema, query: string): DocumentNode | undefined {
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch {
    return undefined;
  }
  return validate(schema, document).length > 0 ? undefined : document;
}
