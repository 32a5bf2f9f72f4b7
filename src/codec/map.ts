import type { Reply } from "../contract/replies.js";
import { AskSettled, childSessionOf, PermissionAsked, PermissionV2Asked, QuestionAsked, QuestionV2Asked, SessionDeleted, SessionError, sessionIdOf } from "../opencode/events.js";
import { sessionStatusOf } from "../opencode/quick-events.js";
import { addAsk, settleAsk } from "./asks.js";
import { onSessionDeleted, onSessionError, onStatus } from "./ending.js";
import { onMessage, onPart } from "./messages.js";
import { type CodecResult, countUnusable, NONE, parsed, type TurnState, unchanged } from "./state.js";
import { onDelta } from "./text.js";
import { withFullVocabulary } from "./vocabulary.js";
import { isV1Duplicate, onNextEvent } from "./next-events.js";

// The entry of the codec: which events are the turn's, and which rule each goes to.

/** Events opencode sends that a turn has no use for; they are not counted as unusable. */
const IRRELEVANT = new Set([
  "server.connected",
  "server.heartbeat",
  "session.diff",
  "session.compacted",
  "session.next.model.switched",
  "session.next.agent.switched",
  "message.removed",
  "message.part.removed",
  "todo.updated",
  "file.edited",
  "file.watcher.updated",
  "lsp.updated",
  "lsp.client.diagnostics",
  "plugin.added",
  "project.updated",
  "vcs.branch.updated",
  "installation.updated",
  "command.executed",
  // opencode's older end of a turn: each one an echo of a `session.status` idle, which both versions
  // send before it, and the one that ends the turn. 1.18 publishes the echo on its own schedule, and
  // it was seen live after the next prompt's user message, where it would end that turn unanswered.
  "session.idle",
]);

/**
 * Whether an event is about this turn's session family: its session, a child session, or one that
 * introduces a child. Events that name no session are let through, to be used or counted as unusable.
 */
export function concernsTurn(event: unknown, state: TurnState): boolean {
  const sessionId = sessionIdOf(event);
  return sessionId === undefined || state.family.has(sessionId) || childSessionOf(event, state.family) !== undefined;
}

export function mapOpencodeEvent(event: unknown, state: TurnState): CodecResult {
  // The core rules make the six kinds; the full vocabulary adds to what they made.
  return state.full === undefined ? mapCoreEvent(event, state) : withFullVocabulary(event, state, mapCoreEvent(event, state), mapOpencodeEvent);
}

function mapCoreEvent(event: unknown, state: TurnState): CodecResult {
  const type = (event as { type?: unknown } | null)?.type;
  if (typeof type !== "string") return countUnusable(state);
  // A turn whose content comes as session.next.* events reads no v1 copy of it.
  if (state.nextEvents === true && isV1Duplicate(event, type)) return unchanged(state);
  if (type === "message.part.delta") return onDelta(event, state);
  if (!concernsTurn(event, state)) return unchanged(state);
  if (type === "session.created" || type === "session.updated") {
    const child = childSessionOf(event, state.family);
    if (child === undefined) return unchanged(state);
    return { state: { ...state, family: new Set(state.family).add(child) }, replies: NONE };
  }

  switch (type) {
    case "message.updated":
      return onMessage(event, state);
    case "message.part.updated":
      return onPart(event, state);
    case "session.status": {
      const status = sessionStatusOf(event);
      return status === undefined ? countUnusable(state) : onStatus(status, state);
    }
    case "session.error":
      return parsed(SessionError, event, state, (e) => onSessionError(e, state));
    case "permission.asked":
      return parsed(PermissionAsked, event, state, (e) => addAsk(state, { kind: "permission", request: e.properties }));
    case "question.asked":
      return parsed(QuestionAsked, event, state, (e) => addAsk(state, { kind: "question", request: e.properties }));
    case "session.deleted":
      return parsed(SessionDeleted, event, state, (e) => (e.properties.sessionID === state.sessionId ? onSessionDeleted(state) : unchanged(state)));
    case "permission.v2.asked":
      return parsed(PermissionV2Asked, event, state, (request) => addAsk(state, { kind: "permission", request }));
    case "question.v2.asked":
      return parsed(QuestionV2Asked, event, state, (request) => addAsk(state, { kind: "question", request }));
    case "permission.replied":
    case "question.replied":
    case "question.rejected":
    case "permission.v2.replied":
    case "question.v2.replied":
    case "question.v2.rejected":
      return parsed(AskSettled, event, state, (e) => settleAsk(state, e.properties.requestID));
    default:
      if (IRRELEVANT.has(type)) return unchanged(state);
      return type.startsWith("session.next.") ? onNextEvent(event, state, mapOpencodeEvent) : countUnusable(state);
  }
}

/** `mapOpencodeEvent` over a batch: the state after the last event and every reply, in order. */
export function mapOpencodeEvents(events: Iterable<unknown>, state: TurnState): CodecResult {
  let current = state;
  let replies: Reply[] | undefined;
  for (const event of events) {
    const step = mapOpencodeEvent(event, current);
    current = step.state;
    if (step.replies.length > 0) (replies ??= []).push(...step.replies);
  }
  return { state: current, replies: replies ?? NONE };
}
