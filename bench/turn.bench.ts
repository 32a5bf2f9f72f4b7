/**
 * What a turn costs besides its events, on one long-lived adapter against the stand-in.
 *
 *   memory.slope  heap growth after GC per finished tiny turn (in process, like test/memory.test.ts)
 *   turn.fixed    CPU of a tiny turn (session known, stream open) / the raw HTTP calls it needs:
 *                 POST prompt_async with undici and its events read by an open raw /event reader
 *   turn.machine  CPU of the same turn's machine alone (its actors answer at once, its events are
 *                 handed over parsed, no I/O) / the same raw calls: the part of the budget XState takes
 */
import { fromCallback, fromPromise } from "xstate";
import { turnMachine, type TurnEvent, type TurnInput } from "../machines/turn.machine.js";
import { runTurn } from "../src/engine/turn-runner.js";
import { OpenCodeAdapter } from "../src/host/adapter.js";
import * as E from "../testkit/events.js";
import { FakeOpencode } from "../testkit/fake-opencode.js";
import { cpu, createSession, gc, openRawReader, pairedRatio, postPrompt, round, rounds, turnEnd, type Cost, type Row, type Size } from "./measure.js";
import { startStandIn } from "./throughput.bench.js";

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

export async function memoryBench(size: Size): Promise<Row[]> {
  const server = await FakeOpencode.start({
    onPrompt: (p) => E.textTurn(p.sessionId, p.body.messageID, `msg_a_${p.body.messageID}`, ["Hello", " there", " again"]),
  });
  const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, () => undefined);
  const run = async (turns: number) => {
    for (let i = 0; i < turns; i++) {
      await adapter.prompt(`turn ${i}`);
      server.requests.length = 0;
      server.prompts.length = 0;
    }
  };
  const warm = size.tiny ? 50 : 3_000;
  const turns = size.tiny ? 100 : 5_000;
  try {
    await run(warm);
    const before = heapAfterGc();
    await run(turns);
    const after = heapAfterGc();
    return [
      {
        name: "memory.slope",
        value: Math.round((after - before) / turns),
        unit: "bytes per turn",
        baseline: null,
        ratio: null,
        note: `heap after GC, growth per tiny turn over ${turns} turns on one adapter after ${warm} warm-up turns; target < 100`,
      },
    ];
  } finally {
    await adapter.close();
    await server.close();
  }
}

const MACHINE_SESSION = "ses_machine_only";
const MACHINE_MESSAGE = "msg_machine_only_user";

/**
 * The turn machine with actors that answer at once: the session is known, the stream is ready in
 * the next microtask, and the tiny turn's events (parsed once, as the hub would hand them over)
 * come in one batch after the prompt is sent.
 */
function machineOnly() {
  const events = E.textTurn(MACHINE_SESSION, MACHINE_MESSAGE, "msg_machine_only_assistant", ["Hello", " there", " again"]);
  const machine = turnMachine.provide({
    actors: {
      ensureSession: fromPromise(async ({ input }) => input.sessionId ?? MACHINE_SESSION),
      eventStream: fromCallback<TurnEvent, { sessionId: string }>(({ sendBack }) => {
        queueMicrotask(() => sendBack({ type: "STREAM.READY", messageId: MACHINE_MESSAGE }));
        const batch = setImmediate(() => sendBack({ type: "EVENTS", events }));
        return () => clearImmediate(batch);
      }),
      sendPrompt: fromPromise(async (): Promise<void> => {}),
    },
  });
  const input: TurnInput = {
    traceId: "trace-machine-only",
    prompt: { endpoint: "prompt_async", parts: [{ type: "text", text: "tiny" }] },
    sessionId: MACHINE_SESSION,
    sessionVerified: true,
    children: [],
    maxProviderRetries: 3,
    maxReconnects: 3,
    graceMs: 5_000,
  };
  return async () => {
    const { output } = await runTurn(machine, { input, onReplies: () => undefined });
    if (output?.outcome.kind !== "final") throw new Error("the machine-only turn did not end with its final");
  };
}

export async function fixedCostBench(size: Size): Promise<Row[]> {
  const server = await startStandIn(10, 4);
  const turns = size.tiny ? 20 : 300;
  try {
    const sessionId = await createSession(server);
    // Each variant has open only what it needs while it runs: an adapter follows its session between
    // turns too (its model changes), and a raw reader parses every frame, so either one left open
    // would bill its reading of the other's turns to the other.
    const target = { baseUrl: server.url, password: server.password, sessionId };
    let ended: (() => void) | undefined;
    let isEnd = turnEnd(sessionId);
    const machineTurn = machineOnly();
    const costs = await rounds(size, {
      raw: async () => {
        const reader = await openRawReader(server, (event) => {
          if (isEnd(event)) ended?.();
        });
        for (let i = 0; i < turns; i++) {
          isEnd = turnEnd(sessionId);
          const done = new Promise<void>((resolve) => (ended = resolve));
          await postPrompt(server, sessionId, "tiny");
          await done;
        }
        reader.close();
      },
      // Its first turn opens the stream and checks the session: once in 300 turns.
      adapter: async () => {
        const adapter = new OpenCodeAdapter(target, () => undefined);
        for (let i = 0; i < turns; i++) await adapter.prompt("tiny");
        await adapter.close();
      },
      machine: async () => {
        for (let i = 0; i < turns; i++) await machineTurn();
      },
      // Steady state: a tiny turn's CPU once the JIT has settled, not the cold start a full GC makes (see `Collect`).
    }, { warmups: size.tiny ? 1 : 7, collect: "minor" });
    /** CPU per turn of `candidate` against the raw calls', paired round by round. */
    const perTurn = (name: string, candidate: Cost[], note: string): Row => ({
      name,
      value: round((cpu(candidate) * 1000) / turns, 1),
      unit: "µs CPU per turn",
      baseline: round((cpu(costs.raw) * 1000) / turns, 1),
      ratio: round(1 / pairedRatio(costs.raw, candidate), 2),
      note,
    });
    return [
      perTurn("turn.fixed", costs.adapter, "adapter CPU / raw calls CPU for a three-delta turn (session known, stream open); lower is better; target <= 2"),
      perTurn("turn.machine", costs.machine, "the same turn's machine alone (actors answer at once, no I/O) CPU / raw calls CPU; lower is better"),
    ];
  } finally {
    await server.stop();
  }
}
