import { PerformanceObserver } from "node:perf_hooks";
import { createParser } from "eventsource-parser";
import { request } from "undici";
import type { TurnInput } from "../machines/turn.machine.js";
import { newMessageId } from "../src/opencode/server-clock.js";
import { MAX_RECONNECTS } from "../src/engine/turn-actors.js";
import { childrenCpuMs } from "./process-cpu.js";

/** One line of bench/results.json. `ratio` reads as the row's `better` says. */
export interface Row {
  name: string;
  value: number;
  unit: string;
  baseline: number | null;
  ratio: number | null;
  /** What the ratio compares and which way is better, and the issue's target. */
  note: string;
}

/** How big a run is: `tiny` is what the test suite runs, to prove every bench still works. */
export interface Size {
  tiny: boolean;
  rounds: number;
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export const percentile = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

export const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

const gcFn = (globalThis as { gc?: () => void }).gc;
export function gc(): void {
  if (gcFn === undefined) throw new Error("run with node --expose-gc (npm run bench)");
  gcFn();
}

/** A scavenge of the young generation only. */
function minorGc(): void {
  if (gcFn === undefined) throw new Error("run with node --expose-gc (npm run bench)");
  (gcFn as (options: { type: "minor" }) => void)({ type: "minor" });
}

/** Total GC pause time observed so far, in ms (PerformanceObserver 'gc' entries). */
let gcPauseMs = 0;
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPauseMs += entry.duration;
});
gcObserver.observe({ entryTypes: ["gc"] });
export const stopGcObserver = () => gcObserver.disconnect();

export interface Cost {
  /** Process CPU time (user + system), ms. */
  cpuMs: number;
  /** GC pauses during the run, ms. */
  gcMs: number;
}

/**
 * Between rounds: `full` collects everything, so one run's garbage is not billed to the next; `minor`
 * only the young generation, for runs of many small turns. A forced full GC at a moment when no turn
 * is alive lets V8 drop what it learned of the turn's objects (their maps, and the optimized code
 * built on them): the turn machine's next 300 turns then cost 2 to 3 times its steady state (measured:
 * about 400 µs a turn after a minor GC or none, 900 to 1,400 µs after a full one), which is a cold
 * start the bench would bill as the turn's cost, not garbage.
 */
export type Collect = "full" | "minor";

/** Whose CPU a cost counts: this process's, or that of the child processes it waited for (Linux only). */
export type CpuOf = "process" | "children";

const cpuNowMs: Record<CpuOf, () => number> = {
  process: () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  },
  children: childrenCpuMs,
};

/** CPU and GC pause time of `run`, after a GC (see `Collect`). */
export async function cost(run: () => Promise<unknown>, collect: Collect = "full", of: CpuOf = "process"): Promise<Cost> {
  if (collect === "full") gc();
  else minorGc();
  // GC entries are delivered asynchronously: let the GC above be counted before the mark.
  await new Promise((resolve) => setImmediate(resolve));
  const gcBefore = gcPauseMs;
  const before = cpuNowMs[of]();
  await run();
  const cpuMs = cpuNowMs[of]() - before;
  await new Promise((resolve) => setImmediate(resolve));
  return { cpuMs, gcMs: gcPauseMs - gcBefore };
}

export interface RoundOptions {
  /** Untimed rounds first, for the JIT to settle (a small turn's code takes about 2,000 turns). Default 1. */
  warmups?: number;
  collect?: Collect;
  /** Default `process`. */
  cpuOf?: CpuOf;
}

/**
 * Rounds of every variant, the order rotating each round so a burst of load from elsewhere hits
 * them all alike; warm-up rounds first. Returns each variant's costs, one per round.
 */
export async function rounds<K extends string>(size: Size, variants: Record<K, () => Promise<unknown>>, { warmups = 1, collect = "full", cpuOf = "process" }: RoundOptions = {}): Promise<Record<K, Cost[]>> {
  const names = Object.keys(variants) as K[];
  const out = Object.fromEntries(names.map((n) => [n, [] as Cost[]])) as Record<K, Cost[]>;
  for (let r = -warmups; r < size.rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + Math.max(r, 0)) % names.length]!;
      const c = await cost(variants[name], collect, cpuOf);
      if (r >= 0) out[name].push(c);
    }
  }
  return out;
}

/** Median over rounds of baseline CPU / candidate CPU in the same round. */
export function pairedRatio(baseline: readonly Cost[], candidate: readonly Cost[]): number {
  return median(baseline.map((b, i) => b.cpuMs / candidate[i]!.cpuMs));
}

export const cpu = (costs: readonly Cost[]) => median(costs.map((c) => c.cpuMs));
export const gcPause = (costs: readonly Cost[]) => median(costs.map((c) => c.gcMs));

export interface Server {
  url: string;
  password: string;
}

export const authorization = (password: string) => `Basic ${Buffer.from(`opencode:${password}`).toString("base64")}`;

/** Creates a session with undici directly. */
export async function createSession(server: Server): Promise<string> {
  const res = await request(`${server.url}/session`, {
    method: "POST",
    headers: { authorization: authorization(server.password), "content-type": "application/json" },
    body: "{}",
  });
  return ((await res.body.json()) as { id: string }).id;
}

/** Posts a prompt with undici directly: the one call a turn needs besides the stream. */
export async function postPrompt(server: Server, sessionId: string, text: string): Promise<void> {
  const res = await request(`${server.url}/session/${sessionId}/prompt_async`, {
    method: "POST",
    headers: { authorization: authorization(server.password), "content-type": "application/json" },
    body: JSON.stringify({ messageID: newMessageId(), parts: [{ type: "text", text }] }),
  });
  await res.body.dump();
  if (res.statusCode >= 300) throw new Error(`prompt_async answered ${res.statusCode}`);
}

export type Event = { type?: string; properties?: { sessionID?: string; status?: { type?: string } } };

/** The end of a turn on the wire: its session idle again after it was busy. */
export function turnEnd(sessionId: string): (event: Event) => boolean {
  let busy = false;
  return (event) => {
    if (event.properties?.sessionID !== sessionId) return false;
    if (event.type === "session.status") {
      if (event.properties.status?.type === "busy") busy = true;
      else if (event.properties.status?.type === "idle" && busy) return true;
    }
    return event.type === "session.idle" && busy;
  };
}

/**
 * The floor: bare undici + eventsource-parser + JSON.parse of every frame, one `/event` reader.
 * `onEvent` sees each parsed event; `close()` ends the connection.
 */
export async function openRawReader(server: Server, onEvent: (event: Event) => void): Promise<{ close(): void }> {
  const controller = new AbortController();
  const res = await request(`${server.url}/event`, {
    headers: { authorization: authorization(server.password), accept: "text/event-stream" },
    signal: controller.signal,
  });
  let connected!: () => void;
  const ready = new Promise<void>((resolve) => (connected = resolve));
  const decoder = new TextDecoder();
  const parser = createParser({
    onEvent: (frame) => {
      const event = JSON.parse(frame.data) as Event;
      if (event.type === "server.connected") connected();
      onEvent(event);
    },
  });
  void (async () => {
    try {
      for await (const chunk of res.body) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
    } catch {
      // aborted by close()
    }
  })();
  await ready;
  return { close: () => controller.abort() };
}

/** One whole turn through the floor: its own reader, the prompt, every frame parsed until the turn's end. */
export async function rawTurn(server: Server, sessionId: string, text: string): Promise<number> {
  let events = 0;
  let ended!: () => void;
  const done = new Promise<void>((resolve) => (ended = resolve));
  const isEnd = turnEnd(sessionId);
  const reader = await openRawReader(server, (event) => {
    events++;
    if (isEnd(event)) ended();
  });
  await postPrompt(server, sessionId, text);
  await done;
  reader.close();
  return events;
}

/** A turn on a session known to exist, as the adapter would start it (its message id made on the server's clock). */
export function turnInput(traceId: string, sessionId: string, text: string): TurnInput {
  return {
    traceId,
    prompt: { parts: [{ type: "text", text }] },
    sessionId,
    sessionVerified: true,
    children: [],
    maxProviderRetries: 3,
    maxReconnects: MAX_RECONNECTS,
    graceMs: 10_000,
  };
}
