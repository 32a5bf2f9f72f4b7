import type { Reply, TurnResult } from "../contract/replies.js";

// A turn's replies as the Vercel AI SDK's UI message stream (the chunks `useChat` reads, from
// `createUIMessageStreamResponse({ stream })`), so a React app shows an opencode turn with no glue.
// The chunk shapes are the AI SDK's (v6); they are written out here so the library does not depend
// on the `ai` package at run time.

/** The AI SDK's finish reasons. */
type FinishReason = "stop" | "length" | "content-filter" | "tool-calls" | "error" | "other";

/** What the stream's `start` and `finish` chunks carry as the message's metadata. */
export interface TurnMetadata {
  trace_id?: string;
  session_id?: string;
  outcome?: TurnResult["outcome"];
  usage?: TurnResult["usage"];
  duration_ms?: number;
  /** The error's code, for a turn that ended with one. */
  code?: string;
}

/** The chunks this stream writes: a subset of the AI SDK's `UIMessageChunk`. */
export type UIMessageChunk =
  | { type: "start"; messageId?: string; messageMetadata?: TurnMetadata }
  | { type: "start-step" }
  | { type: "finish-step" }
  | { type: "text-start" | "text-end" | "reasoning-start" | "reasoning-end"; id: string }
  | { type: "text-delta" | "reasoning-delta"; id: string; delta: string }
  | { type: "tool-input-available"; toolCallId: string; toolName: string; input: unknown; dynamic: true; title?: string }
  | { type: "tool-output-available"; toolCallId: string; output: unknown; dynamic: true; preliminary?: boolean }
  | { type: "tool-output-error"; toolCallId: string; errorText: string; dynamic: true }
  | { type: `data-${string}`; id?: string; data: unknown }
  | { type: "error"; errorText: string }
  | { type: "finish"; finishReason: FinishReason; messageMetadata?: TurnMetadata };

/**
 * A reply of either vocabulary: the six core kinds, or the full vocabulary's todo, step,
 * tool_update, subagent, ask, retry and compaction (read by their documented fields).
 */
export type AnyReply = Reply | { kind: string; trace_id: string; [field: string]: unknown };

/** What a subagent (a task tool's child session) did, as one data part updated in place. */
interface SubagentView {
  call_id: string;
  session_id: string;
  content: string;
  tools: Array<{ call_id: string; tool: string; args: unknown; result?: unknown; success?: boolean }>;
  outcome?: "final" | "error";
  error?: string;
}

/**
 * Turns one turn's replies, as they come, into UI message chunks. `push` each reply (in order),
 * then `finish` with the turn's result (for its usage); the chunks of one turn make one assistant
 * message. Tools are `dynamic` (the app need not declare opencode's tools); todos, steps, subagents,
 * asks, retries, a compaction and a structured answer are data parts (`data-todos`, `data-step`,
 * `data-subagent`, `data-ask`, `data-retry`, `data-compaction`, `data-structured`).
 */
export class UIMessageChunker {
  private started = false;
  private inStep = false;
  private open: { kind: "text" | "reasoning"; id: string } | undefined;
  private parts = 0;
  private readonly subagents = new Map<string, SubagentView>();
  private ended: { reason: FinishReason; code?: string } | undefined;

  constructor(private readonly options: { messageId?: string } = {}) {}

  push(reply: AnyReply): UIMessageChunk[] {
    const out: UIMessageChunk[] = [];
    if (!this.started) {
      this.started = true;
      out.push({ type: "start", ...(this.options.messageId ? { messageId: this.options.messageId } : {}), messageMetadata: { trace_id: reply.trace_id } });
    }
    const step = () => {
      if (!this.inStep) out.push({ type: "start-step" });
      this.inStep = true;
    };
    const r = reply as Record<string, any>;
    switch (reply.kind) {
      case "delta":
      case "reasoning": {
        step();
        const kind = reply.kind === "delta" ? "text" : "reasoning";
        if (this.open?.kind !== kind) {
          this.close(out);
          this.open = { kind, id: `${kind}-${this.parts++}` };
          out.push({ type: `${kind}-start`, id: this.open.id });
        }
        out.push({ type: `${kind}-delta`, id: this.open.id, delta: r.content as string });
        break;
      }
      case "tool_call":
        step();
        this.close(out);
        out.push({ type: "tool-input-available", toolCallId: r.call_id, toolName: r.tool, input: r.args, dynamic: true });
        break;
      case "tool_update":
        out.push({ type: "tool-output-available", toolCallId: r.call_id, output: { ...(r.title !== undefined ? { title: r.title } : {}), ...(r.output !== undefined ? { output: r.output } : {}) }, dynamic: true, preliminary: true });
        break;
      case "tool_result":
        if (r.success) out.push({ type: "tool-output-available", toolCallId: r.call_id, output: r.result, dynamic: true });
        else out.push({ type: "tool-output-error", toolCallId: r.call_id, errorText: typeof r.result === "string" ? r.result : JSON.stringify(r.result), dynamic: true });
        break;
      case "todo":
        out.push({ type: "data-todos", id: "todos", data: { todos: r.todos } });
        break;
      case "step": {
        this.close(out);
        const { kind: _kind, trace_id: _trace, ...data } = r;
        out.push({ type: "data-step", id: `step-${String(r.index)}`, data });
        if (this.inStep) out.push({ type: "finish-step" });
        this.inStep = false;
        break;
      }
      case "subagent":
        out.push({ type: "data-subagent", id: `subagent-${r.call_id as string}`, data: this.subagentView(r.call_id, r.session_id, r.reply) });
        break;
      case "ask": {
        const { kind: _kind, trace_id: _trace, ...data } = r;
        out.push({ type: "data-ask", id: `ask-${r.ask_id as string}`, data });
        break;
      }
      case "retry":
        out.push({ type: "data-retry", id: "retry", data: { attempt: r.attempt, message: r.message } });
        break;
      case "compaction":
        out.push({ type: "data-compaction", data: {} });
        break;
      case "final":
        this.end(out, { reason: "stop" });
        if (r.structured !== undefined) out.push({ type: "data-structured", id: "structured", data: r.structured });
        break;
      case "error":
        this.end(out, { reason: "error", code: r.code });
        out.push({ type: "error", errorText: r.error });
        break;
    }
    return out;
  }

  /** The closing chunk, with the result's usage as the message's metadata (the terminal reply's alone if there is no result). */
  finish(result?: TurnResult): UIMessageChunk[] {
    const out: UIMessageChunk[] = [];
    if (this.ended === undefined) this.end(out, { reason: result?.outcome === "final" ? "stop" : "error" });
    const metadata: TurnMetadata = result
      ? {
          trace_id: result.trace_id,
          ...(result.session_id ? { session_id: result.session_id } : {}),
          outcome: result.outcome,
          ...(result.usage ? { usage: result.usage } : {}),
          duration_ms: result.duration_ms,
          ...(result.outcome === "error" ? { code: result.code } : {}),
        }
      : { outcome: this.ended!.reason === "stop" ? "final" : "error", ...(this.ended!.code ? { code: this.ended!.code } : {}) };
    out.push({ type: "finish", finishReason: this.ended!.reason, messageMetadata: metadata });
    return out;
  }

  private end(out: UIMessageChunk[], ended: { reason: FinishReason; code?: string }): void {
    if (this.ended) return;
    this.ended = ended;
    this.close(out);
    if (this.inStep) out.push({ type: "finish-step" });
    this.inStep = false;
  }

  private close(out: UIMessageChunk[]): void {
    if (this.open) out.push({ type: `${this.open.kind}-end`, id: this.open.id });
    this.open = undefined;
  }

  private subagentView(callId: string, sessionId: string, reply: Record<string, any>): SubagentView {
    const view = this.subagents.get(callId) ?? { call_id: callId, session_id: sessionId, content: "", tools: [] };
    const next: SubagentView = { ...view, tools: [...view.tools] };
    if (reply.kind === "delta") next.content += reply.content;
    if (reply.kind === "tool_call") next.tools.push({ call_id: reply.call_id, tool: reply.tool, args: reply.args });
    if (reply.kind === "tool_result") {
      next.tools = next.tools.map((tool) => (tool.call_id === reply.call_id ? { ...tool, result: reply.result, success: reply.success } : tool));
    }
    if (reply.kind === "final") next.outcome = "final";
    if (reply.kind === "error") Object.assign(next, { outcome: "error", error: reply.error });
    this.subagents.set(callId, next);
    return next;
  }
}

/** A whole turn's replies (a live turn's, or one of `history()`) as the chunks of one assistant message. */
export function toUIMessageChunks(replies: Iterable<AnyReply>, result?: TurnResult, options: { messageId?: string } = {}): UIMessageChunk[] {
  const chunker = new UIMessageChunker(options);
  const chunks: UIMessageChunk[] = [];
  for (const reply of replies) chunks.push(...chunker.push(reply));
  return [...chunks, ...chunker.finish(result)];
}

/**
 * A UI message stream fed as the turn runs: give `push` as (or call it from) the adapter's sink and
 * `finish` the turn's result; `stream` is what `createUIMessageStreamResponse({ stream })` takes.
 */
export class UIMessageStream {
  readonly stream: ReadableStream<UIMessageChunk>;
  private readonly chunker: UIMessageChunker;
  private controller!: ReadableStreamDefaultController<UIMessageChunk>;
  private done = false;

  constructor(options: { messageId?: string } = {}) {
    this.chunker = new UIMessageChunker(options);
    this.stream = new ReadableStream<UIMessageChunk>({ start: (controller) => void (this.controller = controller) });
  }

  push = (reply: AnyReply): void => {
    if (this.done) return;
    for (const chunk of this.chunker.push(reply)) this.controller.enqueue(chunk);
  };

  finish(result?: TurnResult): void {
    if (this.done) return;
    this.done = true;
    for (const chunk of this.chunker.finish(result)) this.controller.enqueue(chunk);
    this.controller.close();
  }
}
