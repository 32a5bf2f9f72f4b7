/**
 * `npm run bench`: every cost of the engine as a ratio to a baseline measured in the same process,
 * the median of rounds. Each run is a process of its own (bench/one-run.ts); with `--runs N` every
 * row of bench/results.json is the median over the runs with its spread (min and max). Writes
 * results.json, RESULTS.md and scale.svg, and, writing to bench/ itself, the Numbers tables of
 * README.md and docs/performance.md. Nothing here passes or fails on a number.
 *
 *   node --expose-gc --import tsx bench/run.ts [--runs N] [--tiny] [--out DIR] [--rounds N]
 *
 * `--tiny` runs every bench on a tiny input (the test suite does, to keep them working).
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir, totalmem } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { scaleChart } from "./chart.js";
import { aggregate, aggregateScale, type ResultRow, type RunOutput } from "./results.js";
import { unexplained, writeTables } from "./tables.js";

const { values } = parseArgs({
  options: { tiny: { type: "boolean", default: false }, out: { type: "string" }, rounds: { type: "string" }, runs: { type: "string", default: "1" } },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs takes a whole number of runs, not ${values.runs}`);
const here = fileURLToPath(new URL(".", import.meta.url));
const out = path.resolve(values.out ?? here);
mkdirSync(out, { recursive: true });

const outputs: RunOutput[] = [];
const scratch = mkdtempSync(path.join(tmpdir(), "opencode-turns-bench-run-"));
try {
  for (let i = 1; i <= runs; i++) {
    const file = path.join(scratch, `run-${i}.json`);
    const args = [...process.execArgv, path.join(here, "one-run.ts"), file, "--run", `${i}/${runs}`, ...(values.tiny ? ["--tiny"] : []), ...(values.rounds ? ["--rounds", values.rounds] : [])];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "inherit"] });
    const exit = await new Promise<number | null>((resolve, reject) => child.once("error", reject).once("exit", resolve));
    if (exit !== 0) throw new Error(`bench run ${i}/${runs} failed (exit ${exit})`);
    outputs.push(JSON.parse(readFileSync(file, "utf8")) as RunOutput);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

const rows = aggregate(outputs);
const rounds = Number(values.rounds ?? (values.tiny ? 1 : 9));
const machine = `${cpus()[0]?.model ?? "unknown cpu"}, ${availableParallelism()} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`;
writeFileSync(path.join(out, "results.json"), `${JSON.stringify(rows, null, 2)}\n`);
writeFileSync(path.join(out, "scale.svg"), scaleChart(aggregateScale(outputs)));
writeFileSync(path.join(out, "RESULTS.md"), resultsMarkdown(rows));
if (out === path.resolve(here)) writeTables(rows);
console.error(`wrote ${out}/results.json, RESULTS.md, scale.svg${out === path.resolve(here) ? ", and the tables of README.md and docs/performance.md" : ""}`);
const spread = (r: ResultRow) => (r.spread.ratio ?? r.spread.value).join("–");
for (const r of rows) console.log(`${r.name.padEnd(24)} ${String(r.value).padStart(10)} ${r.unit.padEnd(18)} ratio ${String(r.ratio ?? "").padEnd(6)} over ${r.runs} run(s): ${spread(r)}`);
const missing = unexplained(rows);
if (missing.length > 0) console.error(`missed targets nobody explained yet (write why in bench/targets.ts, then npm run bench:table): ${missing.join(", ")}`);

function resultsMarkdown(rows: readonly ResultRow[]): string {
  const cell = (v: number | null) => (v === null ? "" : String(v));
  const range = (r: [number, number] | null) => (r === null ? "" : `${r[0]}–${r[1]}`);
  return [
    "# Bench results",
    "",
    `Written by \`npm run bench\`${values.tiny ? " (tiny input: these numbers mean nothing)" : ""} on ${new Date().toISOString().slice(0, 10)}.`,
    `Machine: ${machine}. ${runs} run${runs === 1 ? "" : "s"}, each a process of its own, of ${rounds} rounds per ratio; value, baseline and ratio are medians over the runs of each run's median, the spreads the lowest and highest run; CPU is the measuring process's user + system time unless a note says otherwise.`,
    "",
    "| name | value | unit | baseline | ratio | spread of value | spread of ratio | what the ratio is |",
    "|---|---|---|---|---|---|---|---|",
    ...rows.map((r) => `| \`${r.name}\` | ${r.value} | ${r.unit} | ${cell(r.baseline)} | ${cell(r.ratio)} | ${range(r.spread.value)} | ${range(r.spread.ratio)} | ${r.note} |`),
    "",
    "Client CPU per turn, N concurrent turns on one real opencode (a `/event` reader per turn vs the shared hub):",
    "",
    "![scale curve](scale.svg)",
    "",
  ].join("\n");
}
