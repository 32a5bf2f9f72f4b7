import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, describe, expect, it } from "vitest";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { EventHub } from "../../src/opencode/event-hub.js";
import type { OpencodeHttp } from "../../src/opencode/http.js";
import * as E from "../../testkit/events.js";
import { FakeOpencode } from "../../testkit/fake-opencode.js";

// A garbage collector callable from this file alone (the same as node --expose-gc, without a flag for every file).
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

/** A long-lived host keeps one adapter for thousands of turns: what a finished turn leaves behind must be nothing. */
describe("memory of a long-lived adapter", () => {
  // Warm enough that the code V8 compiles and optimises along the way is not counted as growth.
  const WARM_TURNS = 2_000;
  const TURNS = 3_000;
  /** The bound, per turn: a finished turn that stayed reachable costs several KiB (its actor, context and answer). */
  const BOUND_BYTES_PER_TURN = 200;

  it(`retains less than ${BOUND_BYTES_PER_TURN} bytes per finished turn over ${TURNS} turns`, async () => {
    const server = await FakeOpencode.start({
      onPrompt: (p) => E.textTurn(p.sessionId, p.body.messageID, `msg_a_${p.body.messageID}`, ["Hello", " there", " again"]),
    });
    open.push(server);
    // How many delta replies carry the text depends on how the frames arrived (the hub joins a run); the finals do not.
    let finals = 0;
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, (reply) => {
      if (reply.kind === "final" && reply.content === "Hello there again") finals++;
    });
    open.push(adapter);
    // The stand-in records every request and prompt; those records are not the adapter's.
    const run = async (turns: number) => {
      for (let i = 0; i < turns; i++) {
        const result = await adapter.prompt(`turn ${i}`);
        expect(result.outcome).toBe("final");
        server.requests.length = 0;
        server.prompts.length = 0;
      }
    };

    await run(WARM_TURNS);
    const before = heapAfterGc();
    await run(TURNS);
    const after = heapAfterGc();

    expect(finals).toBe(WARM_TURNS + TURNS);
    const perTurn = (after - before) / TURNS;
    expect(perTurn, `heap grew by ${Math.round(perTurn)} bytes per turn`).toBeLessThan(BOUND_BYTES_PER_TURN);
  }, 120_000);
});

describe("memory of the shared stream", () => {
  it("lets go of a listener once it unsubscribes, while the connection it was served by stays open", async () => {
    const http = {
      origin: "http://opencode.test",
      target: { baseUrl: "http://opencode.test", username: "opencode", directory: undefined, connectTimeoutMs: 1000 },
      openEvents: async (signal: AbortSignal) =>
        (async function* () {
          yield new TextEncoder().encode(`data: ${JSON.stringify(E.connected())}\n\n`);
          await new Promise((resolve) => signal.addEventListener("abort", resolve));
        })(),
      close: async () => undefined,
    } as unknown as OpencodeHttp;
    const hub = new EventHub(http, { heartbeatTimeoutMs: 60_000 });
    open.push(hub);
    const unsubscribes: Array<() => void> = [];
    const listen = () => {
      const listener = { events: () => undefined, lost: () => undefined };
      unsubscribes.push(hub.subscribe("ses_a", listener));
      return new WeakRef(listener);
    };
    // One listener came before the connection (it is served from the start), one while it is open.
    const early = listen();
    await hub.connect();
    const later = listen();
    // Called from a function of its own: a suspended async function keeps its last loop variable alive.
    const leave = () => unsubscribes.splice(0).forEach((unsubscribe) => unsubscribe());
    leave();
    // A WeakRef holds its target until the current job ends.
    await new Promise((resolve) => setImmediate(resolve));
    heapAfterGc();
    expect(early.deref()).toBeUndefined();
    expect(later.deref()).toBeUndefined();
  });
});
