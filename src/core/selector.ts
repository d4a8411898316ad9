import { ErrorCode, HeraldError } from "../errors.ts";

/**
 * Message selectors: an SQL-92 style condition over a message's headers, as in JMS and
 * Backendless (`city = 'Tokyo' AND temperature > 30`).
 *
 * A selector is compiled once, when a subscriber passes it, and then evaluated for every message
 * on the channel. So everything that can be wrong is rejected here with a positioned
 * `InvalidSelector` error, and evaluation itself cannot fail.
 *
 * Semantics, following SQL:
 * - A missing header is NULL. Comparing NULL gives UNKNOWN; NOT UNKNOWN is UNKNOWN; AND and OR
 *   use three-valued logic; a message matches only when the whole condition is TRUE.
 * - A comparison is numeric when both sides are numbers: a number literal, or a header whose
 *   value reads as one ("30", "-2.5", "1e3"). Otherwise both sides compare as strings, by UTF-16
 *   code unit. A quoted literal is always a string: `code = '007'` does not match "7".
 * - A header, or a quoted string, whose value is "true" or "false" in any case acts as a boolean
 *   where one is needed (a bare `flag`, `flag = TRUE`); any other value is UNKNOWN there.
 * - `LIKE` matches the whole value; `%` is any run of characters, `_` exactly one.
 * - The left side of LIKE, IN, BETWEEN and IS must be a header name.
 *
 * Parsing and LIKE matching never build a RegExp from user input and recurse at most
 * `MAX_NESTING` levels. Parsing takes time linear in the selector. A LIKE takes time linear in
 * the header's value plus the pattern, except that a run between two `%` that holds a `_` costs
 * value × ⌈run / 32⌉ (see `wildcardFinder`): every subscription evaluates its selector against
 * every message, so a cost of value × pattern let one publish stall the process.
 */

export interface Selector {
  /** The selector as the subscriber wrote it. */
  readonly source: string;
  /** True only when the condition is TRUE for these headers; FALSE and UNKNOWN do not match. */
  matches(headers: Readonly<Record<string, string>>): boolean;
}

export interface SelectorLimits {
  /** Longest accepted selector in UTF-16 code units, e.g. 1024. */
  maxLength: number;
}

/** Throws a `HeraldError` with `ErrorCode.InvalidSelector` naming the position of the problem. */
export function parseSelector(source: string, limits: SelectorLimits): Selector {
  // The type says string, but selectors arrive from JSON bodies and connection params.
  if (typeof source !== "string") throw invalid(0, "expected the selector to be a string");
  if (source.length > limits.maxLength) {
    throw new HeraldError(ErrorCode.InvalidSelector, `Selector is longer than ${limits.maxLength} characters`, {
      limit: limits.maxLength,
    });
  }
  const condition = new Parser(source).parseSelector();
  return {
    source,
    matches: (headers) => evaluate(condition, headers) === true,
  };
}

/** Parentheses and NOT may nest this deep: the parser recurses once per level. */
const MAX_NESTING = 64;

function invalid(position: number, problem: string): HeraldError {
  return new HeraldError(ErrorCode.InvalidSelector, `Invalid selector at position ${position}: ${problem}`, {
    position,
  });
}

// ---------------------------------------------------------------------------------------------
// Tokens

type Keyword = "AND" | "OR" | "NOT" | "LIKE" | "ESCAPE" | "IN" | "BETWEEN" | "IS" | "NULL" | "TRUE" | "FALSE";

const KEYWORDS: ReadonlySet<string> = new Set<Keyword>([
  "AND",
  "OR",
  "NOT",
  "LIKE",
  "ESCAPE",
  "IN",
  "BETWEEN",
  "IS",
  "NULL",
  "TRUE",
  "FALSE",
]);

/** `!=` is read as `<>`. */
type ComparisonOperator = "=" | "<>" | "<" | ">" | "<=" | ">=";

/** `start` and `end` are UTF-16 offsets into the source; `end` is exclusive. */
type Token = { readonly start: number; readonly end: number } & (
  | { readonly kind: "identifier"; readonly name: string }
  | { readonly kind: "keyword"; readonly keyword: Keyword }
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "number"; readonly value: number; readonly text: string }
  | { readonly kind: "operator"; readonly operator: ComparisonOperator }
  | { readonly kind: "punctuation"; readonly symbol: "(" | ")" | "," }
  | { readonly kind: "end" }
);

/**
 * Reads the one token that starts at or after `from` (skipping whitespace). The parser pulls
 * tokens one at a time, so the first error reported is the leftmost one.
 */
function readToken(source: string, from: number): Token {
  let start = from;
  while (isWhitespace(source.charAt(start))) start++;
  if (start >= source.length) return { kind: "end", start, end: start };

  const char = source.charAt(start);
  const next = source.charAt(start + 1);
  switch (char) {
    case "(":
    case ")":
    case ",":
      return { kind: "punctuation", symbol: char, start, end: start + 1 };
    case "=":
      return { kind: "operator", operator: "=", start, end: start + 1 };
    case "<":
      if (next === ">") return { kind: "operator", operator: "<>", start, end: start + 2 };
      if (next === "=") return { kind: "operator", operator: "<=", start, end: start + 2 };
      return { kind: "operator", operator: "<", start, end: start + 1 };
    case ">":
      if (next === "=") return { kind: "operator", operator: ">=", start, end: start + 2 };
      return { kind: "operator", operator: ">", start, end: start + 1 };
    case "!":
      if (next === "=") return { kind: "operator", operator: "<>", start, end: start + 2 };
      throw invalid(start + 1, "expected '=' after '!'");
    case "'": {
      const { value, end } = readQuoted(source, start, "'");
      return { kind: "string", value, start, end };
    }
    case '"': {
      const { value, end } = readQuoted(source, start, '"');
      if (value === "") throw invalid(start, 'expected a header name between the double quotes in ""');
      return { kind: "identifier", name: value, start, end };
    }
  }
  if (isDigit(char) || ((char === "-" || char === ".") && startsNumber(source, start))) {
    return readNumber(source, start);
  }
  if (char === "-") throw invalid(start + 1, "expected a number after '-'");
  if (isIdentifierStart(char)) {
    let end = start + 1;
    while (isIdentifierPart(source.charAt(end))) end++;
    const name = source.slice(start, end);
    const upper = name.toUpperCase();
    if (KEYWORDS.has(upper)) return { kind: "keyword", keyword: upper as Keyword, start, end };
    return { kind: "identifier", name, start, end };
  }
  throw invalid(start, `unexpected character ${describeCharacter(source, start)}`);
}

/** Reads a quoted string or header name in which a doubled quote stands for one quote. */
function readQuoted(source: string, start: number, quote: "'" | '"'): { value: string; end: number } {
  let value = "";
  let from = start + 1;
  for (;;) {
    const close = source.indexOf(quote, from);
    if (close === -1) {
      const what = quote === "'" ? "string" : "header name";
      throw invalid(start, `expected a closing ${quote} for the ${what} that starts here`);
    }
    value += source.slice(from, close);
    if (source.charAt(close + 1) !== quote) return { value, end: close + 1 };
    value += quote;
    from = close + 2;
  }
}

function readNumber(source: string, start: number): Token {
  const end = scanNumber(source, start);
  const after = source.charAt(end);
  // `30abc` or `1.2.3` is a typo, not a number followed by a header name.
  if (isIdentifierPart(after)) {
    throw invalid(end, `unexpected character '${after}' after the number ${source.slice(start, end)}`);
  }
  const text = source.slice(start, end);
  const value = Number(text);
  if (!Number.isFinite(value)) throw invalid(start, "expected a number within the range of a double");
  return { kind: "number", value, text, start, end };
}

/**
 * Returns where the number starting at `start` ends, or `start` when there is none. A number is
 * `-? (digits (. digits?)? | . digits) ([eE] [+-]? digits)?`. The same rule decides whether a
 * header value is numeric, so `temperature > 30` and `temperature = '30'` agree on what "30" is.
 */
function scanNumber(text: string, start: number): number {
  let index = start;
  if (text.charAt(index) === "-") index++;
  const integerStart = index;
  while (isDigit(text.charAt(index))) index++;
  let digits = index - integerStart;
  if (text.charAt(index) === ".") {
    let fraction = index + 1;
    while (isDigit(text.charAt(fraction))) fraction++;
    const fractionDigits = fraction - index - 1;
    if (digits + fractionDigits > 0) index = fraction;
    digits += fractionDigits;
  }
  if (digits === 0) return start;
  const marker = text.charAt(index);
  if (marker === "e" || marker === "E") {
    let exponent = index + 1;
    const sign = text.charAt(exponent);
    if (sign === "+" || sign === "-") exponent++;
    const exponentStart = exponent;
    while (isDigit(text.charAt(exponent))) exponent++;
    if (exponent > exponentStart) index = exponent;
  }
  return index;
}

function startsNumber(source: string, start: number): boolean {
  return scanNumber(source, start) > start;
}

/** The numeric value of a header, or undefined when it is not exactly a finite number. */
function numericValue(text: string): number | undefined {
  if (text === "" || scanNumber(text, 0) !== text.length) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

function isWhitespace(char: string): boolean {
  return char === " " || char === "\t" || char === "\n" || char === "\r" || char === "\f" || char === "\v";
}

function isDigit(char: string): boolean {
  return char >= "0" && char <= "9";
}

function isIdentifierStart(char: string): boolean {
  return (char >= "A" && char <= "Z") || (char >= "a" && char <= "z") || char === "_" || char === "$";
}

function isIdentifierPart(char: string): boolean {
  return isIdentifierStart(char) || isDigit(char) || char === ".";
}

function describeCharacter(source: string, position: number): string {
  const codePoint = source.codePointAt(position) ?? 0;
  const hex = `U+${codePoint.toString(16).toUpperCase().padStart(4, "0")}`;
  // Control, space-like and lone surrogate characters are unreadable when quoted.
  const unreadable =
    codePoint <= 0x20 || (codePoint >= 0x7f && codePoint <= 0xa0) || (codePoint >= 0xd800 && codePoint <= 0xdfff);
  return unreadable ? hex : `'${String.fromCodePoint(codePoint)}' (${hex})`;
}

// ---------------------------------------------------------------------------------------------
// Syntax tree

/** SQL's truth values; null is UNKNOWN. */
type Truth = boolean | null;

/** A literal, or a header's value once looked up. `number` is set when the text is numeric. */
type Value =
  | { readonly type: "text"; readonly text: string; readonly number: number | undefined }
  | { readonly type: "boolean"; readonly value: boolean };

type Operand = { readonly kind: "header"; readonly name: string } | { readonly kind: "literal"; readonly value: Value };

/**
 * A LIKE pattern split on `%` into segments: runs of code points, with `ANY_CHARACTER` for `_`.
 * Without a `%` the whole value must match `head`. With one, the value must start with `head`,
 * end with `tail`, and contain the `middle` segments in between, in order, without overlap.
 */
interface LikePattern {
  readonly head: readonly number[];
  readonly rest: { readonly middle: readonly SegmentFinder[]; readonly tail: readonly number[] } | undefined;
}

/**
 * Finds a segment's leftmost occurrence in `text` that starts at or after `from` and ends at or
 * before `limit` (both code point boundaries); returns where it ends, or -1.
 */
type SegmentFinder = (text: string, from: number, limit: number) => number;

type Condition =
  | { readonly kind: "and"; readonly operands: readonly Condition[] }
  | { readonly kind: "or"; readonly operands: readonly Condition[] }
  | { readonly kind: "not"; readonly operand: Condition }
  | { readonly kind: "compare"; readonly operator: ComparisonOperator; readonly left: Operand; readonly right: Operand }
  | { readonly kind: "like"; readonly header: string; readonly pattern: LikePattern }
  | { readonly kind: "in"; readonly header: string; readonly values: readonly Value[] }
  | { readonly kind: "between"; readonly header: string; readonly low: Operand; readonly high: Operand }
  | { readonly kind: "isNull"; readonly header: string }
  /** A bare header name, TRUE or FALSE used as a condition. */
  | { readonly kind: "truth"; readonly operand: Operand };

// ---------------------------------------------------------------------------------------------
// Parser
//
//   selector   := or END
//   or         := and (OR and)*
//   and        := not (AND not)*
//   not        := NOT not | '(' or ')' | predicate
//   predicate  := operand (comparison operand)?
//               | header [NOT] LIKE string [ESCAPE string]
//               | header [NOT] IN '(' literal (',' literal)* ')'
//               | header [NOT] BETWEEN scalar AND scalar
//               | header IS [NOT] NULL
//   operand    := scalar | TRUE | FALSE
//   scalar     := header | string | number

class Parser {
  private token: Token;
  private depth = 0;

  constructor(private readonly source: string) {
    this.token = readToken(source, 0);
  }

  parseSelector(): Condition {
    if (this.atEnd()) throw invalid(0, "expected a condition, but the selector is empty");
    const condition = this.parseOr("expected a condition");
    if (!this.atEnd()) throw this.unexpected("expected AND, OR or the end of the selector");
    return condition;
  }

  private parseOr(expected: string): Condition {
    const operands = [this.parseAnd(expected)];
    while (this.acceptKeyword("OR")) operands.push(this.parseAnd("expected a condition after OR"));
    return operands.length === 1 ? operands[0]! : { kind: "or", operands };
  }

  private parseAnd(expected: string): Condition {
    const operands = [this.parseNot(expected)];
    while (this.acceptKeyword("AND")) operands.push(this.parseNot("expected a condition after AND"));
    return operands.length === 1 ? operands[0]! : { kind: "and", operands };
  }

  private parseNot(expected: string): Condition {
    const token = this.token;
    if (token.kind === "keyword" && token.keyword === "NOT") {
      this.enterNesting();
      this.advance();
      const operand = this.parseNot("expected a condition after NOT");
      this.depth--;
      return { kind: "not", operand };
    }
    if (token.kind === "punctuation" && token.symbol === "(") {
      this.enterNesting();
      this.advance();
      const inner = this.parseOr("expected a condition after '('");
      this.expectPunctuation(")", `expected ')' to close the '(' at position ${token.start}`);
      this.depth--;
      return inner;
    }
    return this.parsePredicate(expected);
  }

  private enterNesting(): void {
    if (this.depth === MAX_NESTING) {
      throw invalid(this.token.start, `expected at most ${MAX_NESTING} levels of nested parentheses and NOT`);
    }
    this.depth++;
  }

  private parsePredicate(expected: string): Condition {
    const leftToken = this.token;
    const left = this.parseOperand(expected);
    const token = this.token;

    if (token.kind === "operator") {
      this.advance();
      const right = this.parseOperand(`expected a value after ${this.textOf(token)}`);
      if (token.operator !== "=" && token.operator !== "<>" && (isBoolean(left) || isBoolean(right))) {
        throw invalid(token.start, `expected '=' or '<>' to compare TRUE or FALSE, not ${this.textOf(token)}`);
      }
      return { kind: "compare", operator: token.operator, left, right };
    }

    if (token.kind === "keyword" && ["NOT", "LIKE", "IN", "BETWEEN", "IS"].includes(token.keyword)) {
      if (left.kind !== "header") throw invalid(leftToken.start, `expected a header name before ${token.keyword}`);
      return this.parseHeaderTest(left.name);
    }

    if (left.kind === "header" || isBoolean(left)) return { kind: "truth", operand: left };
    throw this.unexpected(`expected a comparison operator after ${this.textOf(leftToken)}`);
  }

  /** The part after `header`: [NOT] LIKE / IN / BETWEEN, or IS [NOT] NULL. */
  private parseHeaderTest(header: string): Condition {
    if (this.acceptKeyword("IS")) {
      const negated = this.acceptKeyword("NOT");
      this.expectKeyword("NULL", negated ? "expected NULL after IS NOT" : "expected NULL or NOT NULL after IS");
      return negate({ kind: "isNull", header }, negated);
    }
    const negated = this.acceptKeyword("NOT");
    if (this.acceptKeyword("LIKE")) return negate(this.parseLike(header), negated);
    if (this.acceptKeyword("IN")) return negate(this.parseIn(header), negated);
    if (this.acceptKeyword("BETWEEN")) return negate(this.parseBetween(header), negated);
    throw this.unexpected("expected LIKE, IN or BETWEEN after NOT");
  }

  private parseLike(header: string): Condition {
    const patternToken = this.token;
    if (patternToken.kind !== "string") throw this.unexpected("expected a quoted pattern after LIKE");
    this.advance();
    let escape: number | undefined;
    if (this.acceptKeyword("ESCAPE")) {
      const escapeToken = this.token;
      if (escapeToken.kind !== "string" || !isOneCharacter(escapeToken.value)) {
        throw this.unexpected("expected a quoted single character after ESCAPE");
      }
      escape = escapeToken.value.codePointAt(0);
      this.advance();
    }
    return { kind: "like", header, pattern: compilePattern(patternToken.value, escape, patternToken.start) };
  }

  private parseIn(header: string): Condition {
    this.expectPunctuation("(", "expected '(' after IN");
    const values: Value[] = [];
    do {
      const token = this.token;
      if (token.kind !== "string" && token.kind !== "number") {
        throw this.unexpected(`expected a string or number after '${values.length === 0 ? "(" : ","}'`);
      }
      values.push(literalValue(token));
      this.advance();
    } while (this.acceptPunctuation(","));
    this.expectPunctuation(")", "expected ',' or ')' in the IN list");
    return { kind: "in", header, values };
  }

  private parseBetween(header: string): Condition {
    const low = this.parseScalar("expected a value after BETWEEN");
    this.expectKeyword("AND", "expected AND between the bounds of BETWEEN");
    const high = this.parseScalar("expected a value after AND");
    return { kind: "between", header, low, high };
  }

  private parseOperand(expected: string): Operand {
    const token = this.token;
    if (token.kind === "keyword" && (token.keyword === "TRUE" || token.keyword === "FALSE")) {
      this.advance();
      return { kind: "literal", value: { type: "boolean", value: token.keyword === "TRUE" } };
    }
    return this.parseScalar(expected);
  }

  private parseScalar(expected: string): Operand {
    const token = this.token;
    switch (token.kind) {
      case "identifier":
        this.advance();
        return { kind: "header", name: token.name };
      case "string":
      case "number":
        this.advance();
        return { kind: "literal", value: literalValue(token) };
      default:
        if (token.kind === "keyword" && token.keyword === "NULL") {
          throw invalid(token.start, `${expected}, found NULL (to test for a missing header use IS NULL)`);
        }
        throw this.unexpected(expected);
    }
  }

  private atEnd(): boolean {
    return this.token.kind === "end";
  }

  private advance(): void {
    this.token = readToken(this.source, this.token.end);
  }

  private acceptKeyword(keyword: Keyword): boolean {
    if (this.token.kind !== "keyword" || this.token.keyword !== keyword) return false;
    this.advance();
    return true;
  }

  private expectKeyword(keyword: Keyword, expected: string): void {
    if (!this.acceptKeyword(keyword)) throw this.unexpected(expected);
  }

  private acceptPunctuation(symbol: "(" | ")" | ","): boolean {
    if (this.token.kind !== "punctuation" || this.token.symbol !== symbol) return false;
    this.advance();
    return true;
  }

  private expectPunctuation(symbol: "(" | ")" | ",", expected: string): void {
    if (!this.acceptPunctuation(symbol)) throw this.unexpected(expected);
  }

  /** An error at the current token; at the end of input the position alone says what was found. */
  private unexpected(expected: string): HeraldError {
    const token = this.token;
    if (token.kind === "end") return invalid(token.start, expected);
    return invalid(token.start, `${expected}, found ${this.textOf(token)}`);
  }

  /** The token as written, shortened so that an error message stays readable. */
  private textOf(token: Token): string {
    if (token.kind === "keyword") return token.keyword;
    const text = this.source.slice(token.start, token.end);
    const short = text.length > 24 ? `${text.slice(0, 24)}…` : text;
    return token.kind === "string" ? short : `'${short}'`;
  }
}

function literalValue(token: Token & { kind: "string" | "number" }): Value {
  if (token.kind === "string") return { type: "text", text: token.value, number: undefined };
  // As a string (when the other side is not numeric) a number reads as it was written.
  return { type: "text", text: token.text, number: token.value };
}

function isBoolean(operand: Operand): boolean {
  return operand.kind === "literal" && operand.value.type === "boolean";
}

function negate(condition: Condition, negated: boolean): Condition {
  return negated ? { kind: "not", operand: condition } : condition;
}

function isOneCharacter(text: string): boolean {
  const codePoint = text.codePointAt(0);
  return codePoint !== undefined && text.length === (codePoint > 0xffff ? 2 : 1);
}

const PERCENT = 0x25;
const UNDERSCORE = 0x5f;
/** `_` in a segment: no code point is negative. */
const ANY_CHARACTER = -1;

function compilePattern(pattern: string, escape: number | undefined, position: number): LikePattern {
  const segments: number[][] = [[]];
  let segment = segments[0]!;
  let index = 0;
  while (index < pattern.length) {
    const codePoint = pattern.codePointAt(index)!;
    index += codePointWidth(codePoint);
    if (codePoint === escape) {
      const escaped = pattern.codePointAt(index);
      if (escaped !== PERCENT && escaped !== UNDERSCORE && escaped !== escape) {
        throw invalid(position, "expected '%', '_' or the escape character itself after an escape in the pattern");
      }
      index += codePointWidth(escaped);
      segment.push(escaped);
    } else if (codePoint === PERCENT) {
      segments.push((segment = []));
    } else if (codePoint === UNDERSCORE) {
      segment.push(ANY_CHARACTER);
    } else {
      segment.push(codePoint);
    }
  }
  const [head, ...rest] = segments;
  if (rest.length === 0) return { head: head!, rest: undefined };
  const tail = rest.pop()!;
  // Empty middle segments come from consecutive `%`, which mean the same as one.
  const middle = rest.filter((parts) => parts.length > 0).map((parts) => (parts.includes(ANY_CHARACTER) ? wildcardFinder(parts) : literalFinder(parts)));
  return { head: head!, rest: { middle, tail } };
}

/**
 * Knuth–Morris–Pratt over code points: each text code point is read once, and the failure table
 * (built here, once per selector) bounds the fallbacks, so a search costs text + segment steps.
 * (`String.prototype.indexOf` is not used: V8's costs up to text × segment on inputs such as
 * `a…a` against `a…aba…a`, and it matches code units, not code points.)
 */
function literalFinder(parts: readonly number[]): SegmentFinder {
  /** `failure[i]`: length of the longest proper prefix of `parts[0..i]` that is also its suffix. */
  const failure = new Int32Array(parts.length);
  for (let i = 1, length = 0; i < parts.length; i++) {
    while (length > 0 && parts[i] !== parts[length]) length = failure[length - 1]!;
    if (parts[i] === parts[length]) length++;
    failure[i] = length;
  }
  return (text, from, limit) => {
    let matched = 0;
    let index = from;
    while (index < limit) {
      const codePoint = text.codePointAt(index)!;
      index += codePointWidth(codePoint);
      while (matched > 0 && codePoint !== parts[matched]) matched = failure[matched - 1]!;
      if (codePoint === parts[matched]) matched++;
      if (matched === parts.length) return index;
    }
    return -1;
  };
}

/**
 * Shift-And (Baeza-Yates–Gonnet) for a segment with `_`, which KMP cannot skip over: bit i of
 * the state says "the last i + 1 code points match the segment's first i + 1", one 32-bit word
 * per 32 code points of the segment. A search costs text × ⌈segment / 32⌉ word operations.
 * The state is reused between calls: evaluation is synchronous, so no two searches overlap.
 */
function wildcardFinder(parts: readonly number[]): SegmentFinder {
  const words = Math.ceil(parts.length / 32);
  /** The code points not in the segment match only at its `_` positions. */
  const otherMask = new Uint32Array(words);
  parts.forEach((part, i) => {
    if (part === ANY_CHARACTER) otherMask[i >>> 5]! |= 1 << (i & 31);
  });
  const masks = new Map<number, Uint32Array>();
  parts.forEach((part, i) => {
    if (part === ANY_CHARACTER) return;
    let mask = masks.get(part);
    if (mask === undefined) masks.set(part, (mask = otherMask.slice()));
    mask[i >>> 5]! |= 1 << (i & 31);
  });
  const state = new Uint32Array(words);
  const lastWord = words - 1;
  const matchedBit = 1 << ((parts.length - 1) & 31);
  return (text, from, limit) => {
    state.fill(0);
    let index = from;
    while (index < limit) {
      const codePoint = text.codePointAt(index)!;
      index += codePointWidth(codePoint);
      const mask = masks.get(codePoint) ?? otherMask;
      let carry = 1;
      for (let word = 0; word < words; word++) {
        const bits = state[word]!;
        state[word] = ((bits << 1) | carry) & mask[word]!;
        carry = bits >>> 31;
      }
      if ((state[lastWord]! & matchedBit) !== 0) return index;
    }
    return -1;
  };
}

function codePointWidth(codePoint: number): number {
  return codePoint > 0xffff ? 2 : 1;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

function evaluate(condition: Condition, headers: Readonly<Record<string, string>>): Truth {
  switch (condition.kind) {
    case "and": {
      let result: Truth = true;
      for (const operand of condition.operands) {
        const truth = evaluate(operand, headers);
        if (truth === false) return false;
        if (truth === null) result = null;
      }
      return result;
    }
    case "or": {
      let result: Truth = false;
      for (const operand of condition.operands) {
        const truth = evaluate(operand, headers);
        if (truth === true) return true;
        if (truth === null) result = null;
      }
      return result;
    }
    case "not": {
      const truth = evaluate(condition.operand, headers);
      return truth === null ? null : !truth;
    }
    case "compare":
      return compare(condition.operator, resolve(condition.left, headers), resolve(condition.right, headers));
    case "like": {
      const text = lookUp(headers, condition.header);
      return text === undefined ? null : matchesPattern(text, condition.pattern);
    }
    case "in": {
      const value = resolveHeader(headers, condition.header);
      if (value === null) return null;
      return condition.values.some((candidate) => compare("=", value, candidate) === true);
    }
    case "between": {
      const value = resolveHeader(headers, condition.header);
      const aboveLow = compare(">=", value, resolve(condition.low, headers));
      const belowHigh = compare("<=", value, resolve(condition.high, headers));
      if (aboveLow === false || belowHigh === false) return false;
      return aboveLow === null || belowHigh === null ? null : true;
    }
    case "isNull":
      return lookUp(headers, condition.header) === undefined;
    case "truth": {
      const value = resolve(condition.operand, headers);
      return value === null ? null : asBoolean(value);
    }
  }
}

function lookUp(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  // Own properties only: `constructor` or `__proto__` must not find Object.prototype members.
  if (!Object.hasOwn(headers, name)) return undefined;
  const value = headers[name];
  return typeof value === "string" ? value : undefined;
}

function resolveHeader(headers: Readonly<Record<string, string>>, name: string): Value | null {
  const text = lookUp(headers, name);
  return text === undefined ? null : { type: "text", text, number: numericValue(text) };
}

function resolve(operand: Operand, headers: Readonly<Record<string, string>>): Value | null {
  return operand.kind === "literal" ? operand.value : resolveHeader(headers, operand.name);
}

function asBoolean(value: Value): Truth {
  if (value.type === "boolean") return value.value;
  const lower = value.text.toLowerCase();
  return lower === "true" ? true : lower === "false" ? false : null;
}

function compare(operator: ComparisonOperator, left: Value | null, right: Value | null): Truth {
  if (left === null || right === null) return null;
  if (left.type === "boolean" || right.type === "boolean") {
    const a = asBoolean(left);
    const b = asBoolean(right);
    if (a === null || b === null) return null;
    // The parser allows only = and <> next to TRUE or FALSE.
    if (operator === "=") return a === b;
    if (operator === "<>") return a !== b;
    return null;
  }
  const order =
    left.number !== undefined && right.number !== undefined
      ? Math.sign(left.number - right.number)
      : left.text < right.text
        ? -1
        : left.text > right.text
          ? 1
          : 0;
  switch (operator) {
    case "=":
      return order === 0;
    case "<>":
      return order !== 0;
    case "<":
      return order < 0;
    case ">":
      return order > 0;
    case "<=":
      return order <= 0;
    case ">=":
      return order >= 0;
  }
}

/**
 * Whole-value LIKE match. The ends are anchored, so `head` and `tail` are checked in place;
 * each middle segment then takes its leftmost occurrence after the previous one. Taking the
 * leftmost is never wrong: the `%` after it can absorb whatever a later occurrence would have
 * skipped. Every step moves forward, so no part of the value is read twice by the same segment.
 */
function matchesPattern(text: string, pattern: LikePattern): boolean {
  const headEnd = matchForward(text, 0, pattern.head);
  if (headEnd === -1) return false;
  if (pattern.rest === undefined) return headEnd === text.length;
  const tailStart = matchBackward(text, text.length, pattern.rest.tail);
  if (tailStart < headEnd) return false; // -1 too: the tail does not end the value
  let at = headEnd;
  for (const find of pattern.rest.middle) {
    at = find(text, at, tailStart);
    if (at === -1) return false;
  }
  return true;
}

/** Where `parts` end when they match the code points from `start` on, or -1. */
function matchForward(text: string, start: number, parts: readonly number[]): number {
  let index = start;
  for (const part of parts) {
    if (index >= text.length) return -1;
    const codePoint = text.codePointAt(index)!;
    if (part !== ANY_CHARACTER && part !== codePoint) return -1;
    index += codePointWidth(codePoint);
  }
  return index;
}

/** Where `parts` start when they match the code points that end at `end`, or -1. */
function matchBackward(text: string, end: number, parts: readonly number[]): number {
  let index = end;
  for (let i = parts.length - 1; i >= 0; i--) {
    if (index <= 0) return -1;
    // A surrogate pair ending here is one code point; UTF-16 decodes the same from either end.
    const pair = index >= 2 ? text.codePointAt(index - 2)! : 0;
    const codePoint = pair > 0xffff ? pair : text.charCodeAt(index - 1);
    const part = parts[i]!;
    if (part !== ANY_CHARACTER && part !== codePoint) return -1;
    index -= codePointWidth(codePoint);
  }
  return index;
}
