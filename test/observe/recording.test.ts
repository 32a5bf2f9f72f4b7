import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { RecordingEntry, RecordingError, recordedReplies, replay, TurnRecorder } from "../../src/observe/recording.js";
import type { Reply } from "../../src/contract/replies.js";
import * as E from "../../testkit/events.js";
import { FakeOpencode, type FakeOpencodeOptions } from "../../testkit/fake-opencode.js";

const dir = mkdtempSync(join(tmpdir(), "opencode-turns-recording-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

let files = 0;
async function record(options: FakeOpencodeOptions, run: (adapter: OpenCodeAdapter, server: FakeOpencode) => Promise<unknown>) {
  const server = await FakeOpencode.start(options);
  open.push(server);
  const file = join(dir, `turn-${++files}.jsonl`);
  const recorder = TurnRecorder.toFile(file);
  const live: Reply[] = [];
  const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password, connectTimeoutMs: 300 }, (reply) => void live.push(reply), {
    inspect: recorder.inspect,
  });
  try {
    await run(adapter, server);
  } finally {
    await adapter.close();
    recorder.close();
  }
  return { file, live, entries: readFileSync(file, "utf8").trimEnd().split("\n").slice(1).map((line) => RecordingEntry.parse(JSON.parse(line))) };
}

/** The replies replayed from `file`, after checking the recording holds the live ones. */
async function replayedAs(file: string, live: Reply[]): Promise<Reply[]> {
  expect(await recordedReplies(file)).toEqual(live);
  return replayed(file);
}

async function replayed(file: string): Promise<Reply[]> {
  const replies: Reply[] = [];
  for await (const reply of replay(file)) replies.push(reply);
  return replies;
}

async function replayError(lines: unknown[]): Promise<string> {
  const file = join(dir, `bad-${++files}.jsonl`);
  writeFileSync(file, lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n"));
  const error = await replayed(file).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RecordingError);
  return (error as Error).message;
}

const header = { format: "opencode-turns-recording", version: 1, created: "2026-12-01T00:00:00.000Z" };

describe("record and replay", () => {
  it("a lost stream that cannot be reopened replays to the same error: recorded errors keep their code and message", async () => {
    const { file, live, entries } = await record(
      {
        onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), E.assistantMessage(p.sessionId, "msg_a", p.body.messageID), E.partOpened(p.sessionId, "msg_a", "t", "text"), E.delta(p.sessionId, "msg_a", "t", "Hel"), { closeStreams: true }],
        eventStatus: 500,
        eventStatusFrom: 1,
      },
      (adapter) => adapter.prompt("hi"),
    );
    expect(live.map((r) => r.kind)).toEqual(["delta", "error"]);
    const failed = entries.find((e) => "event" in e && e.event.type === "xstate.error.actor.reconnect");
    expect(failed).toMatchObject({ event: { error: { name: "TurnError", code: expect.any(String), message: expect.any(String) } } });
    expect(await replayedAs(file, live)).toEqual(live);
  });

  it("a cancel that opencode never confirms replays through the recorded timer", async () => {
    const { file, live, entries } = await record(
      { onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), { hold: true }], onAbort: () => [] },
      async (adapter, server) => {
        const turn = adapter.prompt("hi");
        await vi.waitFor(() => expect(server.prompts).toHaveLength(1));
        await adapter.cancel();
        await turn;
      },
    );
    expect(live.map((r) => (r.kind === "error" ? r.code : r.kind))).toEqual(["aborted"]);
    expect(entries.map((e) => ("event" in e ? e.event.type : "reply"))).toEqual(expect.arrayContaining(["CANCEL", expect.stringMatching(/^xstate\.after\.grace\./)]));
    expect(await replayedAs(file, live)).toEqual(live);
  });

  it("turns of one adapter are numbered and replayed in order", async () => {
    const { file, live, entries } = await record(
      { onPrompt: (p) => E.textTurn(p.sessionId, p.body.messageID, `msg_a_${p.body.messageID}`, [String(p.body.parts[0]?.text), "!"]) },
      async (adapter) => {
        await adapter.prompt("one");
        await adapter.prompt("two");
      },
    );
    expect([...new Set(entries.map((e) => e.turn))]).toEqual([1, 2]);
    expect(live.filter((r) => r.kind === "final").map((r) => (r as { content: string }).content)).toEqual(["one!", "two!"]);
    expect(await replayedAs(file, live)).toEqual(live);
  });

  it("a failing write never disturbs the turn; close() reports it", async () => {
    const server = await FakeOpencode.start({ onPrompt: (p) => E.textTurn(p.sessionId, p.body.messageID, "msg_a", ["fine"]) });
    open.push(server);
    let writes = 0;
    const recorder = new TurnRecorder(() => {
      if (++writes > 3) throw new Error("disk full");
    });
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, () => undefined, { inspect: recorder.inspect });
    open.push(adapter);
    expect(await adapter.prompt("hi")).toMatchObject({ outcome: "final", content: "fine" });
    expect(() => recorder.close()).toThrow("disk full");
    expect(writes).toBe(4);
  });

  it("says which line of a recording is wrong, and why", async () => {
    expect(await replayError([])).toContain("empty");
    expect(await replayError(["{not json"])).toMatch(/:1: not JSON/);
    expect(await replayError([{ hello: 1 }])).toContain("not an opencode-turns recording");
    expect(await replayError([{ ...header, version: 2 }])).toContain("format version 2; this opencode-turns reads version 1");
    expect(await replayError([header, { turn: 1, at: 0, event: { nope: true } }])).toMatch(/:2: not a recording entry/);
    expect(await replayError([header, { turn: 1, at: 0, event: { type: "START" } }])).toContain("turn 1 has an event before its start");
  });
});
