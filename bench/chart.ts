/**
 * Redraws a results file's chart: `tsx bench/chart.ts bench/results/latest.json` writes
 * `bench/results/latest.svg` (`npm run bench` writes it itself; this is for older results).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { chartCaption, headlineChart } from "./lib/chart.ts";
import { headlineRatios, type ScenarioRun } from "./lib/report.ts";

const path = process.argv[2] ?? "bench/results/latest.json";
const report = JSON.parse(readFileSync(path, "utf8")) as {
  generatedAt: string;
  mode: string;
  machine: { cpus: number; cpuModel: string; node: string; commit?: string };
  scenarios: (ScenarioRun["scenario"] & { runs: ScenarioRun["runs"]; heraldSource: string })[];
};
const runs: ScenarioRun[] = report.scenarios.map((scenario) => ({ scenario, runs: scenario.runs, heraldSource: scenario.heraldSource }));
const svg = headlineChart(headlineRatios(runs), chartCaption(report.machine, { quick: report.mode === "quick" }, new Date(report.generatedAt)));
const out = path.replace(/\.json$/, ".svg");
writeFileSync(out, svg);
console.log(`Wrote ${out}`);
