/**
 * Per-turn prompt options and the session operations against real opencode (1.18.33 and 1.15.13)
 * and a scripted model that answers by what the request holds: a StructuredOutput tool when one is
 * offered, a summary for a compaction request, a tool call or text by keyword.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Reply } from "../../src/contract/replies.js";
import { contentText, isTitleRequest, lastUserText, toolResults, type ChatRequest, type Script } from "../../src/embedded/model-server.js";
import { startRecordedModel, type ScriptedModel } from "../../testkit/scripted-model.js";
import { spawn } from "node:child_process";
import { Reply as ReplySchema } from "../../src/contract/replies.js";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { CLI, cliEnv, eventually, runCli } from "../../testkit/cli.js";
import { MODEL_ID, OTHER_MODEL_ID, PROVIDER_ID, startTestOpencode, type OpencodeServer, type OpencodeVersion } from "../../testkit/opencode-server.js";

/** `kinds` with each run of one kind as one: deltas that arrive together are joined into one reply. */
const runs = (kinds: readonly string[]) => kinds.filter((kind, i) => kind !== kinds[i - 1]);

const CITY = { city: "Paris", population: 2100000 };
const SUMMARY = ["SUMMARY: ", "the user said hello."];
const TODOS = [
  { content: "Plan", status: "in_progress", priority: "high" },
  { content: "Test", status: "pending", priority: "medium" },
];

function respond(req: ChatRequest): { branch: string; script: Script } {
  const tools = (req.tools ?? []).map((tool) => tool.function?.name);
  const text = lastUserText(req);
  if (isTitleRequest(req)) return { branch: "title", script: { kind: "stream", text: ["Scripted title"] } };
  // A compaction request offers no tools (1.18.33's also starts "Here is the conversation so far").
  if (tools.length === 0) return { branch: "compaction", script: { kind: "stream", text: SUMMARY } };
  if (tools.includes("StructuredOutput") && !text.includes("answer in prose")) {
    return { branch: "structured", script: { kind: "stream", toolCalls: [{ id: "call_s", name: "StructuredOutput", arguments: JSON.stringify(CITY) }] } };
  }
  const results = toolResults(req);
  if (results !== undefined) return { branch: "tool-result", script: { kind: "stream", text: ["Tool said: ", results.join("\n")] } };
  if (text.includes("TODO-MARK")) return { branch: "todo", script: { kind: "stream", toolCalls: [{ id: "call_todo", name: "todowrite", arguments: JSON.stringify({ todos: TODOS }) }] } };
  if (text.includes("TASK-MARK")) {
    const task = { description: "Child job", prompt: "CHILD-JOB: please use a tool", subagent_type: "general" };
    return { branch: "task", script: { kind: "stream", toolCalls: [{ id: "call_task", name: "task", arguments: JSON.stringify(task) }] } };
  }
  if (text.includes("use a tool")) {
    return { branch: "tool", script: { kind: "stream", toolCalls: [{ id: "call_1", name: "bash", arguments: JSON.stringify({ command: "echo hi-from-tool", description: "say hi" }) }] } };
  }
  return { branch: "text", script: { kind: "stream", text: ["Hello ", "from ", "the ", "model."] } };
}

function systemText(req: unknown): string {
  const messages = (req as ChatRequest).messages ?? [];
  return messages.filter((m) => m.role === "system").map((m) => contentText(m.content)).join("\n");
}

/**
 * A full-vocabulary turn as history can replay it: deltas joined (nested ones too), and no
 * `tool_update`, a running tool's progress, which opencode does not store.
 */
function comparable(replies: readonly Reply[]): unknown[] {
  const out: Array<Record<string, any>> = [];
  for (const { trace_id: _trace, ...reply } of replies) {
    const inner = reply.kind === "subagent" ? (({ trace_id: _t, ...rest }) => rest)(reply.reply) : undefined;
    if (reply.kind === "tool_update" || inner?.kind === "tool_update") continue;
    const last = out.at(-1);
    if ((reply.kind === "delta" || reply.kind === "reasoning") && last?.kind === reply.kind) last.content += reply.content;
    else if ((inner?.kind === "delta" || inner?.kind === "reasoning") && last?.kind === "subagent" && reply.kind === "subagent" && last.call_id === reply.call_id && last.reply.kind === inner.kind) last.reply.content += inner.content;
    else out.push(inner === undefined ? { ...reply } : { ...reply, reply: inner });
  }
  return out;
}

/** A turn's replies with consecutive deltas (and reasoning) joined: a stored part is whole, a live one streamed in pieces. */
function joined(replies: readonly Reply[]): unknown[] {
  const out: Array<Record<string, unknown>> = [];
  for (const { trace_id: _trace, ...reply } of replies) {
    const last = out.at(-1);
    if ((reply.kind === "delta" || reply.kind === "reasoning") && last?.kind === reply.kind) last.content = `${last.content as string}${reply.content}`;
    else out.push({ ...reply });
  }
  return out;
}

describe.each(["1.18.33", "1.15.13"] as OpencodeVersion[])("session operations on opencode %s", (version) => {
  let model: ScriptedModel;
  let server: OpencodeServer;
  const adapters: OpenCodeAdapter[] = [];

  function adapter(sink: (reply: Reply) => void = () => undefined, sessionId?: string): OpenCodeAdapter {
    const made = new OpenCodeAdapter({ baseUrl: server.url, password: server.password, providerID: PROVIDER_ID, modelID: MODEL_ID, ...(sessionId ? { sessionId } : {}) }, sink);
    adapters.push(made);
    return made;
  }

  /** An adapter with the replies it was given, by trace id. */
  function recorded(sessionId?: string) {
    const replies = new Map<string, Reply[]>();
    const made = adapter((reply) => replies.set(reply.trace_id, [...(replies.get(reply.trace_id) ?? []), reply]), sessionId);
    return { adapter: made, replies };
  }

  async function storedMessages(sessionId: string): Promise<Array<{ info: Record<string, unknown> }>> {
    const response = await fetch(`${server.url}/session/${sessionId}/message`, { headers: server.headers });
    return (await response.json()) as Array<{ info: Record<string, unknown> }>;
  }

  beforeAll(async () => {
    model = await startRecordedModel(respond, [MODEL_ID, OTHER_MODEL_ID]);
    server = await startTestOpencode({
      version,
      modelUrl: model.url,
      permission: { bash: "allow" },
      extraConfig: {
        command: { greet: { template: "Please greet $ARGUMENTS warmly.", description: "Greets someone" } },
        provider: { [PROVIDER_ID]: { models: { [MODEL_ID]: { variants: { deep: { reasoningEffort: "high" } } } } } },
      },
    });
  });

  afterAll(async () => {
    await Promise.all(adapters.map((a) => a.close()));
    await server?.stop();
    await model?.close();
  });

  it("sends a turn's own model, agent, system and tools", async () => {
    const { adapter: a } = recorded();
    const before = model.log.length;
    const result = await a.prompt("hello with choices", "t-choices", {
      model: { providerID: PROVIDER_ID, modelID: OTHER_MODEL_ID },
      agent: "plan",
      system: "SYSTEM-MARK-42",
      tools: { bash: false },
    });
    expect(result).toMatchObject({ outcome: "final", content: "Hello from the model." });
    const request = model.log.slice(before).find((r) => r.branch === "text")!;
    expect(request.model).toBe(OTHER_MODEL_ID);
    expect(systemText(request.body)).toContain("SYSTEM-MARK-42");
    expect(request.tools).not.toContain("bash");
    expect(request.tools.length).toBeGreaterThan(0);
    const assistant = (await storedMessages(result.session_id!)).find((m) => m.info.role === "assistant")!;
    expect(assistant.info).toMatchObject({ agent: "plan", modelID: OTHER_MODEL_ID });
  });

  it("answers a prompt with a format with the parsed object, on the result and on final", async () => {
    const { adapter: a, replies } = recorded();
    const format = { type: "object", properties: { city: { type: "string" }, population: { type: "number" } }, required: ["city", "population"] };
    const result = await a.prompt("which city?", "t-format", { format });
    expect(result).toMatchObject({ outcome: "final", content: "", structured: CITY });
    expect(replies.get("t-format")!.at(-1)).toEqual({ kind: "final", trace_id: "t-format", content: "", structured: CITY });
    // Without a format the final has no structured key at all, on the same session.
    const plain = await a.prompt("hello again", "t-plain");
    expect(plain).not.toHaveProperty("structured");
    expect(replies.get("t-plain")!.at(-1)).toEqual({ kind: "final", trace_id: "t-plain", content: "Hello from the model." });
  });

  it("ends a format turn whose model answers in prose with an honest error", async () => {
    const { adapter: a, replies } = recorded();
    const result = await a.prompt("answer in prose please", "t-prose", { format: { type: "object", properties: { city: { type: "string" } } } });
    expect(result).toMatchObject({ outcome: "error", code: "provider_error" });
    expect(result.outcome === "error" && result.error).toContain("did not answer in the requested format");
    expect(replies.get("t-prose")!.filter((r) => r.kind === "final" || r.kind === "error")).toHaveLength(1);
  });

  it("refuses invalid options before anything is sent", async () => {
    const a = adapter();
    const result = await a.prompt("hello", "t-bad", { tools: { bash: "no" } } as never);
    expect(result).toMatchObject({ outcome: "error", code: "bad_request" });
    expect(result.outcome === "error" && result.error).toContain("tools.bash");
  });

  it("runs a configured slash command as a turn, and refuses an unknown one", async () => {
    const { adapter: a, replies } = recorded();
    const before = model.log.length;
    const result = await a.command("greet", "Alice", "t-cmd");
    expect(result).toMatchObject({ outcome: "final", content: "Hello from the model." });
    const request = model.log.slice(before).find((r) => r.branch === "text")!;
    expect(request.lastUserText).toContain("Please greet Alice warmly.");
    const turn = replies.get("t-cmd")!;
    // The hub joins the deltas that arrive together: how many replies they make depends on the reads.
    expect(runs(turn.map((r) => r.kind))).toEqual(["delta", "final"]);
    expect(turn.flatMap((r) => (r.kind === "delta" ? [r.content] : [])).join("")).toBe("Hello from the model.");
    // The same adapter goes on: a prompt after the command (whose answer came after its idle).
    expect(await a.prompt("and now?", "t-after")).toMatchObject({ outcome: "final" });
    const unknown = await a.command("nope", "", "t-nope");
    expect(unknown).toMatchObject({ outcome: "error", code: "bad_request" });
    expect(unknown.outcome === "error" && unknown.error).toContain("nope");
  });

  it("summarizes the session as a turn whose answer is the summary", async () => {
    const { adapter: a, replies } = recorded();
    await a.prompt("hello", "t-first");
    const result = await a.summarize("t-sum");
    expect(result).toMatchObject({ outcome: "final", content: SUMMARY.join("") });
    expect(replies.get("t-sum")!.at(-1)).toEqual({ kind: "final", trace_id: "t-sum", content: SUMMARY.join("") });
    expect(await a.prompt("after compaction", "t-next")).toMatchObject({ outcome: "final", content: "Hello from the model." });
  });

  it("replays a session's history as the live turns replied, keyed by their user messages", async () => {
    const live = recorded();
    const first = await live.adapter.prompt("hello there", "t-h1");
    await live.adapter.prompt("please use a tool", "t-h2");
    const history = await adapter(undefined, first.session_id).history();
    expect(history.map((turn) => turn.text)).toEqual(["hello there", "please use a tool"]);
    expect(history.map((turn) => joined(turn.replies))).toEqual([joined(live.replies.get("t-h1")!), joined(live.replies.get("t-h2")!)]);
    expect(history[1]!.replies.map((r) => r.kind)).toEqual(["tool_call", "tool_result", "delta", "final"]);
    const users = (await storedMessages(first.session_id!)).filter((m) => m.info.role === "user").map((m) => m.info.id);
    expect(history.map((turn) => turn.messageId)).toEqual(users);
    expect(history[0]!.replies.every((r) => r.trace_id === history[0]!.messageId)).toBe(true);

    // The CLI prints the same replies (--json), or shows them as run does.
    const connection = ["--url", server.url, "--password", server.password];
    const json = await runCli(["history", first.session_id!, "--json", ...connection]);
    expect(json.code).toBe(0);
    expect(json.stdout.trim().split("\n").map((line) => ReplySchema.parse(JSON.parse(line)))).toEqual(history.flatMap((turn) => turn.replies));
    const shown = await runCli(["history", first.session_id!, ...connection]);
    expect(shown.stdout).toContain("> hello there\nHello from the model.");
    expect(shown.stdout).toContain("✓ bash echo hi-from-tool → hi-from-tool");
    const missing = await runCli(["history", "ses_missing", ...connection]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("(session_not_found)");
  });

  it("sends a turn's variant: the model's configured variant options reach the provider's request, and only with it", async () => {
    const a = adapter();
    const before = model.log.length;
    expect(await a.prompt("hello variant", "t-variant", { variant: "deep" })).toMatchObject({ outcome: "final" });
    expect(await a.prompt("hello plain", "t-plain-variant")).toMatchObject({ outcome: "final" });
    const [withVariant, without] = model.log.slice(before).filter((r) => r.branch === "text");
    // The test config's variant "deep" is { reasoningEffort: "high" }: openai-compatible's reasoning_effort.
    expect(withVariant!.lastUserText).toBe("hello variant");
    expect(withVariant!.body).toMatchObject({ reasoning_effort: "high" });
    expect(without!.lastUserText).toBe("hello plain");
    expect(without!.body).not.toHaveProperty("reasoning_effort");
  });

  it("replays a session's history in the full vocabulary as the live turns replied: todos, a subagent's work under its task call, a compaction", async () => {
    const replies = new Map<string, Reply[]>();
    const config = { baseUrl: server.url, password: server.password, providerID: PROVIDER_ID, modelID: MODEL_ID, vocabulary: "full" as const };
    const live = new OpenCodeAdapter(config, (reply) => void replies.set(reply.trace_id, [...(replies.get(reply.trace_id) ?? []), reply]));
    adapters.push(live);
    const traces = ["t-todo", "t-task", "t-sum", "t-after"];
    await live.prompt("please TODO-MARK", traces[0]);
    await live.prompt("please TASK-MARK", traces[1]);
    await live.summarize(traces[2]);
    await live.prompt("hello after", traces[3]);
    const history = await adapter(undefined, live.sessionId).history({ vocabulary: "full" });
    expect(history.map((turn) => turn.text)).toEqual(["please TODO-MARK", "please TASK-MARK", "", "hello after"]);
    expect(history.map((turn) => comparable(turn.replies))).toEqual(traces.map((trace) => comparable(replies.get(trace)!)));
    // What the comparison is about, said outright: each is there, in the live turn's order.
    const [todo, task, summary] = history.map((turn) => turn.replies.map((r) => (r.kind === "subagent" ? `subagent:${r.reply.kind}` : r.kind)));
    expect(todo!.slice(0, 3)).toEqual(["todo", "tool_call", "tool_result"]);
    expect(history[0]!.replies[0]).toMatchObject({ kind: "todo", todos: TODOS });
    expect(task!.filter((kind) => kind !== "tool_update").slice(0, 3)).toEqual(["tool_call", "subagent:tool_call", "subagent:tool_result"]);
    expect(task!.indexOf("tool_result")).toBe(task!.lastIndexOf("subagent:final") + 1);
    expect(history[1]!.replies.find((r) => r.kind === "subagent" && r.reply.kind === "final")).toMatchObject({ call_id: "call_task", reply: { kind: "final", content: "Tool said: hi-from-tool\n" } });
    expect(summary).toEqual(["delta", "step", "compaction", "final"]);
    // The core vocabulary replays none of it, and no child's text.
    const core = await adapter(undefined, live.sessionId).history();
    expect(core.flatMap((turn) => turn.replies.map((r) => r.kind))).not.toEqual(expect.arrayContaining(["todo"]));
    expect(core[1]!.replies.map((r) => r.kind)).toEqual(["tool_call", "tool_result", "delta", "final"]);

    // The command line prints the same replies.
    const json = await runCli(["history", live.sessionId!, "--vocabulary", "full", "--json", "--url", server.url, "--password", server.password]);
    expect(json.code).toBe(0);
    expect(json.stdout.trim().split("\n").map((line) => ReplySchema.parse(JSON.parse(line)))).toEqual(history.flatMap((turn) => turn.replies));
  }, 120_000);

  it("offers the operations over the bridge: a command as a turn, history, sessions", async () => {
    const child = spawn(process.execPath, [CLI, "bridge", "--url", server.url, "--password", server.password, "--model", `${PROVIDER_ID}/${MODEL_ID}`], { env: cliEnv(), stdio: ["pipe", "pipe", "pipe"] });
    const lines: Array<Record<string, any>> = [];
    let partial = "";
    child.stdout.on("data", (chunk: Buffer) => {
      const complete = (partial + chunk.toString("utf8")).split("\n");
      partial = complete.pop()!;
      for (const line of complete) lines.push(JSON.parse(line));
    });
    const exited = new Promise((resolve) => child.once("close", resolve));
    const ask = async (request: Record<string, unknown>, done: (line: Record<string, any>) => boolean) => {
      child.stdin.write(`${JSON.stringify(request)}\n`);
      await eventually(() => lines.some((line) => line.id === request.id && done(line)), `the answer to ${String(request.op)}`, 25_000);
      return lines.filter((line) => line.id === request.id);
    };
    try {
      const command = await ask({ id: "c1", op: "command", name: "greet", arguments: "Bob", trace_id: "t-bridge" }, (line) => "result" in line);
      expect(command.at(-1)!.result).toMatchObject({ outcome: "final", content: "Hello from the model." });
      expect(runs(command.filter((line) => "reply" in line).map((line) => line.reply.kind))).toEqual(["delta", "final"]);
      const prompt = await ask({ id: "p1", op: "prompt", text: "hello", system: "BRIDGE-SYSTEM" }, (line) => "result" in line);
      expect(prompt.at(-1)!.result).toMatchObject({ outcome: "final" });
      expect(systemText(model.log.at(-1)!.body)).toContain("BRIDGE-SYSTEM");
      const [history] = await ask({ id: "h1", op: "history" }, (line) => "history" in line);
      expect(history!.history.map((turn: { text: string }) => turn.text)).toEqual(["Please greet Bob warmly.", "hello"]);
      const [sessions] = await ask({ id: "l1", op: "sessions" }, (line) => "sessions" in line);
      expect(sessions!.sessions.map((s: { session_id: string }) => s.session_id)).toContain(command.at(-1)!.result.session_id);
      const [reverted] = await ask({ id: "r1", op: "revert", message_id: history!.history[1].message_id }, () => true);
      expect(reverted).toEqual({ id: "r1", done: true });
      expect(await ask({ id: "u1", op: "unrevert" }, () => true)).toEqual([{ id: "u1", done: true }]);
      const [invalid] = await ask({ id: "r2", op: "revert", message_id: "nope" }, () => true);
      expect(invalid).toMatchObject({ id: "r2", error: expect.stringContaining("message_id") });
      const [unknown] = await ask({ id: "r3", op: "revert", message_id: "msg_doesnotexist" }, () => true);
      expect(unknown).toEqual({ id: "r3", error: expect.stringContaining("no message msg_doesnotexist"), code: "bad_request" });
      const [full] = await ask({ id: "h2", op: "history", vocabulary: "full" }, (line) => "history" in line);
      expect(full!.history.map((turn: { replies: Reply[] }) => turn.replies.map((r) => r.kind))).toEqual([
        ["delta", "step", "final"],
        ["delta", "step", "final"],
      ]);
      await ask({ id: "x", op: "close" }, (line) => line.closed === true);
    } finally {
      child.stdin.end();
      await exited;
    }
  });

  it("forks, reverts and unreverts a session, and lists the server's sessions", async () => {
    const a = adapter();
    await a.prompt("one", "t-1");
    await a.prompt("two", "t-2");
    const [turn1, turn2] = await a.history();
    const whole = await a.fork();
    const before2 = await a.fork(turn2!.messageId);
    expect(whole).not.toBe(a.sessionId);
    expect((await adapter(undefined, whole).history()).map((t) => t.text)).toEqual(["one", "two"]);
    expect((await adapter(undefined, before2).history()).map((t) => t.text)).toEqual(["one"]);
    const listed = (await a.sessions()).map((s) => s.session_id);
    expect(listed).toEqual(expect.arrayContaining([a.sessionId, whole, before2]));

    // Reverted then unreverted: nothing is lost at the next prompt. While reverted, history leaves the turns out.
    await a.revert(turn2!.messageId);
    expect((await a.history()).map((t) => t.text)).toEqual(["one"]);
    await a.unrevert();
    expect((await a.history()).map((t) => t.text)).toEqual(["one", "two"]);
    await a.prompt("three", "t-3");
    expect((await a.history()).map((t) => t.text)).toEqual(["one", "two", "three"]);
    // Reverted: the next prompt drops the reverted turns.
    await a.revert(turn2!.messageId);
    await a.prompt("four", "t-4");
    expect((await a.history()).map((t) => t.text)).toEqual(["one", "four"]);
    expect(turn1).toBeDefined();
  });

  it("says why a session operation fails, as a TurnError with the contract's code", async () => {
    const a = adapter(undefined, "ses_doesnotexist");
    await expect(a.fork()).rejects.toMatchObject({ name: "TurnError", code: "session_not_found" });
    await expect(adapter().revert("not-an-id")).rejects.toMatchObject({ code: "session_not_found" });
    const withSession = adapter();
    await withSession.prompt("hello", "t-x");
    await expect(withSession.revert("not-an-id")).rejects.toMatchObject({ code: "bad_request" });
    // A well-formed id the session does not have: opencode takes it (and does nothing); the adapter says so.
    const raw = await fetch(`${server.url}/session/${withSession.sessionId}/revert`, { method: "POST", headers: { ...server.headers, "content-type": "application/json" }, body: JSON.stringify({ messageID: "msg_doesnotexist" }) });
    expect(raw.ok).toBe(true);
    expect((await withSession.history()).map((turn) => turn.text)).toEqual(["hello"]);
    await expect(withSession.revert("msg_doesnotexist")).rejects.toMatchObject({ name: "TurnError", code: "bad_request", message: expect.stringContaining("msg_doesnotexist") });
    expect((await withSession.history()).map((turn) => turn.text)).toEqual(["hello"]);
  });
}, 180_000);

