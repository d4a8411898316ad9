import type { Percentiles } from "./jobs.ts";

/** A fixed-capacity sample store: samples past `capacity` are counted in the mean but not kept. */
export interface Samples {
  add(value: number): void;
  readonly count: number;
  summarize(): Percentiles;
}

export function createSamples(capacity: number): Samples {
  const values = new Float64Array(Math.max(1, capacity));
  let kept = 0;
  let count = 0;
  let total = 0;
  let max = 0;
  return {
    add(value) {
      count++;
      total += value;
      if (value > max) max = value;
      if (kept < values.length) values[kept++] = value;
    },
    get count() {
      return count;
    },
    summarize() {
      if (count === 0) return { p50: NaN, p99: NaN, max: NaN, mean: NaN };
      const sorted = values.subarray(0, kept).sort();
      const at = (q: number) => sorted[Math.min(kept - 1, Math.ceil(q * kept) - 1)]!;
      return { p50: at(0.5), p99: at(0.99), max, mean: total / count };
    },
  };
}
