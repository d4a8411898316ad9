import { GraphQLError } from "graphql";
import type { Logger } from "pino";
import { ErrorCode, HeraldError, httpStatusOf } from "../errors.ts";

/**
 * The GraphQL surface's error mapper: a `HeraldError` becomes a GraphQL error with
 * `extensions.code` (and its details, and the HTTP status Yoga uses); a GraphQL error Yoga or
 * graphql-js made (syntax, validation, variables) passes as it is; anything else is logged and
 * masked as INTERNAL_SERVER_ERROR.
 */
export function maskGraphQLError(logger: Logger, count: (code: string) => void = () => {}) {
  return (error: unknown): Error => {
    const masked = mask(error);
    count(String(masked instanceof GraphQLError ? (masked.extensions.code ?? ErrorCode.Internal) : ErrorCode.Internal));
    return masked;
  };

  function mask(error: unknown): Error {
    const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
    const at = error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {};
    if (original instanceof HeraldError) {
      if (original.code === ErrorCode.Internal) logger.error({ err: original }, "internal error");
      return new GraphQLError(original.message, {
        ...at,
        extensions: { ...original.details, code: original.code, http: httpOf(original) },
      });
    }
    if (original instanceof GraphQLError) {
      if (original.extensions.code !== undefined) return original;
      // graphql-js's own request errors (variable coercion, a missing operation) carry no code:
      // they are the caller's mistake, so they say so in the same shape as Herald's.
      return new GraphQLError(original.message, {
        nodes: original.nodes,
        path: original.path,
        extensions: { ...original.extensions, code: ErrorCode.BadRequest, http: { status: httpStatusOf(ErrorCode.BadRequest) } },
      });
    }
    logger.error({ err: original }, "unexpected error in a resolver");
    return new GraphQLError("Unexpected error.", { ...at, extensions: { code: ErrorCode.Internal } });
  }
}

/** The HTTP status of a Herald error, and when to retry one that is rate-limited. */
function httpOf(error: HeraldError): { status: number; headers?: Record<string, string> } {
  const status = httpStatusOf(error.code);
  const retryAfter = error.details.retryAfterSeconds;
  return retryAfter === undefined ? { status } : { status, headers: { "retry-after": String(retryAfter) } };
}
