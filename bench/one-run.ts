/**
 * One run of every bench, in a process of its own (bench/run.ts starts one per run, so no run
 * inherits another's heap or JIT): writes `{ rows, scale }` as JSON to FILE.
 *
 *   node --expose-gc --import tsx bench/one-run.ts FILE [--tiny] [--rounds N] [--run I/N]
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { bridgeBench } from "./bridge.bench.js";
import { cliBench } from "./cli.bench.js";
import { stopGcObserver, type Row, type Size } from "./measure.js";
import { realOpencodeBench } from "./real-opencode.bench.js";
import { throughputBench } from "./throughput.bench.js";
import { fixedCostBench, memoryBench } from "./turn.bench.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { tiny: { type: "boolean", default: false }, rounds: { type: "string" }, run: { type: "string", default: "1/1" } },
});
const file = positionals[0];
if (file === undefined) throw new Error("usage: bench/one-run.ts FILE [--tiny] [--rounds N] [--run I/N]");
const size: Size = { tiny: values.tiny, rounds: Number(values.rounds ?? (values.tiny ? 1 : 9)) };

const startedAt = performance.now();
const log = (what: string) => console.error(`[bench run ${values.run}, ${((performance.now() - startedAt) / 1000).toFixed(0)} s] ${what}`);
const rows: Row[] = [];
log("memory");
rows.push(...(await memoryBench(size)));
log("fixed cost of a turn");
rows.push(...(await fixedCostBench(size)));
log("throughput of the big turn");
rows.push(...(await throughputBench(size)));
log("the big turn through the bridge and the Python adapter");
rows.push(...(await bridgeBench(size)));
log("the CLI's start");
rows.push(...(await cliBench(size)));
log("real opencode: latency and scale");
const real = await realOpencodeBench(size);
rows.push(...real.rows);
stopGcObserver();
writeFileSync(file, JSON.stringify({ rows, scale: real.scale }));
log("done");
process.exit(0);
