import { maxAliasesRule } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthRule } from "@escape.tech/graphql-armor-max-depth";
import { maxDirectivesRule } from "@escape.tech/graphql-armor-max-directives";
import {
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValidationRule,
  type ValueNode,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Config } from "../config.ts";
import { ErrorCode } from "../errors.ts";

/**
 * What one GraphQL document may cost, on every lane (Yoga over HTTP and SSE, the direct lane,
 * graphql-ws and the fast path): each lane gets its documents from `prepare`, so one policy
 * holds for all of them, and nothing is parsed, validated or cached before the cheap bounds pass.
 *
 * Order, cheapest first: the text's size (before parsing), its tokens (graphql-js stops parsing
 * at `maxTokens`), then aliases, depth, directives, nesting of literal values and cost in one
 * validation pass of their own, and only then graphql-js's own rules (which are what costs on a
 * large document). A document that fails any bound is never cached.
 */
export interface DocumentLimits {
  /** Bytes of a document's text (HERALD_MAX_DOCUMENT_BYTES). */
  readonly maxDocumentBytes: number;
  /** Lexical tokens of a document (HERALD_MAX_DOCUMENT_TOKENS). */
  readonly maxDocumentTokens: number;
  /** Aliases in one operation, `__typename` included (HERALD_MAX_ALIASES). */
  readonly maxAliases: number;
  /** Depth of an operation's selections; introspection's `__schema` is exempt (HERALD_MAX_DEPTH). */
  readonly maxDepth: number;
  /** Directives in one operation (HERALD_MAX_DIRECTIVES). */
  readonly maxDirectives: number;
  /** Nesting of list and object values in literals and JSON values (HERALD_MAX_JSON_DEPTH). */
  readonly maxJsonDepth: number;
  /** The cost bound (HERALD_MAX_QUERY_COST); see `operationCost`. */
  readonly maxQueryCost: number;
  /** Bytes of query text the cache of valid documents holds (HERALD_DOCUMENT_CACHE_BYTES). */
  readonly documentCacheBytes: number;
  /** Messages a history read returns at most: what `history(limit: $var)` is costed at. */
  readonly historySize: number;
  /** Members a presence channel holds at most: what `members` is costed at. */
  readonly maxPresenceMembers: number;
  /** Whether `__schema` and `__type` may be asked for (HERALD_INTROSPECTION). */
  readonly introspection: boolean;
}

export interface PreparedDocument {
  readonly document: DocumentNode;
  /** graphql-js's validation errors; empty when the document is valid. */
  readonly errors: readonly GraphQLError[];
}

export interface DocumentPolicy {
  /**
   * The document of `query` and its validation errors. Throws a GraphQLError when it is over a
   * bound (`BAD_REQUEST`, naming the setting) or does not parse (graphql-js's syntax error).
   */
  prepare(query: string): PreparedDocument;
  /**
   * The document of `query` when it is within bounds, parses and validates; undefined otherwise
   * (for a lane that hands every other document on, to a path that reports why).
   */
  validDocument(query: string): DocumentNode | undefined;
  /** Validation errors of a document `prepare` made; undefined for any other document. */
  validationOf(document: DocumentNode): readonly GraphQLError[] | undefined;
  /** Yoga's parse and validate phases through `prepare` (in place of Yoga's own count-bounded cache). */
  readonly plugin: Plugin;
}

/** The document limits a configuration sets. */
export function documentLimitsOf(config: Config): DocumentLimits {
  return {
    ...config.graphql,
    maxJsonDepth: config.limits.maxJsonDepth,
    historySize: config.historySize,
    maxPresenceMembers: config.limits.maxPresenceMembers,
  };
}

/** Bytes of query text the cache may hold in one entry, as a share of the cache: big documents are rare and costly to keep. */
const CACHE_ENTRY_SHARE = 64;

export function createDocumentPolicy(schema: GraphQLSchema, limits: DocumentLimits): DocumentPolicy {
  /** Valid documents by query text, least recently used first; bounded by the bytes of the texts. */
  const cache = new Map<string, DocumentNode>();
  let cachedBytes = 0;
  const maxEntryBytes = Math.floor(limits.documentCacheBytes / CACHE_ENTRY_SHARE);
  /** Every document `prepare` made, with its validation errors. */
  const validation = new WeakMap<DocumentNode, readonly GraphQLError[]>();
  /**
   * The last document asked for and its outcome: the direct lane and the fast path hand what
   * they cannot serve to Yoga or graphql-ws, which ask again at once (also for a document too
   * large to cache). One entry, so nothing grows.
   */
  let last: { query: string; prepared?: PreparedDocument; error?: GraphQLError } | undefined;

  const boundRules: ValidationRule[] = [
    armorRule("HERALD_MAX_ALIASES", limits.maxAliases, (onReject) => maxAliasesRule({ n: limits.maxAliases, allowList: [], onReject })),
    armorRule("HERALD_MAX_DEPTH", limits.maxDepth, (onReject) => maxDepthRule({ n: limits.maxDepth, ignoreIntrospection: true, onReject })),
    armorRule("HERALD_MAX_DIRECTIVES", limits.maxDirectives, (onReject) => maxDirectivesRule({ n: limits.maxDirectives, onReject })),
    valueDepthRule(limits.maxJsonDepth),
    costRule(limits),
  ];

  const rules = limits.introspection ? specifiedRules : [...specifiedRules, NoSchemaIntrospectionCustomRule];

  function prepare(query: string): PreparedDocument {
    const cached = cache.get(query);
    if (cached) {
      // Most recently used goes last.
      cache.delete(query);
      cache.set(query, cached);
      return { document: cached, errors: [] };
    }
    if (last?.query === query) {
      if (last.error) throw last.error;
      return last.prepared!;
    }
    let document: DocumentNode;
    try {
      document = parseBounded(query);
      checkBounds(document);
    } catch (error) {
      if (error instanceof GraphQLError) last = { query, error };
      throw error;
    }
    const errors = validate(schema, document, rules);
    validation.set(document, errors);
    const prepared = { document, errors };
    if (errors.length === 0) remember(query, document);
    last = { query, prepared };
    return prepared;
  }

  function parseBounded(query: string): DocumentNode {
    // UTF-16 length ≤ UTF-8 bytes ≤ 3 × length: count bytes only when it could matter.
    if (query.length > limits.maxDocumentBytes || (query.length * 3 > limits.maxDocumentBytes && Buffer.byteLength(query) > limits.maxDocumentBytes)) {
      throw limitError("HERALD_MAX_DOCUMENT_BYTES", limits.maxDocumentBytes, `Document is larger than ${limits.maxDocumentBytes} bytes`);
    }
    try {
      return parse(query, { maxTokens: limits.maxDocumentTokens });
    } catch (error) {
      if (error instanceof GraphQLError && /contains more (?:that|than) \d+ tokens/.test(error.message)) {
        throw limitError("HERALD_MAX_DOCUMENT_TOKENS", limits.maxDocumentTokens, `Document has more than ${limits.maxDocumentTokens} tokens`);
      }
      // graphql-js's parser recurses: nesting that deep overflows its stack.
      if (error instanceof RangeError) {
        throw limitError("HERALD_MAX_JSON_DEPTH", limits.maxJsonDepth, "Document is nested too deeply");
      }
      throw error;
    }
  }

  /** The bounds' own validation pass; the first bound exceeded throws. */
  function checkBounds(document: DocumentNode) {
    try {
      validate(schema, document, boundRules, { maxErrors: 1 });
    } catch (error) {
      if (error instanceof GraphQLError) throw error;
      if (error instanceof RangeError) throw limitError("HERALD_MAX_DEPTH", limits.maxDepth, "Document is nested too deeply");
      throw error;
    }
  }

  function remember(query: string, document: DocumentNode) {
    const bytes = query.length;
    if (bytes > maxEntryBytes) return;
    cache.set(query, document);
    cachedBytes += bytes;
    for (const [oldest] of cache) {
      if (cachedBytes <= limits.documentCacheBytes) break;
      cache.delete(oldest);
      cachedBytes -= oldest.length;
    }
  }

  const plugin: Plugin = {
    onParse({ params, setParsedDocument }) {
      setParsedDocument(prepare(params.source.toString()).document);
    },
    onValidate({ params, setResult }) {
      const errors = validation.get(params.documentAST);
      // Yoga asks for graphql-js's own rules, which `prepare` ran (with ours): answer from what
      // it found. Rules a plugin added would still run (none does today).
      if (errors && isSpecifiedRules(params.rules)) setResult([...errors]);
    },
  };

  function validDocument(query: string): DocumentNode | undefined {
    try {
      const prepared = prepare(query);
      return prepared.errors.length === 0 ? prepared.document : undefined;
    } catch {
      return undefined;
    }
  }

  return { prepare, validDocument, validationOf: (document) => validation.get(document), plugin };
}

function isSpecifiedRules(rules: readonly ValidationRule[] | undefined): boolean {
  return rules === undefined || (rules.length === specifiedRules.length && rules.every((rule, i) => rule === specifiedRules[i]));
}

/** A bound exceeded: BAD_REQUEST with HTTP 400, naming the setting and its value. */
export function limitError(setting: string, limit: number, message: string): GraphQLError {
  return new GraphQLError(`${message} (${setting} is ${limit})`, {
    extensions: { code: ErrorCode.BadRequest, limit, setting, http: { status: 400 } },
  });
}

type RejectHandler = (context: unknown, error: GraphQLError) => void;

/** An Armor rule whose rejection becomes Herald's limit error (and stops the pass). */
function armorRule(setting: string, limit: number, make: (onReject: RejectHandler[]) => ValidationRule): ValidationRule {
  return make([
    (_context, error) => {
      throw limitError(setting, limit, error.message.replace(/^Syntax Error: /, "").replace(/\.$/, ""));
    },
  ]);
}

/** Nesting of list and object literals (JSON scalar literals, list arguments), without recursion. */
function valueDepthRule(maxDepth: number): ValidationRule {
  return () => {
    let depth = 0;
    const enter = () => {
      if (++depth > maxDepth) throw limitError("HERALD_MAX_JSON_DEPTH", maxDepth, `A value is nested more than ${maxDepth} levels deep`);
    };
    const leave = () => void depth--;
    return { ListValue: { enter, leave }, ObjectValue: { enter, leave } };
  };
}

/**
 * The cost of an operation: every field counts 1, and a field that returns a list multiplies
 * the cost of what is selected below it by how long the list can be — `history(limit)` by its
 * limit (a variable or no limit: the history size, or 100 if smaller), `channels(first)` by
 * `first` (a variable: 1000, its maximum), `watchChannels(first)` likewise (100), a presence's
 * `members` by the member limit.
 */
function costRule(limits: DocumentLimits): ValidationRule {
  return (context) => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of context.getDocument().definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    }
    const historyDefault = Math.min(100, limits.historySize);
    const multiplier = (name: string, argument: (arg: string) => ValueNode | undefined): number => {
      switch (name) {
        case "history":
          return intArgument(argument("limit"), historyDefault, limits.historySize);
        case "channels":
          return intArgument(argument("first"), 100, 1000);
        case "watchChannels":
          return intArgument(argument("first"), 20, 100);
        case "members":
          return limits.maxPresenceMembers;
        default:
          return 1;
      }
    };
    /** Fragments being costed (a cycle costs nothing here: validation refuses it). */
    const inProgress = new Set<string>();
    const costOf = (selectionSet: SelectionSetNode): number => {
      let cost = 0;
      for (const selection of selectionSet.selections) {
        if (selection.kind === Kind.FIELD) {
          const below = selection.selectionSet ? costOf(selection.selectionSet) : 0;
          const factor = multiplier(selection.name.value, (arg) => selection.arguments?.find((a) => a.name.value === arg)?.value);
          cost += 1 + factor * below;
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          cost += costOf(selection.selectionSet);
        } else {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          if (!fragment || inProgress.has(name)) continue;
          inProgress.add(name);
          cost += costOf(fragment.selectionSet);
          inProgress.delete(name);
        }
        // Stop early: a document can multiply past any number.
        if (cost > limits.maxQueryCost) return cost;
      }
      return cost;
    };
    return {
      OperationDefinition(operation) {
        const cost = costOf(operation.selectionSet);
        if (cost > limits.maxQueryCost) {
          throw limitError("HERALD_MAX_QUERY_COST", limits.maxQueryCost, `Operation costs more than ${limits.maxQueryCost}`);
        }
        return false;
      },
    };
  };
}

/** An Int argument's literal value within [0, max]; a variable (or none) costs `whenUnknown`. */
function intArgument(value: ValueNode | undefined, whenAbsent: number, max: number): number {
  if (value === undefined) return whenAbsent;
  if (value.kind === Kind.INT) return Math.min(Math.max(Number(value.value), 0), max);
  return max;
}
