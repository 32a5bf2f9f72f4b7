/**
 * A host whose wall clock is off from opencode's (ahead, behind, or stepped between turns), against
 * real opencode, both versions. opencode orders a session's messages by id, and the adapter makes
 * its user message's id itself: an id that sorts after opencode's answer makes opencode answer again
 * (and again), one that sorts before the previous turn's answer makes it answer nothing. The turns
 * run in a child process whose `Date` is faked (`testkit/skewed-host.ts`).
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { TurnResult } from "../../src/contract/replies.js";
import { OPENCODE_VERSIONS, startTestOpencode, warmUp, type OpencodeServer, type OpencodeVersion } from "../../testkit/opencode-server.js";
import { DEFAULT_TEXT, startScriptedModel, type ScriptedModel } from "../../testkit/scripted-model.js";

const SKEWED_HOST = fileURLToPath(new URL("../../testkit/skewed-host.ts", import.meta.url));
/** A plain text turn takes well under a second; opencode answering in a loop runs into this. */
const TURN_BOUND_MS = 10_000;
/** The child's own deadline per turn, past the bound, so a looping opencode still lets it finish. */
const CHILD_TURN_TIMEOUT_MS = 15_000;
const SKEW_MS = 30_000;
const HOUR_MS = 3_600_000;

const HostRun = z.object({ sessionId: z.string(), turns: z.array(TurnResult) });
const StoredMessage = z.object({
  info: z.object({ id: z.string(), role: z.enum(["user", "assistant"]), parentID: z.string().optional(), time: z.object({ created: z.number() }) }),
  parts: z.array(z.object({ type: z.string(), text: z.string().optional() })),
});

/** Runs one turn per offset on one session, in a child whose host clock is the real one plus that offset. */
function runSkewedHost(server: OpencodeServer, offsetsMs: number[]): Promise<z.infer<typeof HostRun>> {
  const args = { baseUrl: server.url, password: server.password, offsetsMs, text: "say hello", turnTimeoutMs: CHILD_TURN_TIMEOUT_MS };
  const child = spawn(process.execPath, ["--import", "tsx", SKEWED_HOST, JSON.stringify(args)], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(HostRun.parse(JSON.parse(stdout)));
      else reject(new Error(`skewed host exited ${code}: ${stderr}`));
    });
  });
}

async function storedMessages(server: OpencodeServer, sessionId: string) {
  const response = await fetch(`${server.url}/session/${sessionId}/message`, { headers: server.headers });
  return z.array(StoredMessage).parse(await response.json());
}

const SCENARIOS: ReadonlyArray<{ name: string; offsetsMs: number[] }> = [
  { name: `ahead by ${SKEW_MS / 1000} s`, offsetsMs: [SKEW_MS, SKEW_MS] },
  { name: `behind by ${SKEW_MS / 1000} s`, offsetsMs: [-SKEW_MS, -SKEW_MS] },
  { name: `stepped from ${SKEW_MS / 1000} s ahead to ${SKEW_MS / 1000} s behind between turns`, offsetsMs: [SKEW_MS, -SKEW_MS] },
  { name: "stepped from an hour behind to an hour ahead between turns", offsetsMs: [-HOUR_MS, HOUR_MS] },
];

describe.each(OPENCODE_VERSIONS.map((version) => ({ version })))("host clock off from opencode $version's", ({ version }: { version: OpencodeVersion }) => {
  let model: ScriptedModel;
  let server: OpencodeServer;

  beforeAll(async () => {
    model = await startScriptedModel();
    server = await startTestOpencode({ version, modelUrl: model.url });
    // The bound is on a turn, not on a fresh server's first one (seconds more on a loaded machine).
    await warmUp(server);
  });

  afterAll(async () => {
    await server?.stop();
    await model?.close();
  });

  it.each(SCENARIOS)("$name: every turn's final is opencode's one stored answer, in bounded time", async ({ offsetsMs }) => {
    const run = await runSkewedHost(server, offsetsMs);
    const stored = await storedMessages(server, run.sessionId);
    // The server's own clock says in which order things happened (the user messages' too).
    const byTime = [...stored].sort((a, b) => a.info.time.created - b.info.time.created || (a.info.role === "user" ? -1 : 1));
    const users = byTime.filter((m) => m.info.role === "user");
    const answerTexts = (user: (typeof stored)[number] | undefined) =>
      stored
        .filter((m) => m.info.role === "assistant" && m.info.parentID === user?.info.id)
        .map((m) => m.parts.filter((p) => p.type === "text").map((p) => p.text).join(""));
    const seen = run.turns.map((turn, i) => ({
      outcome: turn.outcome,
      final: turn.outcome === "final" ? turn.content : turn.error,
      withinBound: turn.duration_ms < TURN_BOUND_MS,
      storedAnswers: answerTexts(users[i]),
    }));
    // Every turn: one answer, not repeated, not empty, and final is exactly it, in bounded time.
    expect(seen).toEqual(offsetsMs.map(() => ({ outcome: "final", final: DEFAULT_TEXT, withinBound: true, storedAnswers: [DEFAULT_TEXT] })));
    expect(users).toHaveLength(offsetsMs.length);
    // And our ids sort against opencode's as the server's clock says they came.
    const byId = [...stored].sort((a, b) => (a.info.id < b.info.id ? -1 : a.info.id > b.info.id ? 1 : 0));
    expect(byId.map((m) => m.info.id)).toEqual(byTime.map((m) => m.info.id));
  }, 2 * CHILD_TURN_TIMEOUT_MS + 20_000);
});
