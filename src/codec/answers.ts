import type { Reply } from "../contract/replies.js";
import type { PermissionReply, QuestionDecision } from "../contract/decisions.js";
import { PermissionReplied, QuestionSettled } from "../opencode/vocabulary-events.js";
import type { FullTrack } from "./full-track.js";
import { type Ask, type CodecResult, NONE, type TurnState, unchanged, without } from "./state.js";

// Asks that were answered: the full vocabulary says what was decided, so a chat shows what was
// allowed. The decision is taken from opencode's own `permission.replied` / `question.replied` /
// `question.rejected`, which come for every answer (this engine's policy, the terminal, the bridge
// host, or another client), so the machine that answers needs no hook.

export type AskDecision = PermissionReply | QuestionDecision;

/** The `ask` reply for `ask`, answered with `decision`; the ask is not reported again. */
export function askAnswered(state: TurnState, ask: Ask, decision: AskDecision): CodecResult {
  const full = state.full;
  if (full === undefined || state.outcome || !full.asks.has(ask.request.id)) return unchanged(state);
  const reply = {
    kind: "ask",
    trace_id: state.traceId,
    ask_id: ask.request.id,
    type: ask.kind,
    request: ask.request,
    decision,
  } as Reply;
  return { state: { ...state, full: { ...full, asks: without(full.asks, ask.request.id) } }, replies: [reply] };
}

/** Remembers an ask the turn will answer, to report its answer. */
export function noteAsk(full: FullTrack, ask: Ask): FullTrack {
  return full.asks.has(ask.request.id) ? full : { ...full, asks: new Map(full.asks).set(ask.request.id, ask) };
}

/** A `permission.replied`, `question.replied` or `question.rejected`: the `ask` reply, if the ask was the turn's. */
export function onAskSettled(event: unknown, state: TurnState): CodecResult {
  const permission = PermissionReplied.safeParse(event);
  if (permission.success) return answered(state, permission.data.properties.requestID, "permission", permission.data.properties.reply);
  const question = QuestionSettled.safeParse(event);
  if (!question.success) return { state, replies: NONE };
  const { type, properties } = question.data;
  return answered(state, properties.requestID, "question", type === "question.rejected" ? "reject" : (properties.answers ?? []));
}

function answered(state: TurnState, askId: string, kind: Ask["kind"], decision: AskDecision): CodecResult {
  const ask = state.full?.asks.get(askId);
  return ask === undefined || ask.kind !== kind ? unchanged(state) : askAnswered(state, ask, decision);
}
