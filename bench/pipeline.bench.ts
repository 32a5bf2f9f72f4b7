/**
 * Throughput and memory of the event pipeline, as RATIOS against a baseline run in the same process.
 *
 *   npm run bench        (node --expose-gc --import tsx bench/pipeline.bench.ts)
 *
 * The machine is shared and noisy, so nothing here is an absolute pass/fail threshold: every
 * workload is warmed up, then runs in rounds where every candidate sample is paired back to back
 * with its own baseline sample (order alternating), and the median of the per-pair ratios is
 * reported. events/s always counts the frames on
 * the wire (every frame of the replayed stream), so ratio = baseline time / candidate time.
 *
 *   baseline   eventsource-parser createParser + TextDecoder + JSON.parse of every frame
 *   hub        the real EventHub (duck-typed OpencodeHttp), one listener on our session
 *   pipeline   EventHub → the turn machine as the adapter provides it (provideTurnMachine) → codec
 *              → emitted replies pushed into an array; one turn per replay, timed until the actor
 *              is final AND the stream is drained (a little stricter than "until final")
 *   codec      mapOpencodeEvents over the already parsed events of the stream
 *
 * Workloads: the 2000-delta turn in 4 KiB and 64 KiB chunks and one chunk per frame (what a live
 * token stream delivers), the two-session capture (our turn is the first session), and a synthetic
 * stream of 10 copies of the 2000-delta turn under different session ids, interleaved frame by
 * frame, of which only one is ours.
 *
 * Chunks are replayed through an async generator for baseline, hub and pipeline alike.
 * Results go to bench/results.json (overwritten). Exits 0 whatever the ratios.
 */
import { writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { createParser } from "eventsource-parser";
import { createActor, toPromise } from "xstate";
import type { TurnInput } from "../machines/turn.machine.js";
import { initialTurnState, mapOpencodeEvents, type TurnState } from "../src/codec.js";
import type { Reply } from "../src/replies.js";
import { EventHub, type HubListener } from "../src/transport/event-hub.js";
import type { OpencodeHttp } from "../src/transport/http.js";
import { provideTurnMachine } from "../src/turn-actors.js";
import { loadRecording, userMessageId } from "../test/fixtures/recordings.js";

const TARGET_RATIO = 0.5; // the project's target: full pipeline >= 0.5x baseline throughput
const WARMUP_MS = 100; // per variant and workload (at least 3 replays), then a sample-size calibration
const BASELINE_SAMPLE_MS = 20; // a sample is sized so the baseline takes about this long
const MIN_ROUNDS = 3;
const MAX_ROUNDS = 31;
const THROUGHPUT_BUDGET_MS = 34_000; // shared by the workloads (a full run stays under ~60 s)
const MEMORY_N = 500;
const MEMORY_REPEATS = 3;

const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error("run with node --expose-gc (npm run bench)");
  });
const startedAt = performance.now();

// ---------------------------------------------------------------------------------------------
// Workloads

interface Workload {
  name: string;
  chunks: Uint8Array[];
  /** Every frame of the stream, parsed (input of the codec-alone candidate). */
  events: unknown[];
  frames: number;
  bytes: number;
  sessionId: string;
  messageId: string;
  /** Events of our session (what the hub must deliver). */
  ours: number;
}

function framesOf(raw: string): string[] {
  const frames: string[] = [];
  createParser({ onEvent: (e) => frames.push(e.data) }).feed(raw);
  return frames;
}

function sessionOf(event: unknown): string | undefined {
  const p = (event as { properties?: Record<string, any> }).properties ?? {};
  return p.sessionID ?? p.info?.sessionID ?? p.part?.sessionID;
}

function chunk(bytes: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
}

/** `chunkSize` "frame": one chunk per frame, as a live stream delivers tokens one at a time. */
function workload(name: string, frames: string[], chunkSize: number | "frame", sessionId: string, messageId: string): Workload {
  const encoder = new TextEncoder();
  const wire = frames.map((data) => `data: ${data}\n\n`);
  const bytes = encoder.encode(wire.join(""));
  const events = frames.map((data) => JSON.parse(data) as unknown);
  return {
    name,
    chunks: chunkSize === "frame" ? wire.map((f) => encoder.encode(f)) : chunk(bytes, chunkSize),
    events,
    frames: frames.length,
    bytes: bytes.length,
    sessionId,
    messageId,
    ours: events.filter((e) => sessionOf(e) === sessionId).length,
  };
}

/** N copies of a single-session stream, frames interleaved round-robin; only copy 0 is ours. */
function interleaved(frames: string[], sessionId: string, n: number): string[] {
  const copies = [frames];
  for (let k = 1; k < n; k++) {
    const other = `ses_bench${String(k).padStart(3, "0")}`.padEnd(sessionId.length, "x");
    copies.push(frames.filter((f) => !f.includes('"server.connected"')).map((f) => f.replaceAll(sessionId, other)));
  }
  const out: string[] = [];
  const longest = Math.max(...copies.map((c) => c.length));
  for (let i = 0; i < longest; i++) for (const copy of copies) if (i < copy.length) out.push(copy[i]!);
  return out;
}

function buildWorkloads(): Workload[] {
  const long = loadRecording("long-2000-deltas");
  const two = loadRecording("two-sessions-interleaved");
  const longSid = long.sessionIDs[0]!;
  const twoSid = two.sessionIDs[0]!;
  const longFrames = framesOf(long.raw);
  const longMsg = userMessageId(long, longSid);
  const synthetic = interleaved(longFrames, longSid, 10);
  return [
    workload("long-2000 @4KiB", longFrames, 4 * 1024, longSid, longMsg),
    workload("long-2000 @64KiB", longFrames, 64 * 1024, longSid, longMsg),
    workload("long-2000 @frame", longFrames, "frame", longSid, longMsg),
    workload("two-sessions @4KiB", framesOf(two.raw), 4 * 1024, twoSid, userMessageId(two, twoSid)),
    workload("10-sessions @4KiB", synthetic, 4 * 1024, longSid, longMsg),
    workload("10-sessions @64KiB", synthetic, 64 * 1024, longSid, longMsg),
  ];
}

// ---------------------------------------------------------------------------------------------
// The fakes: an OpencodeHttp whose /event body is a replay of chunks

async function* replay(chunks: readonly Uint8Array[], drained?: () => void): AsyncGenerator<Uint8Array> {
  try {
    for (const c of chunks) yield c;
  } finally {
    drained?.();
  }
}

function fakeHttp(openEvents: (signal: AbortSignal) => AsyncIterable<Uint8Array>): OpencodeHttp {
  const fake = {
    target: { baseUrl: "http://bench.invalid", username: "opencode", password: undefined, directory: undefined, connectTimeoutMs: 60_000 },
    origin: "http://bench.invalid",
    openEvents: async (signal: AbortSignal) => openEvents(signal),
    // Every other call (the prompt) succeeds at once with an empty body.
    call: async () => undefined,
    close: async () => undefined,
  };
  return fake as unknown as OpencodeHttp;
}

const HUB_OPTIONS = { heartbeatTimeoutMs: 60_000 };

function turnInput(sessionId: string, messageId: string, traceId = "bench-trace"): TurnInput {
  return {
    traceId,
    messageId,
    prompt: { parts: [{ type: "text", text: "bench" }] },
    sessionId,
    // The session is taken as found, so no call is made for it.
    sessionVerified: true,
    sessionTitle: undefined,
    maxProviderRetries: 3,
    maxReconnects: 3,
    children: [],
    graceMs: 5_000,
  };
}

/**
 * The machine exactly as the adapter provides it (`provideTurnMachine`), on a hub over the fake
 * stream: the prompt call answers at once and no ask is ever raised.
 */
function provideMachine(hub: EventHub) {
  const never = () => Promise.reject(new Error("the bench raises no asks"));
  return provideTurnMachine({ hub, decidePermission: never, decideQuestion: never });
}

// ---------------------------------------------------------------------------------------------
// One replay of each variant

let sink: unknown; // keeps results observable so nothing is optimised away

async function runBaseline(w: Workload): Promise<number> {
  let n = 0;
  const decoder = new TextDecoder();
  const parser = createParser({
    onEvent: (e) => {
      sink = JSON.parse(e.data);
      n++;
    },
  });
  for await (const c of replay(w.chunks)) parser.feed(decoder.decode(c, { stream: true }));
  return n;
}

async function runHub(w: Workload): Promise<number> {
  let delivered = 0;
  let ended!: () => void;
  const done = new Promise<void>((resolve) => (ended = resolve));
  const hub = new EventHub(fakeHttp(() => replay(w.chunks)), HUB_OPTIONS);
  const listener: HubListener = { events: (batch) => void (delivered += batch.length), lost: () => ended() };
  hub.subscribe(w.sessionId, listener);
  await hub.connect();
  await done; // lost() comes once the stream has ended: the whole body went through the hub
  return delivered;
}

// One adapter's worth of hub and machine for the whole bench; each turn opens the stream anew, and
// the stream replays the workload of the turn.
const pipelineStream = { chunks: [] as readonly Uint8Array[], drained: () => undefined as void };
const pipelineHub = new EventHub(fakeHttp(() => replay(pipelineStream.chunks, pipelineStream.drained)), HUB_OPTIONS);
const pipelineMachine = provideMachine(pipelineHub);

async function runPipeline(w: Workload): Promise<Reply[]> {
  const replies: Reply[] = [];
  const streamDone = new Promise<void>((resolve) => (pipelineStream.drained = resolve));
  pipelineStream.chunks = w.chunks;
  const actor = createActor(pipelineMachine, { input: turnInput(w.sessionId, w.messageId) });
  actor.on("replies", (event) => replies.push(...event.replies));
  const finished = toPromise(actor);
  actor.start();
  actor.send({ type: "START" });
  await finished;
  await streamDone;
  actor.stop();
  return replies;
}

function runCodec(w: Workload): TurnState {
  const state = initialTurnState({ traceId: "bench-trace", sessionId: w.sessionId, messageId: w.messageId, maxProviderRetries: 3 });
  const step = mapOpencodeEvents(w.events, state);
  sink = step.replies.length;
  return step.state;
}

// ---------------------------------------------------------------------------------------------
// Sanity: every variant does the whole job (a bench of a broken path measures nothing)

async function check(w: Workload): Promise<void> {
  const fail = (what: string) => {
    throw new Error(`bench sanity check failed on ${w.name}: ${what}`);
  };
  if ((await runBaseline(w)) !== w.frames) fail("baseline did not parse every frame");
  if ((await runHub(w)) !== w.ours) fail(`hub delivered a different number of events than the ${w.ours} of our session`);
  const codec = runCodec(w);
  if (codec.outcome?.kind !== "final") fail("the codec alone did not reach final");
  const replies = await runPipeline(w);
  const last = replies.at(-1);
  if (last?.kind !== "final") fail(`the pipeline's last reply is ${last?.kind}, not final`);
  const deltas = replies.filter((r) => r.kind === "delta").map((r) => (r as { content: string }).content);
  if (deltas.length === 0) fail("the pipeline delivered no delta");
  if ((last as { content: string }).content !== deltas.join("")) fail("final is not the concatenation of the deltas");
  if ((last as { content: string }).content !== codec.content) fail("pipeline and codec-alone disagree on the content");
}

// ---------------------------------------------------------------------------------------------
// Timing

type Variant = "baseline" | "hub" | "pipeline" | "codec";
const VARIANTS: Variant[] = ["baseline", "hub", "pipeline", "codec"];
const CANDIDATES: Exclude<Variant, "baseline">[] = ["hub", "pipeline", "codec"];

async function sample(variant: Variant, w: Workload, reps: number): Promise<number> {
  gc();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    if (variant === "baseline") await runBaseline(w);
    else if (variant === "hub") await runHub(w);
    else if (variant === "pipeline") await runPipeline(w);
    else runCodec(w);
  }
  return performance.now() - t0;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface CandidateResult {
  eventsPerSec: number;
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  ratios: number[];
}
interface WorkloadResult {
  workload: string;
  frames: number;
  bytes: number;
  chunks: number;
  ourEvents: number;
  repsPerSample: number;
  rounds: number;
  baselineEventsPerSec: number;
  candidates: Record<string, CandidateResult>;
}

/**
 * Warm-up, then rounds; in each round every candidate runs back to back with its own baseline
 * sample (order alternating), so a burst of load from elsewhere hits both sides of a ratio.
 */
async function measure(w: Workload, budgetMs: number): Promise<WorkloadResult> {
  const warmStart = performance.now();
  for (const v of VARIANTS) {
    const until = performance.now() + WARMUP_MS;
    for (let n = 0; n < 3 || performance.now() < until; n++) await sample(v, w, 1);
  }
  // Size a sample so the baseline takes ~BASELINE_SAMPLE_MS: short samples, many rounds.
  let reps = 1;
  while ((await sample("baseline", w, reps)) < BASELINE_SAMPLE_MS / 2 && reps < 4096) reps *= 2;
  const probe = median([await sample("baseline", w, reps), await sample("baseline", w, reps), await sample("baseline", w, reps)]);
  reps = Math.max(1, Math.round((reps * BASELINE_SAMPLE_MS) / probe));
  // Rounds until this workload's share of the budget is spent (at least MIN_ROUNDS, however slow).
  const deadline = warmStart + budgetMs;
  const base: number[] = [];
  const times: Record<string, number[]> = {};
  const ratios: Record<string, number[]> = {};
  let rounds = 0;
  for (let r = 0; r < MAX_ROUNDS && (r < MIN_ROUNDS || performance.now() < deadline); r++, rounds++) {
    for (let k = 0; k < CANDIDATES.length; k++) {
      const c = CANDIDATES[(k + r) % CANDIDATES.length]!;
      let tb: number;
      let tc: number;
      if ((r + k) % 2 === 0) {
        tb = await sample("baseline", w, reps);
        tc = await sample(c, w, reps);
      } else {
        tc = await sample(c, w, reps);
        tb = await sample("baseline", w, reps);
      }
      base.push(tb);
      (times[c] ??= []).push(tc);
      (ratios[c] ??= []).push(tb / tc);
    }
  }
  const eps = (ms: number) => Math.round((w.frames * reps) / (ms / 1000));
  const candidates: Record<string, CandidateResult> = {};
  for (const c of CANDIDATES) {
    const rs = ratios[c]!;
    candidates[c] = {
      eventsPerSec: eps(median(times[c]!)),
      ratio: round(median(rs), 3),
      ratioMin: round(Math.min(...rs), 3),
      ratioMax: round(Math.max(...rs), 3),
      ratios: rs.map((x) => round(x, 3)),
    };
  }
  return {
    workload: w.name,
    frames: w.frames,
    bytes: w.bytes,
    chunks: w.chunks.length,
    ourEvents: w.ours,
    repsPerSample: reps,
    rounds,
    baselineEventsPerSec: eps(median(base)),
    candidates,
  };
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

// ---------------------------------------------------------------------------------------------
// Memory: retained heap per live object, against plain objects holding the same input

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Median over repeats of (heapUsed after creating n items − before) / n, in bytes. */
async function retained(make: (i: number, rep: number) => unknown, settle?: (items: unknown[]) => Promise<void>, dispose?: (items: unknown[]) => Promise<void>): Promise<number> {
  // Warm-up: code compiled and caches filled on first use are not per-object costs.
  const warm = Array.from({ length: 50 }, (_, i) => make(i, MEMORY_REPEATS));
  if (settle) await settle(warm);
  if (dispose) await dispose(warm);
  const per: number[] = [];
  for (let rep = 0; rep < MEMORY_REPEATS; rep++) {
    const items: unknown[] = new Array(MEMORY_N);
    const before = heapAfterGc();
    for (let i = 0; i < MEMORY_N; i++) items[i] = make(i, rep);
    if (settle) await settle(items);
    const after = heapAfterGc();
    per.push((after - before) / MEMORY_N);
    if (dispose) await dispose(items);
    sink = items.length;
  }
  return median(per);
}

/** A hub whose stream says server.connected and then stays open until the hub is closed. */
function openHub(): EventHub {
  const connected = new TextEncoder().encode('data: {"type":"server.connected","properties":{}}\n\n');
  return new EventHub(
    fakeHttp(async function* (signal) {
      yield connected;
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    }),
    HUB_OPTIONS,
  );
}

async function measureMemory(sessionId: string, messageId: string) {
  const sid = (i: number, rep: number) => `${sessionId.slice(0, -8)}${String(rep * MEMORY_N + i).padStart(8, "0")}`;
  const input = (i: number, rep: number) => turnInput(sid(i, rep), messageId, `bench-trace-${rep}-${i}`);
  const stopAll = async (items: unknown[]) => items.forEach((a) => (a as { stop(): void }).stop());
  const baseline = await retained((i, rep) => ({ ...input(i, rep) }));

  const hub = openHub();
  await hub.connect();
  const machine = provideMachine(hub);
  const idleActor = await retained((i, rep) => createActor(machine, { input: input(i, rep) }).start(), undefined, stopAll);
  const liveActor = await retained(
    (i, rep) => {
      const actor = createActor(machine, { input: input(i, rep) });
      actor.subscribe({ error: () => undefined });
      actor.start();
      actor.send({ type: "START" });
      return actor;
    },
    async (items) => {
      for (let t = 0; t < 20; t++) {
        await tick();
        if (items.every((a) => (a as { getSnapshot(): { matches(s: unknown): boolean } }).getSnapshot().matches({ live: { streaming: "receiving" } }))) return;
      }
      throw new Error("the live actors did not reach live.streaming.receiving");
    },
    stopAll,
  );
  const noop: HubListener = { events: () => undefined, lost: () => undefined };
  const subscription = await retained(
    (i, rep) => hub.subscribe(sid(i, rep), { events: noop.events, lost: noop.lost }),
    undefined,
    async (items) => items.forEach((unsubscribe) => (unsubscribe as () => void)()),
  );
  const provided = await retained(() => provideMachine(hub));
  await hub.close();

  const kib = (bytes: number) => round(bytes / 1024, 2);
  const row = (what: string, bytes: number) => ({ what, kib: kib(bytes), ratio: round(bytes / baseline, 1) });
  return {
    n: MEMORY_N,
    repeats: MEMORY_REPEATS,
    baselinePlainObjectKiB: kib(baseline),
    rows: [
      row("turn actor, started, idle", idleActor),
      row("turn actor in live.streaming.receiving (+ its hub sub)", liveActor),
      row("hub subscription alone", subscription),
      row("turnMachine.provide() (once per adapter)", provided),
    ],
  };
}

/**
 * Fixed costs that do not scale with events (µs each, median of 5 timed runs): provide() once per
 * adapter, actor create/start/stop once per turn, and the XState cost of one EVENTS batch (empty,
 * so no codec work) that the live turn pays per network chunk.
 */
async function fixedCosts() {
  const hub = openHub();
  await hub.connect();
  const machine = provideMachine(hub);
  const time = (n: number, fn: () => void) => {
    const per: number[] = [];
    for (let rep = 0; rep < 6; rep++) {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) fn();
      if (rep > 0) per.push(((performance.now() - t0) * 1000) / n);
    }
    return round(median(per), 2);
  };
  const provideUs = time(100, () => void (sink = provideMachine(hub)));
  const createStartStopUs = time(200, () => createActor(machine, { input: turnInput("ses_x", "msg_x") }).start().stop());
  const actor = createActor(machine, { input: turnInput("ses_x", "msg_x") });
  actor.subscribe({ error: () => undefined });
  actor.start();
  actor.send({ type: "START" });
  for (let t = 0; t < 20 && !actor.getSnapshot().matches({ live: { streaming: "receiving" } }); t++) await tick();
  if (!actor.getSnapshot().matches({ live: { streaming: "receiving" } })) throw new Error("the actor did not reach live.streaming.receiving");
  const empty: unknown[] = [];
  const eventsBatchUs = time(5_000, () => actor.send({ type: "EVENTS", events: empty }));
  actor.stop();
  await hub.close();
  return { provideUs, createStartStopUs, eventsBatchUs };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  // Memory first, while the heap is small (every measurement there is a full GC).
  const long = loadRecording("long-2000-deltas");
  const memory = await measureMemory(long.sessionIDs[0]!, userMessageId(long, long.sessionIDs[0]!));
  const setup = await fixedCosts();

  const workloads = buildWorkloads();
  for (const w of workloads) await check(w);
  const throughputStart = performance.now();
  const results: WorkloadResult[] = [];
  for (const [i, w] of workloads.entries()) {
    const left = THROUGHPUT_BUDGET_MS - (performance.now() - throughputStart);
    results.push(await measure(w, left / (workloads.length - i)));
  }

  const pipelineRatios = results.map((r) => r.candidates.pipeline!.ratio);
  const met = pipelineRatios.every((r) => r >= TARGET_RATIO);

  const fmt = (n: number) => n.toLocaleString("en-US").padStart(10);
  const lines = [
    `node ${process.version}, ${availableParallelism()} cpus; warm-up ${WARMUP_MS} ms/variant, median of interleaved paired rounds; events/s = wire frames/s`,
    "",
    `${"workload".padEnd(20)} ${"candidate".padEnd(9)} ${"base ev/s".padStart(10)} ${"cand ev/s".padStart(10)}  ratio  (min–max, rounds)`,
  ];
  for (const r of results) {
    for (const c of CANDIDATES) {
      const x = r.candidates[c]!;
      lines.push(
        `${r.workload.padEnd(20)} ${c.padEnd(9)} ${fmt(r.baselineEventsPerSec)} ${fmt(x.eventsPerSec)}  ${x.ratio.toFixed(3).padStart(5)}  (${x.ratioMin.toFixed(3)}–${x.ratioMax.toFixed(3)}, ${r.rounds})`,
      );
    }
  }
  lines.push("", `retained heap per object, n=${memory.n}, median of ${memory.repeats} (baseline: plain object with the same TurnInput = ${memory.baselinePlainObjectKiB} KiB)`);
  for (const m of memory.rows) lines.push(`  ${m.what.padEnd(56)} ${m.kib.toFixed(2).padStart(7)} KiB  (${m.ratio}x baseline)`);
  lines.push(
    `fixed costs: provide() ${setup.provideUs} µs/adapter, createActor+start+stop ${setup.createStartStopUs} µs/turn, one (empty) EVENTS batch through the live actor ${setup.eventsBatchUs} µs/chunk`,
  );
  lines.push(
    "",
    `target: full pipeline >= ${TARGET_RATIO}x baseline on every workload: ${met ? "MET" : "NOT MET"} (pipeline ratios ${pipelineRatios.map((r) => r.toFixed(2)).join(", ")})`,
  );
  console.log(lines.join("\n"));

  const json = {
    generatedAt: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    method: {
      baseline: "eventsource-parser createParser + TextDecoder + JSON.parse of every frame, same chunks, same async replay",
      hub: "EventHub with a duck-typed OpencodeHttp, one listener on our session",
      pipeline: "EventHub -> provideTurnMachine actor -> codec -> emitted replies into an array; until final and stream drained",
      codec: "mapOpencodeEvents over the pre-parsed events of the whole stream",
      eventsPerSec: "wire frames per second; ratio = median over rounds of baseline time / candidate time in the same round",
      warmupMsPerVariant: WARMUP_MS,
      baselineSampleMs: BASELINE_SAMPLE_MS,
      pairing: "each round: every candidate sample back to back with its own baseline sample, order alternating",
    },
    throughput: results,
    memory,
    fixedCosts: setup,
    target: { pipelineRatioAtLeast: TARGET_RATIO, met, pipelineRatios },
    durationMs: Math.round(performance.now() - startedAt),
  };
  writeFileSync(new URL("./results.json", import.meta.url), `${JSON.stringify(json, null, 2)}\n`);
  console.log(`\nwrote bench/results.json in ${(json.durationMs / 1000).toFixed(1)} s`);
}

await main();
