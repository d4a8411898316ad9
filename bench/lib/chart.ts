import type { HeadlineRatio } from "./report.ts";

/**
 * The headline figures of a run as an SVG bar chart, next to its JSON and table: for each
 * scenario, how many times better Herald is than the limit (or bare handler), the peer and Centrifuge —
 * the ratio for a "higher is better" figure, its inverse for a "lower is better" one — on a log
 * scale around 1× (left of the line: the reference is better).
 */

const WIDTH = 760;
const LABEL_WIDTH = 250;
const ROW_HEIGHT = 22;
const BAR_HEIGHT = 8;
const TOP = 46;
/** A scenario's two lines of text and up to three bars. */
const SCENARIO_HEIGHT = ROW_HEIGHT * 2;
const MIN_RATIO = 0.05;
const MAX_RATIO = 50;

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** x of a ratio on the log axis. */
function xOf(ratio: number): number {
  const clamped = Math.min(Math.max(ratio, MIN_RATIO), MAX_RATIO);
  const span = Math.log(MAX_RATIO) - Math.log(MIN_RATIO);
  return LABEL_WIDTH + ((Math.log(clamped) - Math.log(MIN_RATIO)) / span) * (WIDTH - LABEL_WIDTH - 70);
}

const advantage = (ratio: number | undefined, better: HeadlineRatio["better"]) =>
  ratio === undefined || !Number.isFinite(ratio) || ratio <= 0 ? undefined : better === "higher" ? ratio : 1 / ratio;

const format = (value: number) => `${value.toFixed(value >= 10 ? 1 : 2)}×`;

export function headlineChart(ratios: readonly HeadlineRatio[], caption: string): string {
  const height = TOP + ratios.length * SCENARIO_HEIGHT + 40;
  const one = xOf(1);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="18" font-size="14" font-weight="600">Herald's headline figures: times better than each reference (log scale)</text>`,
    `<text x="10" y="34" fill="#666">${escape(caption)}</text>`,
  ];
  for (const tick of [0.1, 0.5, 1, 2, 5, 10]) {
    const x = xOf(tick);
    parts.push(`<line x1="${x}" y1="${TOP - 6}" x2="${x}" y2="${height - 30}" stroke="${tick === 1 ? "#333" : "#e4e4e4"}"/>`);
    parts.push(`<text x="${x}" y="${height - 16}" text-anchor="middle" fill="#666">${tick}×</text>`);
  }
  ratios.forEach((ratio, i) => {
    const y = TOP + i * SCENARIO_HEIGHT;
    parts.push(`<text x="10" y="${y + 12}">${escape(ratio.scenario)}</text>`);
    parts.push(`<text x="10" y="${y + 25}" fill="#666" font-size="10">${escape(ratio.metric)} (${ratio.better} is better)</text>`);
    const bars: [string, number | undefined, string][] = [
      [ratio.reference, advantage(ratio.vsReference, ratio.better), "#2f6fdb"],
      ["peer", advantage(ratio.vsPeer, ratio.better), "#e08a1e"],
      ["Centrifuge", advantage(ratio.vsCentrifuge, ratio.better), "#2a9d5c"],
    ];
    bars.forEach(([name, value, color], b) => {
      if (value === undefined) return;
      const barY = y + 4 + b * (BAR_HEIGHT + 4);
      const x = xOf(value);
      parts.push(`<rect x="${Math.min(one, x)}" y="${barY}" width="${Math.max(1, Math.abs(x - one))}" height="${BAR_HEIGHT}" fill="${color}"/>`);
      parts.push(`<text x="${Math.max(one, x) + 4}" y="${barY + BAR_HEIGHT}" font-size="10" fill="#333">${format(value)} vs ${escape(name)}</text>`);
    });
  });
  parts.push(`</svg>`);
  return parts.join("\n") + "\n";
}

/** The chart's second line: what was measured where, and when. */
export function chartCaption(machine: { cpus: number; cpuModel?: string | undefined; node: string; commit?: string | undefined }, options: { quick: boolean }, startedAt: Date): string {
  const commit = machine.commit ? `, commit ${machine.commit}` : "";
  return `${options.quick ? "quick run (not comparable), " : ""}${machine.cpus} × ${machine.cpuModel ?? "CPU"}, Node ${machine.node}, ${startedAt.toISOString().slice(0, 10)}${commit}`;
}
