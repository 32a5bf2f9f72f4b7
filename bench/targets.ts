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
      "the machine alone (`turn.machine`: its actors answer at once, no I/O) is about 0.65 to 0.77× the raw calls; the rest is the turn's own I/O path, which the raw calls skip: its POST made from an invoked actor with its abort signal, the hub's routing and progress watch, the codec's checks of each event and the reply queue. About 3% of it (25 to 30 µs, paired in one process) is the machine's second step for a batch whose deltas are followed by the turn's end, which lets the text out before the end is read (see the latency rows). A machine of the same shape that lives across turns spent about 95 µs less per turn than one actor per turn (146 against 241 µs), which would not close the gap either"
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
    whyMissed: "the p99 of 600 deltas is their 6th slowest, and what is left above 1 ms is pauses of the process: waits for the shared cores (timed with the process's CPU beside them, most machine steps over 1 ms had a fraction of their wall time as CPU: 2.9 ms with 0.26 ms of CPU, 8.9 ms with 2.8), young-generation GC pauses of 5 to 13 ms (one to four in a run of six turns), and a turn's first batch (its text part opening, 1 to 2 ms live, 0.05 to 0.12 ms replayed into the machine alone); the p50 is 0.2 to 0.4 ms, and in two of three bench sessions one run of three was under 1 ms (0.95 and 0.85 ms). The runs in this table were on a machine that did the same work about 1.6 times slower (the floor of the big turn: 1,298 against 816 ms of CPU the session before), which the ratios absorb and these milliseconds do not: p50 0.53 to 0.60 ms, p99 3.0 to 5.4 ms",
  },
  "scale.cpu.n1": { what: "client CPU of 1 turn on one real opencode, its own hub", against: "a hub (an `/event` reader) per turn" },
  "scale.cpu.n10": { what: "client CPU of 10 concurrent turns on one real opencode, one shared hub", against: "a hub (an `/event` reader) per turn" },
  "scale.cpu.n50": {
    what: "client CPU of 50 concurrent turns on one real opencode, one shared hub",
    against: "a hub (an `/event` reader) per turn",
    target: { on: "ratio", op: ">=", bound: 5 },
    readme: true,
    whyMissed:
      "the shared hub still pays for each turn's actor, HTTP calls and replies (about 3 ms of CPU per turn against opencode's real events, which are larger than the stand-in's); only the parsing of other turns' events is saved, and the baseline's readers skip other sessions' frames unparsed too; of a machine step for one delta (17 to 23 µs) the codec is 0.6 µs and XState's transition the rest, and two reshapings of the machine measured within the noise",
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
