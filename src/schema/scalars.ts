import { GraphQLError, Kind, valueFromASTUntyped } from "graphql";
import { builder } from "./builder.ts";

builder.scalarType("JSON", {
  description: "Any JSON value. A string stays a string.",
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});

builder.scalarType("DateTime", {
  description: "An ISO-8601 date-time in UTC, e.g. 2026-01-31T12:00:00.000Z.",
  serialize: (value) => (value instanceof Date ? value.toISOString() : new Date(value).toISOString()),
  parseValue: (value) => parseDate(value),
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw new GraphQLError("DateTime must be a string");
    return parseDate(ast.value);
  },
});

function parseDate(value: unknown): Date {
  const date = typeof value === "string" ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw new GraphQLError(`Not a date-time: ${JSON.stringify(value)}`);
  return date;
}

builder.scalarType("Offset", {
  description: "A position in a channel's history: a non-negative integer (up to 2^53, beyond Int's 32 bits).",
  serialize: (value) => value,
  parseValue: (value) => parseOffset(value),
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.INT) throw new GraphQLError("Offset must be a non-negative integer");
    return parseOffset(Number(ast.value));
  },
});

function parseOffset(value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new GraphQLError(`Not an offset: ${JSON.stringify(value)}`);
  }
  return value;
}
