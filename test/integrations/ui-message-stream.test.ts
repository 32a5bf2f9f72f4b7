import { readUIMessageStream, type UIMessage, type UIMessageChunk as AiChunk } from "ai";
import { describe, expect, it } from "vitest";
import type { TurnResult } from "../../src/contract/replies.js";
import { toUIMessageChunks, UIMessageStream, type AnyReply, type UIMessageChunk } from "../../src/integrations/ui-message-stream.js";

// The AI SDK's own reader is the client: what it builds from the chunks is what `useChat` shows.

async function lastMessage(chunks: readonly UIMessageChunk[]): Promise<UIMessage> {
  const stream = new ReadableStream<AiChunk>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk as AiChunk);
      controller.close();
    },
  });
  let last: UIMessage | undefined;
  for await (const message of readUIMessageStream({ stream })) last = message;
  return last!;
}

const T = "trace-1";
const usage = { tokens: { input: 10, output: 5, reasoning: 1, cache: { read: 2, write: 0 } }, cost: 0.01 };
const result: TurnResult = { trace_id: T, session_id: "ses_1", outcome: "final", content: "Hello world", usage, model_changes: [], duration_ms: 42 };

const turn: AnyReply[] = [
  { kind: "reasoning", trace_id: T, content: "Let me " },
  { kind: "reasoning", trace_id: T, content: "look." },
  { kind: "tool_call", trace_id: T, tool: "bash", args: { command: "ls" }, call_id: "call_1" },
  { kind: "tool_update", trace_id: T, call_id: "call_1", tool: "bash", output: "a\n" },
  { kind: "tool_result", trace_id: T, tool: "bash", result: "a\nb\n", success: true, call_id: "call_1" },
  { kind: "todo", trace_id: T, todos: [{ content: "Ship it", status: "in_progress", priority: "high" }] },
  { kind: "step", trace_id: T, index: 0, finish_reason: "tool-calls", tokens: usage.tokens, cost: 0.01 },
  { kind: "delta", trace_id: T, content: "Hello " },
  { kind: "delta", trace_id: T, content: "world" },
  { kind: "final", trace_id: T, content: "Hello world" },
];

describe("the AI SDK UI message stream of a turn", () => {
  it("reads as one assistant message with reasoning, a dynamic tool, data parts and text, usage in its metadata", async () => {
    const message = await lastMessage(toUIMessageChunks(turn, result, { messageId: "msg_a" }));
    expect(message.id).toBe("msg_a");
    expect(message.role).toBe("assistant");
    expect(message.metadata).toEqual({ trace_id: T, session_id: "ses_1", outcome: "final", usage, duration_ms: 42 });
    expect(message.parts.map((part) => part.type)).toEqual(["step-start", "reasoning", "dynamic-tool", "data-todos", "data-step", "step-start", "text"]);
    expect(message.parts).toMatchObject([
      { type: "step-start" },
      { type: "reasoning", text: "Let me look.", state: "done" },
      { type: "dynamic-tool", toolName: "bash", toolCallId: "call_1", state: "output-available", input: { command: "ls" }, output: "a\nb\n" },
      { type: "data-todos", id: "todos", data: { todos: [{ content: "Ship it", status: "in_progress", priority: "high" }] } },
      { type: "data-step", id: "step-0", data: { index: 0, finish_reason: "tool-calls", tokens: usage.tokens, cost: 0.01 } },
      { type: "step-start" },
      { type: "text", text: "Hello world", state: "done" },
    ]);
  });

  it("carries a structured answer as a data part, and a failed tool as its error", async () => {
    const replies: AnyReply[] = [
      { kind: "tool_call", trace_id: T, tool: "edit", args: {}, call_id: "c" },
      { kind: "tool_result", trace_id: T, tool: "edit", result: "no such file", success: false, call_id: "c" },
      { kind: "final", trace_id: T, content: "", structured: { city: "Paris" } },
    ];
    const message = await lastMessage(toUIMessageChunks(replies));
    expect(message.parts.find((p) => p.type === "dynamic-tool")).toMatchObject({ state: "output-error", errorText: "no such file" });
    expect(message.parts.find((p) => p.type === "data-structured")).toMatchObject({ data: { city: "Paris" } });
    expect(message.metadata).toEqual({ trace_id: T, outcome: "final" });
  });

  it("nests a subagent's work in one data part, updated in place", async () => {
    const child = (reply: Record<string, unknown>): AnyReply => ({ kind: "subagent", trace_id: T, call_id: "task_1", session_id: "ses_child", reply: { trace_id: T, ...reply } });
    const replies: AnyReply[] = [
      { kind: "tool_call", trace_id: T, tool: "task", args: { prompt: "go" }, call_id: "task_1" },
      child({ kind: "delta", content: "Child " }),
      child({ kind: "tool_call", tool: "bash", args: { command: "echo" }, call_id: "cb" }),
      child({ kind: "tool_result", tool: "bash", result: "ok", success: true, call_id: "cb" }),
      child({ kind: "delta", content: "done." }),
      child({ kind: "final", content: "Child done." }),
      { kind: "tool_result", trace_id: T, tool: "task", result: "Child done.", success: true, call_id: "task_1" },
      { kind: "final", trace_id: T, content: "" },
    ];
    const message = await lastMessage(toUIMessageChunks(replies));
    const subagents = message.parts.filter((p) => p.type === "data-subagent");
    expect(subagents).toHaveLength(1);
    expect(subagents[0]).toMatchObject({
      id: "subagent-task_1",
      data: { call_id: "task_1", session_id: "ses_child", content: "Child done.", outcome: "final", tools: [{ call_id: "cb", tool: "bash", args: { command: "echo" }, result: "ok", success: true }] },
    });
  });

  it("ends an error turn with the SDK's error chunk and an error finish, fed live through a stream", async () => {
    const ui = new UIMessageStream();
    const errors: Error[] = [];
    const reading = (async () => {
      let last: UIMessage | undefined;
      for await (const m of readUIMessageStream({ stream: ui.stream as unknown as ReadableStream<AiChunk>, onError: (e) => errors.push(e as Error) })) last = m;
      return last!;
    })();
    ui.push({ kind: "delta", trace_id: T, content: "partial" });
    ui.push({ kind: "error", trace_id: T, error: "The model provider failed: boom", code: "provider_error" });
    ui.finish({ trace_id: T, outcome: "error", error: "The model provider failed: boom", code: "provider_error", model_changes: [], duration_ms: 3 });
    const message = await reading;
    expect(errors.map((e) => e.message)).toEqual(["The model provider failed: boom"]);
    expect(message.parts.find((p) => p.type === "text")).toMatchObject({ text: "partial", state: "done" });
    expect(message.metadata).toEqual({ trace_id: T, outcome: "error", duration_ms: 3, code: "provider_error" });
  });
});
