/**
 * `npm run bench`: every cost of the engine as a ratio to a baseline measured in the same process,
 * the median of rounds. Writes bench/results.json (rows of { name, value, unit, baseline, ratio,
 * note }), bench/RESULTS.md and bench/scale.svg. Nothing here passes or fails on a number.
 *
 *   node --expose-gc --import tsx bench/run.ts [--tiny] [--out DIR] [--rounds N]
 *
 * `--tiny` runs every bench on a tiny input (the test suite does, to keep them working).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { scaleChart } from "./chart.js";
import { stopGcObserver, type Row, type Size } from "./measure.js";
import { realOpencodeBench } from "./real-opencode.bench.js";
import { throughputBench } from "./throughput.bench.js";
import { fixedCostBench, memoryBench } from "./turn.bench.js";

const { values } = parseArgs({ options: { tiny: { type: "boolean", default: false }, out: { type: "string" }, rounds: { type: "string" } } });
const size: Size = { tiny: values.tiny, rounds: Number(values.rounds ?? (values.tiny ? 1 : 9)) };
const out = values.out ?? fileURLToPath(new URL(".", import.meta.url));
mkdirSync(out, { recursive: true });

const startedAt = performance.now();
const log = (what: string) => console.error(`[bench ${((performance.now() - startedAt) / 1000).toFixed(0)} s] ${what}`);
const rows: Row[] = [];
log("memory");
rows.push(...(await memoryBench(size)));
log("fixed cost of a turn");
rows.push(...(await fixedCostBench(size)));
log("throughput of the big turn");
rows.push(...(await throughputBench(size)));
log("real opencode: latency and scale");
const real = await realOpencodeBench(size);
rows.push(...real.rows);
stopGcObserver();

const machine = `${cpus()[0]?.model ?? "unknown cpu"}, ${availableParallelism()} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`;
writeFileSync(`${out}/results.json`, `${JSON.stringify(rows, null, 2)}\n`);
writeFileSync(`${out}/scale.svg`, scaleChart(real.scale));
const cell = (v: number | null) => (v === null ? "" : String(v));
writeFileSync(
  `${out}/RESULTS.md`,
  [
    "# Bench results",
    "",
    `Written by \`npm run bench\`${size.tiny ? " (tiny input: these numbers mean nothing)" : ""} on ${new Date().toISOString().slice(0, 10)}.`,
    `Machine: ${machine}. ${size.rounds} rounds per ratio, medians; CPU is this process's user + system time.`,
    "",
    "| name | value | unit | baseline | ratio | what the ratio is |",
    "|---|---|---|---|---|---|",
    ...rows.map((r) => `| \`${r.name}\` | ${r.value} | ${r.unit} | ${cell(r.baseline)} | ${cell(r.ratio)} | ${r.note} |`),
    "",
    "Client CPU per turn, N concurrent turns on one real opencode (a `/event` reader per turn vs the shared hub):",
    "",
    "![scale curve](scale.svg)",
    "",
  ].join("\n"),
);
log(`wrote ${out}/results.json, RESULTS.md, scale.svg`);
for (const r of rows) console.log(`${r.name.padEnd(24)} ${String(r.value).padStart(10)} ${r.unit.padEnd(16)} ratio ${cell(r.ratio)}`);
process.exit(0);
