/**
 * The full reply vocabulary against real opencode: the scripted model drives opencode's own tools
 * (todowrite, bash with streamed output, write and edit, task with a child session) and the replies
 * are checked against what opencode did. Both versions have every one of these features.
 */
import { readUIMessageStream, type UIMessage, type UIMessageChunk as AiChunk } from "ai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { say, scriptsByKeyword, toolCall } from "../../testkit/step-scripts.js";
import { startRecordedModel, type ScriptedModel } from "../../testkit/scripted-model.js";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { CoreReply, Reply, type TurnResult, type Vocabulary } from "../../src/contract/replies.js";
import { MODEL_ID, OPENCODE_VERSIONS, startTestOpencode, warmUp, type OpencodeServer } from "../../testkit/opencode-server.js";
import { asCore, summedSteps } from "../../testkit/vocabulary.js";
import { runCli } from "../../testkit/cli.js";
import { PassThrough } from "node:stream";
import { BridgeOutput, runBridge } from "../../src/integrations/bridge.js";
import { UIMessageStream } from "../../src/integrations/ui-message-stream.js";

const BASH = "for i in 1 2 3; do echo $i; sleep 0.4; done";
const TODOS = [
  { content: "Plan", status: "in_progress", priority: "high" },
  { content: "Test", status: "pending", priority: "medium" },
];


function scripts(directory: () => string) {
  return scriptsByKeyword(() => {
    const file = `${directory()}/vocabulary-${process.pid}.txt`;
    return {
      "VOCAB-TODO": [toolCall("call_todo", "todowrite", { todos: TODOS }), toolCall("call_todo2", "todowrite", { todos: [{ ...TODOS[0], status: "completed" }] }), say("Todos ", "set.")],
      "VOCAB-BASH": [toolCall("call_bash", "bash", { command: BASH, description: "Count" }), say("Counted.")],
      "VOCAB-EDIT": [
        toolCall("call_write", "write", { filePath: file, content: "one\ntwo\nthree\n" }),
        toolCall("call_edit", "edit", { filePath: file, oldString: "two", newString: "2\n2b" }),
        say("Edited."),
      ],
      "VOCAB-TASK": [toolCall("call_task", "task", { description: "Child job", prompt: "CHILD-TASK: echo", subagent_type: "general" }), say("Parent ", "done.")],
      "CHILD-TASK": [toolCall("call_child", "bash", { command: "echo from-child", description: "child echo" }), say("Child ", "done.")],
    };
  });
}

type Turn = { result: TurnResult; replies: Reply[] };
type Of<K extends Reply["kind"]> = Extract<Reply, { kind: K }>;
const ofKind = <K extends Reply["kind"]>(replies: readonly Reply[], kind: K) => replies.filter((r): r is Of<K> => r.kind === kind);

/** The invariants of both vocabularies, and the steps summing to the result's usage. */
function expectInvariants({ result, replies }: Turn, vocabulary: Vocabulary): void {
  for (const reply of replies) Reply.parse(reply);
  expect(replies.filter((r) => r.kind === "final" || r.kind === "error")).toHaveLength(1);
  expect(replies.at(-1)?.kind).toBe("final");
  expect(result.outcome === "final" && result.content).toBe(ofKind(replies, "delta").map((d) => d.content).join(""));
  for (const kind of ["tool_call", "tool_result"] as const) {
    const ids = ofKind(replies, kind).map((r) => r.call_id);
    expect(new Set(ids).size).toBe(ids.length);
  }
  if (vocabulary === "full") expect(summedSteps(replies)).toEqual(result.usage);
  else expect(replies.every((r) => CoreReply.safeParse(r).success)).toBe(true);
}

describe.each(OPENCODE_VERSIONS)("full vocabulary on opencode %s", (version) => {
  let model: ScriptedModel;
  let server: OpencodeServer;
  const adapters: OpenCodeAdapter[] = [];

  beforeAll(async () => {
    model = await startRecordedModel(scripts(() => server.directory), [MODEL_ID]);
    // bash asks, so every bash call (the child's too) is an answered ask; edits are allowed.
    server = await startTestOpencode({ version, modelUrl: model.url, permission: { bash: "ask", edit: "allow" } });
    await warmUp(server);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(adapters.map((a) => a.close()));
    await server?.stop();
    await model?.close();
  });

  async function turn(text: string, vocabulary: Vocabulary = "full"): Promise<Turn> {
    const replies: Reply[] = [];
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password, permissions: "once", vocabulary }, (reply) => void replies.push(reply));
    adapters.push(adapter);
    const result = await adapter.prompt(text);
    expectInvariants({ result, replies }, vocabulary);
    return { result, replies };
  }

  it("todowrite: the whole list each time it changes, before the call's result; a step per model step", async () => {
    const { replies } = await turn("VOCAB-TODO");
    expect(ofKind(replies, "todo").map((t) => t.todos)).toEqual([TODOS, [{ ...TODOS[0], status: "completed" }]]);
    expect(ofKind(replies, "step").map((s) => [s.index, s.finish_reason])).toEqual([
      [0, "tool-calls"],
      [1, "tool-calls"],
      [2, "stop"],
    ]);
    const firstTodo = replies.findIndex((r) => r.kind === "todo");
    expect(firstTodo).toBeLessThan(replies.findIndex((r) => r.kind === "tool_result" && r.call_id === "call_todo"));
  });

  it("bash: the ask and its decision, the output so far while it runs (each the whole so far), then the result with its title", async () => {
    const { replies } = await turn("VOCAB-BASH");
    expect(ofKind(replies, "ask")).toEqual([expect.objectContaining({ type: "permission", decision: "once", request: expect.objectContaining({ permission: "bash" }) })]);
    const updates = ofKind(replies, "tool_update").filter((u) => u.call_id === "call_bash");
    expect(updates.length).toBeGreaterThan(0);
    const outputs = updates.flatMap((u) => (u.output === undefined ? [] : [u.output]));
    for (let i = 1; i < outputs.length; i++) expect(outputs[i]!.startsWith(outputs[i - 1]!)).toBe(true);
    expect(outputs.at(-1)).toMatch(/^1\n(2\n(3\n)?)?$/);
    const call = replies.findIndex((r) => r.kind === "tool_call" && r.call_id === "call_bash");
    const result = replies.findIndex((r) => r.kind === "tool_result" && r.call_id === "call_bash");
    expect(replies.findIndex((r) => r.kind === "tool_update")).toBeGreaterThan(call);
    expect(replies.findLastIndex((r) => r.kind === "tool_update")).toBeLessThan(result);
    // 1.18.33 titles bash with its command, 1.15.13 with its description.
    expect(replies[result]).toMatchObject({ result: "1\n2\n3\n", success: true, title: version === "1.18.33" ? BASH : "Count" });
  });

  it("the AI SDK's own reader makes one chat message of a live turn, fed to UIMessageStream as it runs", async () => {
    const ui = new UIMessageStream({ messageId: "msg_ui" });
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password, permissions: "once", vocabulary: "full" }, ui.push);
    adapters.push(adapter);
    const reading = (async () => {
      let last: UIMessage | undefined;
      for await (const message of readUIMessageStream({ stream: ui.stream as ReadableStream<AiChunk> })) last = message;
      return last;
    })();
    const result = await adapter.prompt("VOCAB-BASH");
    ui.finish(result);
    const message = await reading;
    expect(result.outcome).toBe("final");
    expect(message?.id).toBe("msg_ui");
    expect(message?.metadata).toMatchObject({ outcome: "final", session_id: result.session_id });
    const texts = message!.parts.flatMap((part) => (part.type === "text" ? [part.text] : []));
    expect(texts.join("")).toBe(result.outcome === "final" && result.content);
    expect(message!.parts.filter((part) => part.type === "dynamic-tool")).toEqual([
      expect.objectContaining({ toolName: "bash", toolCallId: "call_bash", state: "output-available", output: "1\n2\n3\n" }),
    ]);
  });

  it("write and edit: the edit's unified diff and line counts from opencode; write has a title and no diff", async () => {
    const { replies } = await turn("VOCAB-EDIT");
    const [write, edit] = ofKind(replies, "tool_result") as Array<Of<"tool_result"> & { title?: string; files?: unknown }>;
    expect(write).toMatchObject({ tool: "write", success: true, title: expect.stringContaining("vocabulary-") });
    expect(write?.files).toBeUndefined();
    expect(edit).toMatchObject({ tool: "edit", success: true });
    expect(edit?.files).toEqual([{ path: expect.stringMatching(/vocabulary-\d+\.txt$/), additions: 2, deletions: 1, patch: expect.stringContaining("-two\n+2\n+2b\n") }]);
  });

  it("task: the child's work nested under the task call (its ask at the top), its final its own, the parent's final only the parent's text", async () => {
    const full = await turn("VOCAB-TASK");
    const { replies, result } = full;
    const nested = ofKind(replies, "subagent");
    expect(nested.length).toBeGreaterThan(0);
    expect(new Set(nested.map((r) => r.call_id))).toEqual(new Set(["call_task"]));
    const inner = nested.map((r) => r.reply);
    expect(inner.map((r) => r.kind)).toEqual(expect.arrayContaining(["tool_call", "tool_result", "step", "delta", "final"]));
    expect(inner.at(-1)).toMatchObject({ kind: "final", content: "Child done." });
    expect(inner.find((r) => r.kind === "tool_result")).toMatchObject({ tool: "bash", result: "from-child\n" });
    expect(ofKind(replies, "ask")).toEqual([expect.objectContaining({ decision: "once", request: expect.objectContaining({ sessionID: nested[0]!.session_id }) })]);
    expect(result.outcome === "final" && result.content).toBe("Parent done.");
    const taskResult = replies.findIndex((r) => r.kind === "tool_result" && r.call_id === "call_task");
    expect(replies.findLastIndex((r) => r.kind === "subagent")).toBeLessThan(taskResult);
    expect(replies[taskResult]).toMatchObject({ success: true, title: "Child job" });

    // The same turn in the core vocabulary: the same kinds, none of the new ones.
    const core = await turn("VOCAB-TASK", "core");
    expect(core.replies.map((r) => r.kind)).toEqual(asCore(replies).map((r) => r.kind));
  }, 90_000);

  // The command line and the bridge read the same codec on both versions: proven on the current one.
  if (version !== "1.18.33") return;

  it("run --json prints exactly the chosen vocabulary", async () => {
    const connection = ["--url", server.url, "--password", server.password, "--permissions", "once"];
    const lines = async (...args: string[]) => {
      const run = await runCli(["run", ...connection, "--json", ...args, "VOCAB-TODO"]);
      expect(run.code).toBe(0);
      return run.stdout.trimEnd().split("\n").map((line) => Reply.parse(JSON.parse(line)));
    };
    const full = await lines("--vocabulary", "full");
    expect(full.map((r) => r.kind)).toEqual(expect.arrayContaining(["todo", "step", "tool_call", "tool_result", "final"]));
    const core = await lines();
    expect(core.every((r) => CoreReply.safeParse(r).success)).toBe(true);
    expect(core.map((r) => r.kind)).toEqual(asCore(full).map((r) => r.kind));
    const bad = await runCli(["run", ...connection, "--vocabulary", "most", "hi"]);
    expect(bad.code).toBe(2);
  }, 90_000);

  it("the bridge: the full vocabulary per prompt, or for every prompt of the bridge", async () => {
    const turnOver = async (config: { vocabulary?: Vocabulary }, prompt: object) => {
      const input = new PassThrough();
      const output = new PassThrough();
      let text = "";
      let ended: () => void;
      const result = new Promise<void>((resolve) => (ended = resolve));
      output.on("data", (chunk: Buffer) => {
        text += chunk.toString("utf8");
        if (text.includes('"result"')) ended();
      });
      const done = runBridge({ input, output, config: { baseUrl: server.url, password: server.password, ...config }, permissions: "once" });
      input.write(`${JSON.stringify({ id: "p1", op: "prompt", text: "VOCAB-TODO", ...prompt })}\n`);
      await result;
      input.write(`${JSON.stringify({ id: "c1", op: "close" })}\n`);
      await done;
      const lines = text.trimEnd().split("\n").map((line) => BridgeOutput.parse(JSON.parse(line)));
      return lines.flatMap((line) => ("reply" in line ? [line.reply.kind] : []));
    };
    expect(await turnOver({}, { vocabulary: "full" })).toContain("todo");
    expect(await turnOver({ vocabulary: "full" }, {})).toContain("step");
    expect(await turnOver({ vocabulary: "full" }, { vocabulary: "core" })).not.toContain("step");
  }, 120_000);
});
