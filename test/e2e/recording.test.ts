/**
 * Record real turns against a real opencode, then replay the recording offline: the same replies.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { RecordingEntry, RecordingHeader, recordedReplies, replay, TurnRecorder } from "../../src/observe/recording.js";
import { Reply } from "../../src/contract/replies.js";
import { startTestOpencode, type OpencodeServer } from "../../testkit/opencode-server.js";
import { startScriptedModel, type ScriptedModel } from "../../testkit/scripted-model.js";

describe("recording a real turn and replaying it offline", () => {
  let model: ScriptedModel;
  let server: OpencodeServer;
  const dir = mkdtempSync(join(tmpdir(), "opencode-turns-recording-"));

  beforeAll(async () => {
    model = await startScriptedModel();
    server = await startTestOpencode({ modelUrl: model.url, permission: { bash: "ask" } });
  });

  afterAll(async () => {
    await server?.stop();
    await model?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("replays reasoning, a tool call with its permission ask, and text to the replies the live turns gave", async () => {
    const file = join(dir, "turns.jsonl");
    const recorder = TurnRecorder.toFile(file);
    const live: Reply[] = [];
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password, permissions: "once" }, (reply) => void live.push(reply), {
      inspect: recorder.inspect,
    });
    try {
      expect(await adapter.prompt("think first")).toMatchObject({ outcome: "final" });
      expect(await adapter.prompt("please use a tool")).toMatchObject({ outcome: "final" });
    } finally {
      await adapter.close();
      recorder.close();
    }

    const [header, ...lines] = readFileSync(file, "utf8").trimEnd().split("\n").map((line) => JSON.parse(line));
    expect(RecordingHeader.parse(header)).toMatchObject({ version: 1 });
    const entries = lines.map((line) => RecordingEntry.parse(line));
    const raw = entries.flatMap((e) => ("event" in e && e.event.type === "EVENTS" ? (e.event.events as Array<{ type: string }>) : []));
    expect(raw.map((e) => e.type)).toEqual(expect.arrayContaining(["message.part.delta", "message.part.updated", "permission.asked", "session.idle"]));
    expect(new Set(entries.map((e) => e.turn))).toEqual(new Set([1, 2]));
    expect(readFileSync(file, "utf8")).not.toContain(server.password);

    const replayed: Reply[] = [];
    for await (const reply of replay(file)) replayed.push(reply);
    expect(live.map((r) => r.kind)).toEqual(expect.arrayContaining(["reasoning", "tool_call", "tool_result", "delta", "final"]));
    expect(replayed).toEqual(live);
    expect(await recordedReplies(file)).toEqual(live);
  });
});
