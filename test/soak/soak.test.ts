/**
 * The soak: many turns on one real opencode, then a count of what is left. It runs when
 * OPENCODE_TURNS_SOAK is set (CI sets it; see vitest.config.ts), alone, after the rest.
 * OPENCODE_TURNS_SOAK_TURNS sets the number of sequential turns (default 1,000).
 */
import { execFileSync } from "node:child_process";
import { Socket } from "node:net";
import { isDeepStrictEqual } from "node:util";
import { Pool } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { Reply, type TurnResult } from "../../src/contract/replies.js";
import { startTestOpencode, type OpencodeServer } from "../../testkit/opencode-server.js";
import { DEFAULT_TEXT, startScriptedModel, type ScriptedModel } from "../../testkit/scripted-model.js";

const SEQUENTIAL_TURNS = Number(process.env.OPENCODE_TURNS_SOAK_TURNS ?? 1_000);
const CONCURRENT_ADAPTERS = 50;
const MINUTES = 60_000;
const port = (url: string) => Number(new URL(url).port);

/**
 * Timers, sockets and other handles this process holds, by kind (Node's own count), but the
 * sockets opencode keeps open to the scripted model, which lives in this process too.
 */
function handles(modelPort: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  const toModel = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().filter((h) => h instanceof Socket && h.localPort === modelPort);
  counts.TCPSocketWrap = (counts.TCPSocketWrap ?? 0) - toModel.length;
  if (counts.TCPSocketWrap === 0) delete counts.TCPSocketWrap;
  return counts;
}

/** The child processes of this process, as the kernel lists them (but the ps that lists them). */
function childProcesses(): string[] {
  const out = execFileSync("ps", ["-o", "pid=,comm=", "--ppid", String(process.pid)], { encoding: "utf8" });
  return out
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !/ ps$/.test(line));
}

/**
 * The handles once they equal `expected`, or after 10 s: closed sockets and cleared timers go within
 * a few turns of the event loop, a leak stays. Not expect.poll: its own timer would be counted.
 */
async function handlesSettled(modelPort: number, expected: Record<string, number>): Promise<Record<string, number>> {
  const until = performance.now() + 10_000;
  let now = handles(modelPort);
  while (!isDeepStrictEqual(now, expected) && performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    now = handles(modelPort);
  }
  return now;
}

/** Handles are let go on the next turns of the event loop (a closed socket's handle, a cleared timer). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 25));
}

describe("soak: real opencode 1.18.33", () => {
  let model: ScriptedModel;
  let server: OpencodeServer;
  let before: Record<string, number>;
  /** opencode itself and the fixture's watchdog. */
  let children: string[];

  beforeAll(async () => {
    model = await startScriptedModel();
    server = await startTestOpencode({ modelUrl: model.url });
    await settle();
    before = handles(port(model.url));
    children = childProcesses();
    expect(children.map((line) => Number(line.split(" ")[0]))).toContain(server.pid);
  });

  afterAll(async () => {
    await server?.stop();
    await model?.close();
  });

  /** The answers opencode stored, read over a connection of the test's own that is closed after. */
  async function stored(sessionId: string): Promise<string[]> {
    const pool = new Pool(server.url);
    const response = await pool.request({ method: "GET", path: `/session/${sessionId}/message`, headers: server.headers });
    const messages = (await response.body.json()) as Array<{ info: { role: string }; parts: Array<{ type: string; text?: string }> }>;
    await pool.close();
    return messages.filter((m) => m.info.role === "assistant").map((m) => m.parts.filter((p) => p.type === "text").map((p) => p.text).join(""));
  }

  function expectWhole(result: TurnResult, replies: Reply[], expected: string): void {
    expect(result, JSON.stringify(result)).toMatchObject({ outcome: "final", content: expected });
    const deltas = replies.filter((r) => r.kind === "delta").map((r) => r.content).join("");
    expect(deltas).toBe(expected);
    expect(replies.filter((r) => r.kind === "final" || r.kind === "error")).toHaveLength(1);
  }

  it(`${SEQUENTIAL_TURNS} sequential turns on one adapter: every final is opencode's stored answer, and nothing is left open`, async () => {
    const replies: Reply[] = [];
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, (reply) => {
      replies.push(Reply.parse(reply));
    });
    const finals: string[] = [];
    try {
      for (let i = 0; i < SEQUENTIAL_TURNS; i++) {
        const expected = `${DEFAULT_TEXT} [id:q${i}]`;
        const result = await adapter.prompt(`say hello [id:q${i}]`, `q${i}`);
        expectWhole(result, replies.splice(0), expected);
        finals.push(result.outcome === "final" ? result.content : "");
      }
      expect(await stored(adapter.sessionId!)).toEqual(finals);
    } finally {
      // A failed turn must not leave this adapter's sockets to fail the next test's count too.
      await adapter.close();
    }
    expect(await handlesSettled(port(model.url), before)).toEqual(before);
    expect(childProcesses()).toEqual(children);
  }, 40 * MINUTES);

  it(`${CONCURRENT_ADAPTERS} adapters at once, one session each: every final is stored, and nothing is left open`, async () => {
    const runs = Array.from({ length: CONCURRENT_ADAPTERS }, async (_, i) => {
      const replies: Reply[] = [];
      const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, (reply) => {
        replies.push(Reply.parse(reply));
      });
      const expected = `${DEFAULT_TEXT} [id:c${i}]`;
      try {
        const result = await adapter.prompt(`say hello [id:c${i}]`, `c${i}`);
        expectWhole(result, replies, expected);
        expect(await stored(adapter.sessionId!)).toEqual([expected]);
      } finally {
        await adapter.close();
      }
    });
    await Promise.all(runs);
    expect(await handlesSettled(port(model.url), before)).toEqual(before);
    expect(childProcesses()).toEqual(children);
  }, 10 * MINUTES);
});
