import { describe, expect, it } from "vitest";
import { parseSelector } from "../src/core/selector.ts";
import { ErrorCode, HeraldError } from "../src/errors.ts";

const limits = { maxLength: 1024 };

const weather: Record<string, string> = {
  city: "Tokyo",
  temperature: "31",
  negative: "-2.5",
  ten: "10",
  two: "2",
  flag: "TRUE",
  off: "false",
  name: "it's",
  path: "50%_off",
  emoji: "😀x",
  empty: "",
  "my-header": "yes",
  'my"quote': "q",
  "$meta.version": "2",
};
// For precedence: only `a = 1` holds.
const abc = { a: "1", b: "0", c: "0" };

interface Row {
  selector: string;
  headers: Record<string, string>;
  expected: boolean;
}

const rows: Row[] = [
  // The example from the docs, with a numeric, a too-cold, a non-numeric and a missing temperature.
  { selector: "city = 'Tokyo' AND temperature > 30", headers: weather, expected: true },
  { selector: "city = 'Tokyo' AND temperature > 30", headers: { city: "Tokyo", temperature: "29" }, expected: false },
  { selector: "city = 'Tokyo' AND temperature > 30", headers: { city: "Tokyo", temperature: "abc" }, expected: true },
  { selector: "city = 'Tokyo' AND temperature > 30", headers: { city: "Tokyo" }, expected: false },

  // Every comparison operator; numeric when both sides are numbers.
  { selector: "temperature = 31", headers: weather, expected: true },
  { selector: "temperature = 31.0", headers: weather, expected: true },
  { selector: "temperature = 3.1e1", headers: weather, expected: true },
  { selector: "temperature <> 31", headers: weather, expected: false },
  { selector: "temperature != 30", headers: weather, expected: true },
  { selector: "temperature < 100", headers: weather, expected: true },
  { selector: "temperature <= 31", headers: weather, expected: true },
  { selector: "temperature > 31", headers: weather, expected: false },
  { selector: "temperature >= 32", headers: weather, expected: false },
  { selector: "negative = -2.5", headers: weather, expected: true },
  { selector: "negative < -2", headers: weather, expected: true },
  { selector: "negative > -.5e1", headers: weather, expected: true },
  { selector: "ten > two", headers: weather, expected: true },
  { selector: "1 = 1.0", headers: {}, expected: true },

  // String comparison: a quoted literal is a string, ordering is by code unit.
  { selector: "temperature = '31'", headers: weather, expected: true },
  { selector: "temperature = '31.0'", headers: weather, expected: false },
  { selector: "temperature < '100'", headers: weather, expected: false },
  { selector: "city < 'Z'", headers: weather, expected: true },
  { selector: "city > 'tokyo'", headers: weather, expected: false },
  { selector: "city >= 'Tokyo'", headers: weather, expected: true },
  { selector: "city = 'tokyo'", headers: weather, expected: false },
  { selector: "'a' <> 'b'", headers: {}, expected: true },
  { selector: "name = 'it''s'", headers: weather, expected: true },
  { selector: "empty = ''", headers: weather, expected: true },

  // Header names: quoted, with `$` and dots, never found on Object.prototype.
  { selector: "\"my-header\" = 'yes'", headers: weather, expected: true },
  { selector: "\"my\"\"quote\" = 'q'", headers: weather, expected: true },
  { selector: "$meta.version = 2", headers: weather, expected: true },
  { selector: "constructor IS NULL", headers: weather, expected: true },
  { selector: "toString = toString", headers: weather, expected: false },
  { selector: "__proto__ = 'x'", headers: JSON.parse('{"__proto__":"x"}') as Record<string, string>, expected: true },

  // NULL: a missing header makes comparisons UNKNOWN, which never matches, negated or not.
  { selector: "missing = 'x'", headers: weather, expected: false },
  { selector: "missing <> 'x'", headers: weather, expected: false },
  { selector: "NOT (missing = 'x')", headers: weather, expected: false },
  { selector: "missing IS NULL", headers: weather, expected: true },
  { selector: "city IS NULL", headers: weather, expected: false },
  { selector: "missing IS NOT NULL", headers: weather, expected: false },
  { selector: "city IS NOT NULL", headers: weather, expected: true },
  { selector: "empty IS NOT NULL", headers: weather, expected: true },
  { selector: "missing = 'x' OR city = 'Tokyo'", headers: weather, expected: true },
  { selector: "missing = 'x' OR city = 'Paris'", headers: weather, expected: false },
  { selector: "NOT (missing = 'x' OR city = 'Paris')", headers: weather, expected: false },
  { selector: "NOT (missing = 'x' AND city = 'Paris')", headers: weather, expected: true },
  { selector: "NOT (missing = 'x' AND city = 'Tokyo')", headers: weather, expected: false },
  { selector: "missing LIKE '%'", headers: weather, expected: false },
  { selector: "missing NOT LIKE '%'", headers: weather, expected: false },
  { selector: "missing IN ('x')", headers: weather, expected: false },
  { selector: "missing NOT IN ('x')", headers: weather, expected: false },
  { selector: "missing BETWEEN 1 AND 2", headers: weather, expected: false },
  { selector: "missing NOT BETWEEN 1 AND 2", headers: weather, expected: false },
  { selector: "temperature BETWEEN 1 AND missing", headers: weather, expected: false },
  { selector: "temperature NOT BETWEEN 40 AND missing", headers: weather, expected: true },

  // LIKE: whole-string, case-sensitive, by code point.
  { selector: "city LIKE 'To%'", headers: weather, expected: true },
  { selector: "city LIKE '%kyo'", headers: weather, expected: true },
  { selector: "city LIKE '%ok%'", headers: weather, expected: true },
  { selector: "city LIKE 'T_kyo'", headers: weather, expected: true },
  { selector: "city LIKE 'T_yo'", headers: weather, expected: false },
  { selector: "city LIKE 'Tok'", headers: weather, expected: false },
  { selector: "city LIKE 'to%'", headers: weather, expected: false },
  { selector: "city LIKE '%%%'", headers: weather, expected: true },
  { selector: "city NOT LIKE '%x%'", headers: weather, expected: true },
  { selector: "empty LIKE '%'", headers: weather, expected: true },
  { selector: "empty LIKE '_'", headers: weather, expected: false },
  { selector: "emoji LIKE '_x'", headers: weather, expected: true },
  { selector: "name LIKE 'it''_'", headers: weather, expected: true },
  { selector: "path LIKE '50!%!_off' ESCAPE '!'", headers: weather, expected: true },
  { selector: "path LIKE '50!%off' ESCAPE '!'", headers: weather, expected: false },
  { selector: "path LIKE '50\\%%' ESCAPE '\\'", headers: weather, expected: true },
  { selector: "path LIKE '%!_%' ESCAPE '!'", headers: weather, expected: true },
  { selector: "city LIKE '%!_%' ESCAPE '!'", headers: weather, expected: false },

  // IN and NOT IN: equality against any element, numeric where both sides are.
  { selector: "city IN ('Paris', 'Tokyo')", headers: weather, expected: true },
  { selector: "city IN ('Paris')", headers: weather, expected: false },
  { selector: "temperature IN (30, 31.0)", headers: weather, expected: true },
  { selector: "temperature IN ('31.0')", headers: weather, expected: false },
  { selector: "city NOT IN ('Paris', 1)", headers: weather, expected: true },
  { selector: "city NOT IN ('Tokyo')", headers: weather, expected: false },

  // BETWEEN and NOT BETWEEN, inclusive; its AND is not the logical AND.
  { selector: "temperature BETWEEN 30 AND 31", headers: weather, expected: true },
  { selector: "temperature BETWEEN 32 AND 40", headers: weather, expected: false },
  { selector: "temperature NOT BETWEEN 32 AND 40", headers: weather, expected: true },
  { selector: "temperature NOT BETWEEN 31 AND 40", headers: weather, expected: false },
  { selector: "city BETWEEN 'A' AND 'Z'", headers: weather, expected: true },
  { selector: "temperature BETWEEN 30 AND 35 AND city = 'Paris'", headers: weather, expected: false },
  { selector: "temperature BETWEEN two AND 35", headers: weather, expected: true },

  // Keywords in any case.
  { selector: "city = 'Tokyo' and temperature > 30", headers: weather, expected: true },
  { selector: "city like 'to%' oR city iS nOt NuLl", headers: weather, expected: true },
  { selector: "temperature not between 40 and 50", headers: weather, expected: true },
  { selector: "city Not In ('Paris')", headers: weather, expected: true },

  // Precedence: NOT over AND over OR; parentheses override.
  { selector: "a = 1 OR b = 2 AND c = 3", headers: abc, expected: true },
  { selector: "(a = 1 OR b = 2) AND c = 3", headers: abc, expected: false },
  { selector: "NOT a = 1 OR b = 0", headers: abc, expected: true },
  { selector: "NOT (a = 1 OR b = 0)", headers: abc, expected: false },
  { selector: "NOT NOT a = 1", headers: abc, expected: true },
  { selector: "((((a = 1))))", headers: abc, expected: true },

  // Booleans: a header reading "true"/"false" in any case; anything else is UNKNOWN.
  { selector: "flag", headers: weather, expected: true },
  { selector: "off", headers: weather, expected: false },
  { selector: "NOT off", headers: weather, expected: true },
  { selector: "city", headers: weather, expected: false },
  { selector: "NOT city", headers: weather, expected: false },
  { selector: "NOT missing", headers: weather, expected: false },
  { selector: "TRUE", headers: {}, expected: true },
  { selector: "FALSE", headers: {}, expected: false },
  { selector: "NOT false", headers: {}, expected: true },
  { selector: "flag = TRUE", headers: weather, expected: true },
  { selector: "off <> TRUE", headers: weather, expected: true },
  { selector: "city = TRUE", headers: weather, expected: false },
  { selector: "NOT (city = TRUE)", headers: weather, expected: false },
  { selector: "flag AND NOT off", headers: weather, expected: true },
];

describe("parseSelector semantics", () => {
  it.each(rows)("$selector → $expected", ({ selector, headers, expected }) => {
    const parsed = parseSelector(selector, limits);
    expect(parsed.source).toBe(selector);
    expect(parsed.matches(headers)).toBe(expected);
  });

  it("compiles once and evaluates per message", () => {
    const selector = parseSelector("city = 'Tokyo' AND temperature > 30", limits);
    const matched = [
      { city: "Tokyo", temperature: "31" },
      { city: "Tokyo", temperature: "30" },
      { city: "Osaka", temperature: "35" },
      { city: "Tokyo", temperature: "30.5" },
    ].filter((headers) => selector.matches(headers));
    expect(matched).toEqual([
      { city: "Tokyo", temperature: "31" },
      { city: "Tokyo", temperature: "30.5" },
    ]);
  });
});

function parseError(selector: string, selectorLimits = limits): HeraldError {
  try {
    parseSelector(selector, selectorLimits);
  } catch (error) {
    if (error instanceof HeraldError) return error;
    throw error;
  }
  throw new Error(`Expected ${JSON.stringify(selector)} to be rejected`);
}

describe("parseSelector errors", () => {
  it.each([
    { selector: "", position: 0 },
    { selector: "   ", position: 0 },
    { selector: "temperature > ", position: 14 },
    { selector: "a = 1 )", position: 6 },
    { selector: "a = 1 b = 2", position: 6 },
    { selector: "a = 1 AND", position: 9 },
    { selector: "a = 1 AND OR b", position: 10 },
    { selector: "(a = 1", position: 6 },
    { selector: "()", position: 1 },
    { selector: "a == 1", position: 3 },
    { selector: "a ! b", position: 3 },
    { selector: "a = - 1", position: 5 },
    { selector: "a = 'x", position: 4 },
    { selector: "a = 'ok' AND b = 'bad", position: 17 },
    { selector: '"abc = 1', position: 0 },
    { selector: '"" = 1', position: 0 },
    { selector: "a ¬ b", position: 2 },
    { selector: "a = \u0000", position: 4 },
    { selector: "a = 1.2.3", position: 7 },
    { selector: "a = 1e", position: 5 },
    { selector: "30abc = 1", position: 2 },
    { selector: "a = 1e999", position: 4 },
    { selector: "x > NULL", position: 4 },
    { selector: "'x' y", position: 4 },
    { selector: "5 LIKE 'x'", position: 0 },
    { selector: "a LIKE b", position: 7 },
    { selector: "a LIKE 'x!' ESCAPE '!'", position: 7 },
    { selector: "a LIKE 'x' ESCAPE 'ab'", position: 18 },
    { selector: "a NOT 1", position: 6 },
    { selector: "a IS 1", position: 5 },
    { selector: "a IS NOT TRUE", position: 9 },
    { selector: "a IN ()", position: 6 },
    { selector: "a IN 'x'", position: 5 },
    { selector: "a IN (1", position: 7 },
    { selector: "a IN (b)", position: 6 },
    { selector: "a BETWEEN 1 OR 2", position: 12 },
    { selector: "a BETWEEN TRUE AND 2", position: 10 },
    { selector: "TRUE < 1", position: 5 },
    { selector: "flag >= FALSE", position: 5 },
    { selector: `${"(".repeat(65)}a${")".repeat(65)}`, position: 64 },
    { selector: `${"NOT ".repeat(65)}a`, position: 256 },
  ])("rejects $selector at position $position", ({ selector, position }) => {
    const error = parseError(selector);
    expect(error.code).toBe(ErrorCode.InvalidSelector);
    expect(error.details).toEqual({ position });
    expect(error.message).toMatch(new RegExp(`^Invalid selector at position ${position}: (expected|unexpected) `));
  });

  it("names the position and what was expected", () => {
    expect(parseError("temperature > ").message).toBe("Invalid selector at position 14: expected a value after '>'");
    expect(parseError("a = 1 )").message).toBe(
      "Invalid selector at position 6: expected AND, OR or the end of the selector, found ')'",
    );
  });

  it("accepts 64 levels of nesting", () => {
    expect(parseSelector(`${"(".repeat(64)}flag${")".repeat(64)}`, limits).matches({ flag: "true" })).toBe(true);
    expect(parseSelector(`${"NOT ".repeat(64)}flag`, limits).matches({ flag: "true" })).toBe(true);
  });

  it("rejects a selector over the length limit with the limit in details", () => {
    const error = parseError("a = 1", { maxLength: 4 });
    expect(error.code).toBe(ErrorCode.InvalidSelector);
    expect(error.message).toBe("Selector is longer than 4 characters");
    expect(error.details).toEqual({ limit: 4 });
  });

  it("rejects a non-string from untyped callers", () => {
    expect(parseError(42 as unknown as string).code).toBe(ErrorCode.InvalidSelector);
  });
});

/** Tiny seeded PRNG (mulberry32) so that every fuzz run sees the same inputs. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("parseSelector fuzzing", () => {
  const random = mulberry32(0x5e1ec7);
  const int = (below: number) => Math.floor(random() * below);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;

  const fragments = [
    ...["AND", "and", "Or", "OR", "NOT", "not", "LIKE", "like", "ESCAPE", "IN", "BETWEEN", "IS", "NULL"],
    ...["TRUE", "false", "=", "<>", "!=", "<", ">", "<=", ">=", "!", "(", ")", ",", "-", ".", "%", "_"],
    ...["a", "b", "city", "temperature", "$x.y", "_", '"my-header"', '"', '""', "'", "''", "'Tokyo'"],
    ...["'it''s'", "'%a_'", "'!'", "'😀'", "30", "-2.5", "1e3", ".5", "1e999", "0x10", "1.", " ", "\t", "\n"],
  ];
  const randomCharacter = (): string => {
    switch (int(3)) {
      case 0:
        return String.fromCharCode(0x20 + int(0x5f)); // printable ASCII
      case 1:
        return String.fromCharCode(int(0x10000)); // any code unit, lone surrogates included
      default:
        return String.fromCodePoint(int(0x110000));
    }
  };
  const randomSelector = (): string => {
    let text = "";
    const count = 1 + int(20);
    for (let i = 0; i < count; i++) {
      text += random() < 0.1 ? randomCharacter() : pick(fragments);
      if (random() < 0.7) text += " ";
    }
    return text;
  };
  const mutate = (selector: string): string => {
    let text = selector;
    const edits = 1 + int(4);
    for (let i = 0; i < edits; i++) {
      const at = int(text.length + 1);
      switch (int(4)) {
        case 0:
          text = text.slice(0, at) + randomCharacter() + text.slice(at);
          break;
        case 1:
          text = text.slice(0, at) + text.slice(at + 1);
          break;
        case 2:
          text = text.slice(0, at) + randomCharacter() + text.slice(at + 1);
          break;
        default:
          text = `${text.slice(0, at)} ${pick(fragments)} ${text.slice(at)}`;
      }
    }
    return text;
  };

  const headerNames = ["a", "b", "city", "temperature", "$x.y", "my-header", "_", "flag"];
  const headerValues = ["30", "-2.5", "1e3", "abc", "Tokyo", "it's", "true", "FALSE", "", "%a_", "😀", "aaaa"];
  const randomHeaders = (): Record<string, string> => {
    const headers: Record<string, string> = {};
    const count = int(6);
    for (let i = 0; i < count; i++) {
      headers[pick(headerNames)] = random() < 0.2 ? randomCharacter() + randomCharacter() : pick(headerValues);
    }
    return headers;
  };

  const isValid = (input: string): boolean => {
    try {
      parseSelector(input, limits);
      return true;
    } catch {
      return false;
    }
  };

  /** Returns what went wrong with this input, or undefined when it behaved. */
  const check = (input: string): string | undefined => {
    let selector;
    try {
      selector = parseSelector(input, limits);
    } catch (error) {
      if (!(error instanceof HeraldError)) return `threw ${String(error)}`;
      if (error.code !== ErrorCode.InvalidSelector) return `threw code ${error.code}`;
      const { position } = error.details;
      if (typeof position !== "number" || !Number.isInteger(position) || position < 0 || position > input.length) {
        return `bad position ${String(position)}`;
      }
      const prefix = `Invalid selector at position ${position}: `;
      if (!error.message.startsWith(prefix)) return `bad message ${error.message}`;
      return undefined;
    }
    // Wrapping a valid selector must keep it valid and consistent with three-valued logic.
    const grouped = parseSelector(`(${input})`, { maxLength: 2048 });
    const negated = parseSelector(`NOT (${input})`, { maxLength: 2048 });
    for (let i = 0; i < 4; i++) {
      const headers = randomHeaders();
      const matches = selector.matches(headers);
      if (typeof matches !== "boolean") return `matches returned ${String(matches)}`;
      if (grouped.matches(headers) !== matches) return "(s) differs from s";
      if (matches && negated.matches(headers)) return "s and NOT (s) both match";
    }
    return undefined;
  };

  it("either compiles to a total predicate or throws an InvalidSelector HeraldError", () => {
    const failures: string[] = [];
    let compiled = 0;
    const record = (input: string) => {
      try {
        const failure = check(input);
        if (failure !== undefined) failures.push(`${JSON.stringify(input)}: ${failure}`);
      } catch (error) {
        failures.push(`${JSON.stringify(input)}: check threw ${String(error)}`);
      }
      if (isValid(input)) compiled++;
    };
    const seeds = rows.map((row) => row.selector);
    for (let i = 0; i < 10_000; i++) record(randomSelector());
    for (let i = 0; i < 10_000; i++) record(mutate(pick(seeds)));
    expect(failures.slice(0, 20)).toEqual([]);
    // Enough inputs must compile for the evaluator to be exercised too (about 7% do).
    expect(compiled).toBeGreaterThan(1_000);
  });

  it("stays bounded on pathological input", () => {
    const roomy = { maxLength: 1_000_000 };

    // Deep nesting is an error at the 65th level, not a stack overflow.
    const deep = `${"(".repeat(10_000)}a = 1${")".repeat(10_000)}`;
    expect(parseError(deep, roomy).details).toEqual({ position: 64 });
    expect(parseError(`${"NOT ".repeat(10_000)}a`, roomy).details).toEqual({ position: 256 });

    // A long flat chain is not nesting: AND and OR take any number of operands.
    const chain = parseSelector(Array.from({ length: 20_000 }, (_, i) => `a${i % 7} = ${i}`).join(" AND "), roomy);
    expect(chain.matches({ a0: "0" })).toBe(false);

    // LIKE backtracks only to the last %, so many % against a long near-miss stay cheap.
    const like = parseSelector("x LIKE '%a%a%a%a%a%a%a%a%a%a%b'", limits);
    expect(like.matches({ x: "a".repeat(100_000) })).toBe(false);
    expect(like.matches({ x: `${"a".repeat(100_000)}b` })).toBe(true);
    expect(parseSelector("x LIKE '%aaaaaaaaaab'", limits).matches({ x: "a".repeat(100_000) })).toBe(false);

    // Exactly at the limit compiles; one character more is rejected.
    const atLimit = `${"a = 1 OR ".repeat(112)}a = 123456789012`;
    expect(atLimit).toHaveLength(1024);
    expect(parseSelector(atLimit, limits).matches({ a: "123456789012" })).toBe(true);
    expect(parseError(`${atLimit}9`).details).toEqual({ limit: 1024 });
    expect(parseError(`'${"x".repeat(1023)}`).details).toEqual({ position: 0 });
  });
});

describe("LIKE against a regular-expression reference", () => {
  const random = mulberry32(0x11ce);
  const int = (below: number) => Math.floor(random() * below);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;

  /** LIKE the obvious way, over code points (flag u): `%` is `.*`, `_` is `.`, anchored. */
  const reference = (pattern: string, escape: string | undefined, value: string): boolean => {
    let source = "";
    const characters = [...pattern];
    for (let i = 0; i < characters.length; i++) {
      let character = characters[i]!;
      if (character === escape) character = characters[++i]!;
      else if (character === "%") character = ".*";
      else if (character === "_") character = ".";
      else character = character.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
      source += character;
    }
    return new RegExp(`^${source}$`, "su").test(value);
  };

  // Surrogate halves on their own, and together, as an emoji does.
  const characters = ["a", "b", "!", "%", "_", "😀", "\uD83D", "\uDE00"];
  /** `!%`, `!_` and `!!` stand for one literal character when the selector says ESCAPE '!'. */
  const isEscaped = (token: string) => token.length === 2 && token.startsWith("!");
  const randomValue = (length: number, alphabet: readonly string[]) => Array.from({ length }, () => pick(alphabet)).join("");
  /** A value the pattern matches (each `%` and `_` filled in), then perhaps one character changed. */
  const instanceOf = (tokens: readonly string[], alphabet: readonly string[]): string => {
    let value = tokens.map((token) => (token === "%" ? randomValue(int(4), alphabet) : token === "_" ? pick(alphabet) : isEscaped(token) ? token[1]! : token)).join("");
    if (random() < 0.5) {
      const at = int(value.length + 1);
      value = value.slice(0, at) + randomValue(int(2), alphabet) + value.slice(at + int(2));
    }
    return value;
  };

  const check = (cases: number, makeTokens: () => string[], alphabet: readonly string[]) => {
    const disagreements: string[] = [];
    let matched = 0;
    for (let i = 0; i < cases; i++) {
      const tokens = makeTokens();
      const escape = tokens.some(isEscaped) ? "!" : undefined;
      const pattern = tokens.join("");
      const value = random() < 0.5 ? instanceOf(tokens, alphabet) : randomValue(int(12), alphabet);
      const selector = parseSelector(`h LIKE '${pattern}'${escape ? ` ESCAPE '${escape}'` : ""}`, { maxLength: 10_000 });
      const expected = reference(pattern, escape, value);
      if (selector.matches({ h: value }) !== expected) disagreements.push(`${JSON.stringify(pattern)} on ${JSON.stringify(value)}: expected ${expected}`);
      if (expected) matched++;
    }
    expect(disagreements.slice(0, 10)).toEqual([]);
    // Both answers must be common, or agreeing would prove little.
    expect(matched).toBeGreaterThan(cases / 5);
    expect(matched).toBeLessThan((cases * 4) / 5);
  };

  it("agrees on short patterns with %, _, escapes and surrogates", () => {
    const escaping = [...characters.filter((c) => c !== "!"), "!%", "!_", "!!"];
    check(20_000, () => {
      const tokens = random() < 0.5 ? characters : escaping;
      return Array.from({ length: int(9) }, () => pick(tokens));
    }, characters);
  });

  it("agrees on long runs with _ between two %, past 32 characters (several words of Shift-And state)", () => {
    const runCharacters = ["a", "b", "_", "_", "😀"];
    const run = () => Array.from({ length: 20 + int(60) }, () => pick(runCharacters));
    const makeTokens = () => {
      const tokens = random() < 0.5 ? [] : run();
      for (let runs = 1 + int(2); runs > 0; runs--) tokens.push("%", ...run());
      if (random() < 0.5) tokens.push("%");
      return tokens;
    };
    check(500, makeTokens, ["a", "b", "😀"]);
  });
});
