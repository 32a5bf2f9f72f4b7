import { z } from "zod";
import type { CodecResult, TurnState } from "./state.js";
import { unchanged } from "./state.js";

// opencode's second event family (`session.next.*`, in 1.18.33's /doc schema): a turn's prompt, steps,
// text, reasoning, tools and retries. A server that sends these instead of the v1 events gets the
// same replies: each is read as the v1 event it stands for and goes through the same rules. Where
// both come, the family that brought the turn's first step is used and the other is ignored, so
// nothing is counted twice. (1.18.33 and 1.15.13 send none of these on /event; 1.15.13 sends only
// agent/model.switched, which carry no content.)

const id = z.string().min(1);
const Next = <S extends z.ZodRawShape>(shape: S) => z.looseObject({ properties: z.looseObject({ sessionID: id, ...shape }) });
const step = { assistantMessageID: id };
const Content = z.array(z.looseObject({ type: z.string(), text: z.string().optional() })).catch([]);

const Prompted = Next({ messageID: id });
const StepStarted = Next(step);
const StepEnded = Next({
  ...step,
  finish: z.string(),
  cost: z.number().catch(0),
  tokens: z.looseObject({ input: z.number(), output: z.number(), reasoning: z.number(), cache: z.looseObject({ read: z.number(), write: z.number() }) }).optional().catch(undefined),
});
const TextEvent = Next({ ...step, textID: id.optional(), reasoningID: id.optional(), delta: z.string().optional(), text: z.string().optional() });
const ToolCalled = Next({ ...step, callID: id, tool: z.string(), input: z.record(z.string(), z.unknown()).catch({}) });
const ToolProgress = Next({ ...step, callID: id, content: Content });
const ToolFailed = Next({ ...step, callID: id, error: z.looseObject({ message: z.string() }).optional().catch(undefined) });
const Retried = Next({ attempt: z.number(), error: z.looseObject({ message: z.string() }).optional().catch(undefined) });

/** The v1 events a `session.next.*` event stands for, for this turn; none when it says nothing the turn uses. */
export function asV1Events(event: unknown, state: TurnState): object[] {
  const type = (event as { type: string }).type.slice("session.next.".length);
  const v1 = (t: string, properties: Record<string, unknown>) => ({ type: t, properties });
  const message = (sessionID: string, info: Record<string, unknown>) => v1("message.updated", { sessionID, info: { sessionID, ...info } });
  const part = (sessionID: string, p: Record<string, unknown>) => v1("message.part.updated", { sessionID, part: { sessionID, ...p } });
  const textKind = type.startsWith("reasoning.") ? "reasoning" : "text";
  switch (type) {
    case "prompted": {
      const e = Prompted.safeParse(event);
      return e.success ? [message(e.data.properties.sessionID, { id: e.data.properties.messageID, role: "user" })] : [];
    }
    case "step.started": {
      const e = StepStarted.safeParse(event);
      if (!e.success) return [];
      const { sessionID, assistantMessageID } = e.data.properties;
      return [message(sessionID, { id: assistantMessageID, role: "assistant", parentID: state.messageId })];
    }
    case "step.ended": {
      const e = StepEnded.safeParse(event);
      if (!e.success) return [];
      const { sessionID, assistantMessageID: messageID, finish, cost, tokens } = e.data.properties;
      return [
        part(sessionID, { id: `${messageID}:step-finish`, messageID, type: "step-finish", reason: finish, cost, ...(tokens ? { tokens } : {}) }),
        message(sessionID, { id: messageID, role: "assistant", parentID: state.messageId, finish, time: { completed: 0 } }),
      ];
    }
    case "text.started":
    case "text.delta":
    case "text.ended":
    case "reasoning.started":
    case "reasoning.delta":
    case "reasoning.ended": {
      const e = TextEvent.safeParse(event);
      const partID = e.data?.properties.textID ?? e.data?.properties.reasoningID;
      if (!e.success || partID === undefined) return [];
      const { sessionID, assistantMessageID: messageID, delta, text } = e.data.properties;
      if (type.endsWith(".delta")) return delta === undefined ? [] : [v1("message.part.delta", { sessionID, messageID, partID, field: "text", delta })];
      const ended = type.endsWith(".ended");
      return [part(sessionID, { id: partID, messageID, type: textKind, text: ended ? (text ?? "") : "", time: ended ? { start: 0, end: 0 } : { start: 0 } })];
    }
    case "tool.called": {
      const e = ToolCalled.safeParse(event);
      if (!e.success) return [];
      const { sessionID, assistantMessageID: messageID, callID, tool, input } = e.data.properties;
      return [part(sessionID, { id: callID, messageID, type: "tool", callID, tool, state: { status: "running", input } })];
    }
    case "tool.progress":
    case "tool.success": {
      const e = ToolProgress.safeParse(event);
      if (!e.success) return [];
      const { sessionID, assistantMessageID: messageID, callID, content } = e.data.properties;
      const output = content.flatMap((c) => (c.type === "text" && c.text !== undefined ? [c.text] : [])).join("");
      const known = state.calls.get(callID);
      const status = type === "tool.success" ? { status: "completed", output, metadata: { output } } : { status: "running", metadata: { output } };
      return [part(sessionID, { id: callID, messageID, type: "tool", callID, tool: known?.tool, state: { input: {}, ...status } })];
    }
    case "tool.failed": {
      const e = ToolFailed.safeParse(event);
      if (!e.success) return [];
      const { sessionID, assistantMessageID: messageID, callID, error } = e.data.properties;
      return [part(sessionID, { id: callID, messageID, type: "tool", callID, tool: state.calls.get(callID)?.tool, state: { status: "error", input: {}, error: error?.message ?? "tool failed" } })];
    }
    case "retried": {
      const e = Retried.safeParse(event);
      if (!e.success) return [];
      const { sessionID, attempt, error } = e.data.properties;
      return [v1("session.status", { sessionID, status: { type: "retry", attempt, message: error?.message ?? "no details given" } })];
    }
    default:
      return [];
  }
}

/** Marks the v1 events made from `session.next.*` ones: they are read even when real v1 content is not. */
export const FROM_NEXT = Symbol("from session.next");

/**
 * A v1 event the turn ignores because its content comes as `session.next.*` events: an assistant
 * message, a part or a delta that a server sending both families sends twice.
 */
export function isV1Duplicate(event: unknown, type: string): boolean {
  if ((event as { [FROM_NEXT]?: true })[FROM_NEXT]) return false;
  if (type === "message.part.updated" || type === "message.part.delta") return true;
  return type === "message.updated" && (event as { properties?: { info?: { role?: unknown } } }).properties?.info?.role === "assistant";
}

/** A `session.next.*` event: used as its v1 events while the turn reads this family; ignored otherwise. */
export function onNextEvent(event: unknown, state: TurnState, map: (event: unknown, state: TurnState) => CodecResult): CodecResult {
  const type = (event as { type: string }).type;
  let current = state;
  if (type === "session.next.step.started" && state.nextEvents === undefined) {
    // The first step decides: v1 content already seen means this server sends both, and v1 is read.
    current = { ...state, nextEvents: state.assistantIds.size === 0 };
  }
  // The user message is the same in both families (seen once either way); a retry is told apart by its attempt.
  const used = type === "session.next.prompted" || (type === "session.next.retried" ? current.nextEvents !== false : current.nextEvents === true);
  if (!used) return current === state ? unchanged(state) : { state: current, replies: [] };
  const replies = [];
  for (const v1 of asV1Events(event, current)) {
    const step = map(Object.assign(v1, { [FROM_NEXT]: true }), current);
    current = step.state;
    replies.push(...step.replies);
  }
  return { state: current, replies };
}
