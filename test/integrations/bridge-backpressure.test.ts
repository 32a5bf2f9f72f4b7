/**
 * A slow bridge host slows the turn: while stdout is behind past its high-water mark the bridge stops
 * reading opencode's `/event` stream (TCP backpressure), so memory stays bounded; the host reading
 * again lets the turn run to `final` with every delta. A cancel or a host that goes away still ends
 * the turn at once.
 */
import { PassThrough, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { Reply } from "../../src/contract/replies.js";
import { OutputLines } from "../../src/integrations/bridge-lines.js";
import { runBridge } from "../../src/integrations/bridge.js";
import * as E from "../../testkit/events.js";
import { closedAfterEach } from "../../testkit/closing.js";
import type { FakeOpencode } from "../../testkit/fake-opencode.js";

const { open, fake } = closedAfterEach();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `value()` has stayed the same for `ms` (the stand-in's writes are stuck). */
async function steady(value: () => number, ms: number): Promise<number> {
  for (let last = value(); ; ) {
    await sleep(ms);
    const now = value();
    if (now === last) return now;
    last = now;
  }
}

/** A bridge whose stdout nobody reads until `read()`; its replies are also seen by a sink. */
function slowHost(server: FakeOpencode, highWaterChars: number) {
  const input = new PassThrough();
  const output = new PassThrough({ highWaterMark: 64 });
  output.pause();
  const replies: Reply[] = [];
  const done = runBridge({
    input,
    output,
    config: { baseUrl: server.url, password: server.password, connectTimeoutMs: 60_000 },
    outputHighWaterChars: highWaterChars,
    sink: (reply) => void replies.push(reply),
    logger: { warn: () => undefined },
  });
  open.push({ close: async () => void (input.end(), output.resume(), await done) });
  let text = "";
  return {
    replies,
    done,
    input,
    output,
    send: (request: object) => input.write(`${JSON.stringify(request)}\n`),
    read() {
      output.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
      output.resume();
    },
    lines: () => text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as Record<string, any>),
  };
}

const WORD = "x".repeat(999) + " ";
const words = Array.from({ length: 8000 }, (_, i) => `${i}${WORD}`);

describe("a slow bridge host slows the turn", () => {
  it("the stream is not read while stdout is behind (bounded memory), and the turn ends final with every delta once the host reads", async () => {
    let streamed = 0;
    const server = await fake({
      onPrompt: (p) => {
        const events = E.textTurn(p.sessionId, p.body.messageID, "msg_a", words);
        for (const event of events) streamed += Buffer.byteLength(`data: ${JSON.stringify(event)}\n\n`);
        return events;
      },
    });
    const host = slowHost(server, 64 * 1024);
    host.send({ id: "long", op: "prompt", text: "x" });
    while (server.eventBacklog === 0) await sleep(1);
    // The stand-in writes the whole answer in one go; the bridge stops taking it and the writes stay stuck.
    const stuck = await steady(() => server.eventBacklog, 300);
    expect(host.replies.some((reply) => reply.kind === "final")).toBe(false);
    // What was taken (the bridge's hold, the hub's, undici's and the kernel's buffers) is a bounded part of the answer.
    expect(stuck).toBeGreaterThan(streamed / 2);
    console.log(`backpressure: ${streamed} bytes of events written at once; ${stuck} bytes (HTTP chunk framing included) still wait in the stand-in's socket`);
    host.read();
    while (!host.lines().some((line) => "result" in line)) await sleep(20);
    const deltas = host.lines().flatMap((line) => ("reply" in line && line.reply.kind === "delta" ? [line.reply.content as string] : []));
    expect(deltas.join("")).toBe(words.join(""));
    expect(host.lines().at(-1)).toMatchObject({ id: "long", result: { outcome: "final", content: words.join("") } });
    expect(server.eventBacklog).toBe(0);
  });

  it("a cancel while the stream is paused ends the turn at once (the stop reads its end), not after the grace", async () => {
    const server = await fake({ onPrompt: (p) => [...E.textTurn(p.sessionId, p.body.messageID, "msg_a", words).slice(0, -5), { hold: true }] });
    const host = slowHost(server, 64 * 1024);
    host.send({ id: "long", op: "prompt", text: "x" });
    while (server.eventBacklog === 0) await sleep(5);
    await steady(() => server.eventBacklog, 300);
    host.send({ id: "long", op: "cancel" });
    // connectTimeoutMs (the grace) is 60 s: the test's own timeout would end first if the stop waited for it.
    while (!host.replies.some((reply) => reply.kind === "error")) await sleep(20);
    expect(host.replies.at(-1)).toMatchObject({ kind: "error", code: "aborted" });
    expect(server.aborts).toHaveLength(1);
  });

  it("a host that goes away (stdout closed) ends the turns at once and the bridge resolves", async () => {
    const server = await fake({ onPrompt: (p) => E.textTurn(p.sessionId, p.body.messageID, "msg_a", words) });
    const host = slowHost(server, 64 * 1024);
    host.send({ id: "long", op: "prompt", text: "x" });
    while (server.eventBacklog === 0) await sleep(5);
    await steady(() => server.eventBacklog, 300);
    host.output.destroy();
    await host.done;
    expect(host.replies.some((reply) => reply.kind === "final")).toBe(false);
  });
});

describe("OutputLines' backlog", () => {
  it("says it is behind past the high-water mark and caught up below a quarter of it, holding joined text", async () => {
    let writable = false;
    const drains: Array<() => void> = [];
    const output = new Writable({
      highWaterMark: 1,
      write: (_chunk, _encoding, callback) => (writable ? callback() : drains.push(callback)),
    });
    const told: boolean[] = [];
    const lines = new OutputLines(output, () => undefined, { highWaterChars: 100, onBehind: (behind) => told.push(behind) });
    const delta = (content: string) => ({ id: "p", reply: { kind: "delta" as const, trace_id: "t", content } });
    lines.send(delta("first"));
    for (let i = 0; i < 30; i++) lines.send(delta("0123456789"));
    expect(told).toEqual([true]);
    expect(lines.backlogChars).toBe(300);
    writable = true;
    for (const drain of drains.splice(0)) drain();
    await sleep(0);
    expect(told).toEqual([true, false]);
    expect(lines.backlogChars).toBe(0);
  });
});
