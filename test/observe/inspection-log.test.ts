import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createActor, createMachine } from "xstate";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { InspectionLog, toJsonSafe } from "../../src/observe/inspection-log.js";
import { TurnError } from "../../src/contract/turn-error.js";
import * as E from "../../testkit/events.js";
import { FakeOpencode } from "../../testkit/fake-opencode.js";

const dir = mkdtempSync(join(tmpdir(), "opencode-turns-inspection-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the inspection log", () => {
  it("copies live objects into JSON: cycles cut, actors as ids, Maps, Sets and errors readable, secrets redacted", () => {
    const actor = createActor(createMachine({})).start();
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    const shared = { n: 1 };
    const value = {
      cyclic,
      twice: [shared, shared],
      actor,
      parts: new Map([["p1", { sent: 3 }]]),
      ids: new Set(["a", "b"]),
      error: new TurnError("stream_lost", "gone"),
      config: { password: "hunter2", Authorization: "Basic xyz", username: "opencode" },
      run: () => undefined,
      big: 10n,
      nan: Number.NaN,
    };
    const safe = toJsonSafe(value);
    expect(JSON.parse(JSON.stringify(safe))).toEqual({
      cyclic: { name: "loop", self: "[circular]" },
      twice: [{ n: 1 }, { n: 1 }],
      actor: { actor: actor.sessionId },
      parts: { p1: { sent: 3 } },
      ids: ["a", "b"],
      error: { name: "TurnError", message: "gone", code: "stream_lost" },
      config: { password: "[redacted]", Authorization: "[redacted]", username: "opencode" },
      big: "10",
      nan: "NaN",
    });
    actor.stop();
  });

  it("logs a whole turn as JSON lines: actors, events with the raw opencode events, snapshots, transitions; never the password", async () => {
    const password = "pw-that-must-not-leak-7b";
    const server = await FakeOpencode.start({ password, onPrompt: (p) => E.textTurn(p.sessionId, p.body.messageID, "msg_a", ["Hel", "lo"]) });
    const file = join(dir, "turn.jsonl");
    const log = InspectionLog.toFile(file);
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password }, () => undefined, { inspect: log.inspect });
    try {
      expect(await adapter.prompt("hi")).toMatchObject({ outcome: "final", content: "Hello" });
    } finally {
      await adapter.close();
      log.close();
      await server.close();
    }
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain(password);
    expect(text).not.toContain(Buffer.from(`opencode:${password}`).toString("base64"));
    const records = text.trimEnd().split("\n").map((line) => JSON.parse(line));
    expect(new Set(records.map((r) => r.type))).toEqual(new Set(["@xstate.actor", "@xstate.event", "@xstate.snapshot", "@xstate.microstep", "@xstate.action"]));
    const events = records.filter((r) => r.type === "@xstate.event" && r.event.type === "EVENTS");
    expect(events.flatMap((r) => r.event.events.map((e: { type: string }) => e.type))).toContain("message.part.delta");
    expect(records.filter((r) => r.type === "@xstate.snapshot").at(-1).snapshot).toMatchObject({ status: "done", value: "done" });
    expect(records.some((r) => r.type === "@xstate.microstep" && r.transitions.some((t: { source: string; targets: string[] }) => t.source === "turn.live.connectingStream" && t.targets.includes("turn.live.prompting")))).toBe(true);
  });
});
