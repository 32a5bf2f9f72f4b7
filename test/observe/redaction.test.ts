/**
 * What leaves the library redacted: recordings, inspection logs and the live inspector's events hold
 * no form of the server password when a tool prints it; the adapter warns of a password too weak to
 * redact everywhere; a password with `"` or `\` echoed in a JSON error stays out.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { REDACTED } from "../../src/contract/redact.js";
import { Reply } from "../../src/contract/replies.js";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { InspectionLog } from "../../src/observe/inspection-log.js";
import { recordedReplies, replay, TurnRecorder } from "../../src/observe/recording.js";
import * as E from "../../testkit/events.js";
import { FakeOpencode, type ReceivedPrompt } from "../../testkit/fake-opencode.js";

const dir = mkdtempSync(join(tmpdir(), "opencode-turns-redaction-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

const basic = (password: string) => Buffer.from(`opencode:${password}`).toString("base64");

/** A turn whose tool prints the server's environment, password and all, and whose model says it too. */
function leakyTurn(password: string) {
  return (p: ReceivedPrompt) => [
    E.userMessage(p.sessionId, p.body.messageID),
    E.assistantMessage(p.sessionId, "msg_a", p.body.messageID),
    E.toolPart(p.sessionId, "msg_a", "prt_tool", "call_1", "bash", { status: "running", input: { command: `echo ${password}` } }),
    E.toolPart(p.sessionId, "msg_a", "prt_tool", "call_1", "bash", {
      status: "completed",
      input: { command: `echo ${password}` },
      output: `OPENCODE_SERVER_PASSWORD=${password}\nAUTH=Basic ${basic(password)}\n`,
    }),
    ...E.textTurn(p.sessionId, p.body.messageID, "msg_b", ["The password is ", password, "."]).slice(3),
  ];
}

describe("recordings and inspection logs", () => {
  it("hold no form of the password a tool printed, and the recording still replays to its own replies", async () => {
    const password = 'Tool-"Printed"\\Secret-42';
    const server = await FakeOpencode.start({ password, onPrompt: leakyTurn(password) });
    open.push(server);
    const recordingFile = join(dir, "turn.jsonl");
    const logFile = join(dir, "inspect.jsonl");
    const recorder = TurnRecorder.toFile(recordingFile);
    const log = InspectionLog.toFile(logFile);
    const live: Reply[] = [];
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password, connectTimeoutMs: 2000 }, (reply) => void live.push(reply), {
      inspect: (event) => {
        recorder.inspect(event);
        log.inspect(event);
      },
    });
    const result = await adapter.prompt("hi", "t");
    await adapter.close();
    recorder.close();
    log.close();
    expect(result.outcome).toBe("final");
    const written = readFileSync(recordingFile, "utf8") + readFileSync(logFile, "utf8");
    for (const form of [password, JSON.stringify(password).slice(1, -1), basic(password), encodeURIComponent(password)]) expect(written).not.toContain(form);
    expect(written).toContain(REDACTED);
    // The replies as the host got them (tool replies redacted) and as recorded: the tool's are the same.
    const recorded = await recordedReplies(recordingFile);
    const tools = (replies: Reply[]) => replies.filter((r) => r.kind === "tool_call" || r.kind === "tool_result");
    expect(tools(recorded)).toEqual(tools(live));
    const replayed: Reply[] = [];
    for await (const reply of replay(recordingFile)) replayed.push(reply);
    expect(replayed).toEqual(recorded);
  });
});

describe("the adapter and a weak password", () => {
  it("the adapter warns once about a password too weak to redact everywhere", async () => {
    const server = await FakeOpencode.start({ password: "opencode" });
    open.push(server);
    const warnings: string[] = [];
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: "opencode" }, () => undefined, { logger: { warn: (m: string) => warnings.push(m) } });
    open.push(adapter);
    expect(warnings).toEqual([expect.stringContaining("cannot be taken out of every text")]);
  });
});

describe("a password with quotes and backslashes echoed by a proxy in a JSON error", () => {
  it("does not come back in the error reply, in any form", async () => {
    const password = 'q"uo\\te-Pass-77';
    const server = await FakeOpencode.start({
      password,
      intercept: (route, res, _body, req) => {
        if (route !== "POST /session") return false;
        // A proxy's JSON error that echoes what it was sent.
        res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: `bad request`, echo: { authorization: req.headers.authorization, password }, note: `password=${password}` }));
        return true;
      },
    });
    open.push(server);
    const replies: Reply[] = [];
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password, connectTimeoutMs: 2000 }, (reply) => void replies.push(reply));
    open.push(adapter);
    const result = await adapter.prompt("hi", "t");
    expect(result.outcome).toBe("error");
    const text = JSON.stringify([replies, result]);
    for (const form of [password, JSON.stringify(password).slice(1, -1), basic(password)]) expect(text).not.toContain(form);
  });
});
