/**
 * What a turn costs besides its events, on one long-lived adapter against the stand-in.
 *
 *   memory.slope  heap growth after GC per finished tiny turn (in process, like test/memory.test.ts)
 *   turn.fixed    CPU of a tiny turn (session known, stream open) / the raw HTTP calls it needs:
 *                 POST prompt_async with undici and its events read by an open raw /event reader
 */
import { OpenCodeAdapter } from "../src/host/adapter.js";
import * as E from "../testkit/events.js";
import { FakeOpencode } from "../testkit/fake-opencode.js";
import { cpu, createSession, gc, openRawReader, pairedRatio, postPrompt, round, rounds, turnEnd, type Row, type Size } from "./measure.js";
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

export async function fixedCostBench(size: Size): Promise<Row[]> {
  const server = await startStandIn(10, 4);
  const turns = size.tiny ? 20 : 300;
  try {
    const sessionId = await createSession(server);
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password, sessionId }, () => undefined);
    await adapter.prompt("warm");
    let ended: (() => void) | undefined;
    let isEnd = turnEnd(sessionId);
    const reader = await openRawReader(server, (event) => {
      if (isEnd(event)) ended?.();
    });
    const costs = await rounds(size, {
      raw: async () => {
        for (let i = 0; i < turns; i++) {
          isEnd = turnEnd(sessionId);
          const done = new Promise<void>((resolve) => (ended = resolve));
          await postPrompt(server, sessionId, "tiny");
          await done;
        }
      },
      adapter: async () => {
        for (let i = 0; i < turns; i++) await adapter.prompt("tiny");
      },
    });
    reader.close();
    await adapter.close();
    return [
      {
        name: "turn.fixed",
        value: round((cpu(costs.adapter) * 1000) / turns, 1),
        unit: "µs CPU per turn",
        baseline: round((cpu(costs.raw) * 1000) / turns, 1),
        ratio: round(1 / pairedRatio(costs.raw, costs.adapter), 2),
        note: "adapter CPU / raw calls CPU for a three-delta turn (session known, stream open); lower is better; target <= 2",
      },
    ];
  } finally {
    await server.stop();
  }
}
