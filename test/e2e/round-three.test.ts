/**
 * Faults made on demand against real opencode (1.18.33 and 1.15.13): a stream that lives with heartbeats only (a
 * proxy drops every session event), a subagent whose provider keeps failing, the session deleted
 * mid-answer, `prompt()` then `cancel()` in the same tick, and a tool that prints the server password
 * into a recording and an inspection log. (Auto-compaction is test/e2e/compaction.test.ts.)
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Reply } from "../../src/contract/replies.js";
import { isTitleRequest, lastUserText, toolResults, type ChatRequest, type Script } from "../../src/embedded/model-server.js";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { InspectionLog } from "../../src/observe/inspection-log.js";
import { TurnRecorder } from "../../src/observe/recording.js";
import { OPENCODE_VERSIONS, startTestOpencode, warmUp, type OpencodeServer } from "../../testkit/opencode-server.js";
import { startProviderFaultProxy, type ProviderFault, type ProviderFaultProxy } from "../../testkit/provider-fault-proxy.js";
import { startRecordedModel, type ScriptedModel } from "../../testkit/scripted-model.js";

function respond(req: ChatRequest): { branch: string; script: Script } {
  if (isTitleRequest(req)) return { branch: "title", script: { kind: "stream", text: ["Title"] } };
  const text = lastUserText(req);
  const results = toolResults(req);
  if (results !== undefined) return { branch: "tool-result", script: { kind: "stream", text: ["Tool said: ", results.join("\n")] } };
  if (text.includes("delegate to a failing child")) {
    const args = { description: "Child job", prompt: "CHILD-FAIL: run", subagent_type: "general" };
    return { branch: "delegate", script: { kind: "stream", toolCalls: [{ id: "call_task", name: "task", arguments: JSON.stringify(args) }] } };
  }
  if (text.includes("print the password")) {
    const args = { command: "printenv OPENCODE_SERVER_PASSWORD", description: "print it" };
    return { branch: "print", script: { kind: "stream", toolCalls: [{ id: "call_p", name: "bash", arguments: JSON.stringify(args) }] } };
  }
  if (text.includes("slowly")) return { branch: "slow", script: { kind: "stream", text: Array.from({ length: 60 }, (_, i) => `slow${i} `), deltaDelayMs: 150 } };
  return { branch: "default", script: { kind: "stream", text: ["Stored ", "answer."] } };
}

/** The failing child's provider: down (500) for every request of the child's prompt. */
function childFault(req: ChatRequest): ProviderFault | undefined {
  if (isTitleRequest(req) || toolResults(req) !== undefined || !lastUserText(req).includes("CHILD-FAIL")) return undefined;
  return { kind: "http-error", status: 500, message: "child upstream down" };
}

/**
 * An HTTP proxy in front of opencode whose `/event` streams carry `server.connected` and then only
 * heartbeats (one every 200 ms, as opencode's every 10 s): the connection lives, nothing comes for
 * any session. Everything else goes through as it is.
 */
async function heartbeatOnlyProxy(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(target);
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    const forward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      if (!req.url?.startsWith("/event") || answer.statusCode !== 200) {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write(`data: ${JSON.stringify({ id: "evt_proxy", type: "server.connected", properties: {} })}\n\n`);
      const beat = setInterval(() => res.write(`data: ${JSON.stringify({ type: "server.heartbeat", properties: {} })}\n\n`), 200);
      timers.add(beat);
      answer.resume();
      res.on("close", () => {
        clearInterval(beat);
        timers.delete(beat);
        answer.destroy();
      });
    });
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const timer of timers) clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

for (const version of OPENCODE_VERSIONS) describe(`opencode ${version}: round three of the faults`, () => {
  let model: ScriptedModel;
  let provider: ProviderFaultProxy;
  let server: OpencodeServer;
  const closing: Array<{ close(): Promise<void> }> = [];
  const dir = mkdtempSync(join(tmpdir(), "opencode-turns-round-three-"));

  beforeAll(async () => {
    model = await startRecordedModel(respond, ["scripted-model", "other-model"]);
    provider = await startProviderFaultProxy(model.url, childFault);
    server = await startTestOpencode({ version, modelUrl: provider.url, permission: { bash: "allow" } });
    await warmUp(server);
  });

  afterAll(async () => {
    for (const thing of closing.splice(0).reverse()) await thing.close();
    await server?.stop();
    await provider?.close();
    await model?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function adapter(config: Record<string, unknown> = {}, options: ConstructorParameters<typeof OpenCodeAdapter>[2] = {}) {
    const replies: Reply[] = [];
    const made = new OpenCodeAdapter({ baseUrl: server.url, password: server.password, ...config }, (reply) => void replies.push(Reply.parse(reply)), options);
    closing.push(made);
    return { adapter: made, replies };
  }

  it("a stream alive with heartbeats only: the progress watch asks opencode and the turn ends with the answer it stored", async () => {
    const proxy = await heartbeatOnlyProxy(server.url);
    closing.push(proxy);
    const { adapter: a, replies } = adapter({ baseUrl: proxy.url, heartbeatTimeoutMs: 1500 });
    const result = await a.prompt("answer through a deaf stream", "t-deaf");
    expect(result).toMatchObject({ outcome: "final", content: "Stored answer." });
    expect(replies.at(-1)).toEqual({ kind: "final", trace_id: "t-deaf", content: "Stored answer." });
  });

  it("a subagent whose provider keeps failing: maxProviderRetries stops the turn (provider_error), not opencode's minute of retries", async () => {
    const { adapter: a } = adapter({ maxProviderRetries: 1 });
    const result = await a.prompt("delegate to a failing child", "t-child");
    expect(result).toMatchObject({ outcome: "error", code: "provider_error", error: expect.stringContaining("A subagent's model provider") });
    expect(result.outcome === "error" && result.error).toContain("child upstream down");
  });

  it("the session deleted mid-answer ends the turn promptly with an error that says so", async () => {
    const { adapter: a, replies } = adapter();
    const turn = a.prompt("talk slowly please", "t-del");
    // Once the answer streams, another client deletes the session.
    while (!replies.some((r) => r.kind === "delta")) await new Promise((resolve) => setTimeout(resolve, 20));
    const deleted = await fetch(`${server.url}/session/${a.sessionId}`, { method: "DELETE", headers: server.headers });
    expect(deleted.status).toBe(200);
    const result = await turn;
    expect(result).toMatchObject({ outcome: "error", code: "session_not_found", error: expect.stringContaining("was deleted") });
    // Promptly: well before the model's 60 deltas (9 s) were done.
    expect(replies.filter((r) => r.kind === "delta").length).toBeLessThan(50);
  });

  it("prompt() then cancel() in the same tick cancels that turn: nothing is prompted, and the next turn runs", async () => {
    const { adapter: a } = adapter();
    await a.ensureSession();
    const before = await (await fetch(`${server.url}/session/${a.sessionId}/message`, { headers: server.headers })).json();
    const turn = a.prompt("say hello", "t-race");
    await a.cancel();
    expect(await turn).toMatchObject({ outcome: "error", code: "aborted" });
    const after = await (await fetch(`${server.url}/session/${a.sessionId}/message`, { headers: server.headers })).json();
    expect(after).toHaveLength((before as unknown[]).length);
    expect(await a.prompt("say hello", "t-next")).toMatchObject({ outcome: "final", content: "Stored answer." });
  });

  it("a tool that prints the server password: the recording and the inspection log hold no form of it", async () => {
    const recordingFile = join(dir, "turn.jsonl");
    const logFile = join(dir, "inspect.jsonl");
    const recorder = TurnRecorder.toFile(recordingFile);
    const log = InspectionLog.toFile(logFile);
    const { adapter: a, replies } = adapter({}, { inspect: (event) => (recorder.inspect(event), log.inspect(event)) });
    const result = await a.prompt("print the password", "t-leak");
    await a.close();
    recorder.close();
    log.close();
    expect(result.outcome).toBe("final");
    expect(replies.find((r) => r.kind === "tool_result")).toMatchObject({ result: expect.stringContaining("[redacted]") });
    const written = readFileSync(recordingFile, "utf8") + readFileSync(logFile, "utf8");
    const basic = Buffer.from(`opencode:${server.password}`).toString("base64");
    for (const form of [server.password, basic]) expect(written).not.toContain(form);
  });
});
