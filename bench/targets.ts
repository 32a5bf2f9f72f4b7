/**
 * What each row of bench/results.json is, against what, the target for it, and, written by
 * whoever looked, why a missed target is missed. The tables (bench/tables.ts) are made from this and
 * results.json; `met` is computed, never written: a reason shows only while its target is missed,
 * and test/bench.test.ts fails on a missed target without one.
 */
import type { ResultRow } from "./results.js";

export interface Target {
  /** Which number of the row the target is on. */
  on: "value" | "ratio";
  op: "<" | "<=" | ">" | ">=";
  bound: number;
  /** A weaker bound that counts as partly met ("0.8× at the least"). */
  least?: number;
  /** Met only if every run meets it (the worst run), not the median. */
  everyRun?: boolean;
  /** How the value's unit reads after the bound ("B", "ms"); ratios read "×". */
  unit?: string;
}

export interface Meaning {
  what: string;
  /** The baseline the ratio is against; "" for a number of its own. */
  against: string;
  target?: Target;
  /** One of the README's rows (the rest are in docs/performance.md only). */
  readme?: boolean;
  whyMissed?: string;
}

const BIG_TURN = "the big turn (200,000 deltas, another session's frame after every 4 of ours), prompt → final";
const FLOOR = "bare undici + eventsource-parser + `JSON.parse` of every frame";

export const MEANINGS: Record<string, Meaning> = {
  "memory.slope": {
    what: "heap growth per tiny turn, one long-lived adapter (after GC)",
    against: "",
    target: { on: "value", op: "<", bound: 100, unit: "B" },
    readme: true,
  },
  "turn.fixed": {
    what: "CPU of a tiny turn (session known, stream open)",
    against: "the raw HTTP calls it needs (undici POST, an open raw `/event` reader)",
    target: { on: "ratio", op: "<=", bound: 2 },
    readme: true,
    whyMissed:
      "the turn machine with its real actors, one actor per turn, is the rest: the machine alone (`turn.machine`, actors that answer at once) is 0.55 to 0.84× the raw calls by itself (by machine), and a CPU profile of such turns puts most of what they add over the hub alone in XState's own steps (three actors made, 5 macrosteps, their snapshots, about 25 KB allocated a macrostep); the hub and its HTTP alone take 1.0 to 1.1× the raw calls and the adapter about 60 µs more. A machine of the same shape that lives across turns spent about 95 µs less per turn, but a turn would then no longer be an actor of its own, which is the machine's contract (`turnMachine`, `runTurn`). Until the bench had each variant open only what it needs, the adapter's session watch read every raw turn's events and the raw reader every adapter turn's, which billed the raw calls about 130 µs a turn of the adapter's reading and showed 2.2 to 2.5× where the same code is 2.5 to 3.2×; on an Intel Xeon the biased bench gave 3.0 to 3.5×"
  },
  "turn.machine": {
    what: "CPU of the same tiny turn's machine alone (its actors answer at once, its events handed over parsed, no I/O)",
    against: "the same raw HTTP calls",
  },
  "throughput.pipeline": {
    what: `${BIG_TURN}, through \`OpenCodeAdapter\``,
    against: FLOOR,
    target: { on: "ratio", op: ">=", bound: 1, least: 0.8 },
    readme: true,
  },
  "throughput.hub": { what: "the same turn through the event hub alone (parse, route, hand over)", against: FLOOR },
  "throughput.hubCodec": { what: "the same turn through the hub and the codec, no machine", against: FLOOR },
  "throughput.sdk": {
    what: "the same turn through the shared hub",
    against: "`@opencode-ai/sdk` v2 `event.subscribe()` (both hand over parsed events)",
    target: { on: "ratio", op: ">", bound: 1 },
    readme: true,
  },
  "throughput.sdk.pipeline": { what: "the same turn through the whole pipeline", against: "`@opencode-ai/sdk` v2 `event.subscribe()`" },
  "gc.pipeline": {
    what: "GC pauses in the big turn through the pipeline",
    against: "GC pauses in the same turn through hub + codec",
    target: { on: "ratio", op: "<=", bound: 1 },
    readme: true,
    whyMissed:
      "since the hub joins a run of deltas into one event, the pipeline allocates per run, not per delta, what hub + codec alone do not (the machine's event and snapshot, the reply, its queue entry); that is within 4 to 7% on the median, with one run under the bound",
  },
  "latency.added.p50": { what: "a delta at the sink, after a raw reader on a second `/event` connection saw it, p50", against: "" },
  "latency.added.p99": {
    what: "a delta at the sink, after a raw reader on a second `/event` connection saw it, p99",
    against: "",
    target: { on: "value", op: "<", bound: 1, unit: "ms" },
    readme: true,
    whyMissed: "most of it is opencode's, which writes to its two subscribers at different moments: runs of consecutive deltas arrive late by the same few ms (the own-bytes rows leave that out)",
  },
  "latency.own.p50": { what: "a delta at the sink, after a raw reader parsing the hub's own chunks saw it, p50", against: "" },
  "latency.own.p99": {
    what: "a delta at the sink, after a raw reader parsing the hub's own chunks saw it, p99",
    against: "",
    target: { on: "value", op: "<", bound: 1, unit: "ms", everyRun: true },
    readme: true,
    whyMissed:
      "the p99 of 600 deltas is their 6th slowest, and what is above 1 ms is pauses of the process: waits for the shared cores, young-generation GC pauses of 5 to 13 ms, and a turn's first batch (its text part opening, 1 to 2 ms live); on a fast, quiet machine every run is under 1 ms (0.68 to 0.91 ms; the tables' runs 0.52 to 0.89 ms), on one that did the big turn 1.4 times slower 1.2 to 2.1 ms, and on one 1.6 times slower 3.0 to 5.4 ms"
  },
  "scale.cpu.n1": { what: "client CPU of 1 turn on one real opencode, its own hub", against: "a hub (an `/event` reader) per turn" },
  "scale.cpu.n10": { what: "client CPU of 10 concurrent turns on one real opencode, one shared hub", against: "a hub (an `/event` reader) per turn" },
  "scale.cpu.n50": {
    what: "client CPU of 50 concurrent turns on one real opencode, one shared hub",
    against: "a hub (an `/event` reader) per turn",
    target: { on: "ratio", op: ">=", bound: 5 },
    readme: true,
    whyMissed:
      "the shared hub saves each turn its own stream, and what is left is each turn's own work, which the baseline pays too: in one process, 50 turns took 57 to 102 ms of CPU through one hub with no machine against 401 to 539 ms with a hub each (5.3 to 7×), and 114 to 205 ms with the turn machine against 522 to 674 ms (3.3 to 4.6×; medians of two runs of 9 rounds): the machine with its real actors adds 1.1 to 1.4 ms a turn over the same turns' I/O through the hub alone, while the machine given a recorded turn's events with actors that answer at once costs about 0.3 ms a turn (the codec 25 to 30 µs of it, warm), 50 at a time as one at a time. Live the codec was cold, 290 to 305 µs a turn over a bench's 400 turns, most of it zod's parse, which V8 optimizes late; it now reads a turn's messages, parts and statuses by hand first (20 to 70 µs a turn cold, 5 to 8 µs warm; 50 turns took 120 to 133 against 141 to 151 ms of CPU a round), which lowers both sides by about the same and moved the ratio less than its spread (4.24 to 5.16 in the tables' runs, 4.43 to 5.2 before). Where the rest goes was not found; each round's new hub opens a connection for each of its 50 POSTs, and one hub kept across rounds against per-turn hubs on one shared HTTP pool measured 4.4×"
  },
  "bridge.replies": {
    what: "opencode deltas per second of the big turn through `opencode-turns bridge`, its NDJSON parsed by a Node reader",
    against: "the library's sink in process",
    readme: true,
  },
  "bridge.cpu": { what: "CPU per opencode delta of the bridge process, same turn", against: "the library in process", readme: true },
  "python.replies": {
    what: "opencode deltas per second of the big turn reaching the Python adapter's sink (over its bridge)",
    against: "the Node reader of the bridge alone",
    readme: true,
  },
  "python.cpu": { what: "CPU of the Python process, same turn", against: "its bridge process's CPU", readme: true },
  "cli.start": {
    what: "CPU of a start of the CLI as built (`opencode-turns --help`: every module loaded, nothing run), as every run and every Python host's bridge pays it",
    against: "Node starting with nothing to run (`node -e \"\"`)",
    readme: true,
  },
};

/** A row's meaning; a row nobody described yet is told by its note. */
export const meaningOf = (row: ResultRow): Meaning => MEANINGS[row.name] ?? { what: row.note, against: "" };

const SYMBOL = { "<": "<", "<=": "≤", ">": ">", ">=": "≥" } as const;
const passes = (x: number, op: Target["op"], bound: number) => (op === "<" ? x < bound : op === "<=" ? x <= bound : op === ">" ? x > bound : x >= bound);

export function targetText(target: Target): string {
  const unit = (bound: number) => (target.on === "ratio" ? `${bound}×` : `${bound} ${target.unit ?? ""}`.trimEnd());
  const least = target.least === undefined ? "" : ` (${SYMBOL[target.op]} ${unit(target.least)} at the least)`;
  return `${SYMBOL[target.op]} ${unit(target.bound)}${least}${target.everyRun ? " on every run" : ""}`;
}

export type Verdict = "yes" | "partly" | "no";

/** Whether the row meets its target: on the median over the runs, or with `everyRun` on the worst run. */
export function verdict(row: ResultRow, target: Target): Verdict {
  const median = target.on === "ratio" ? row.ratio : row.value;
  const spread = target.on === "ratio" ? row.spread.ratio : row.spread.value;
  if (median === null || spread === null) return "no";
  const worst = target.op === "<" || target.op === "<=" ? spread[1] : spread[0];
  const x = target.everyRun ? worst : median;
  if (passes(x, target.op, target.bound)) return "yes";
  return target.least !== undefined && passes(x, target.op, target.least) ? "partly" : "no";
}
