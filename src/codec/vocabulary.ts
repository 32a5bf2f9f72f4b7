import type { Reply } from "../contract/replies.js";
import { sessionIdOf } from "../opencode/events.js";
import { partUpdatedOf } from "../opencode/quick-events.js";
import { ToolDetails } from "../opencode/vocabulary-events.js";
import { noteAsk, onAskSettled } from "./answers.js";
import type { FullTrack } from "./full-track.js";
import { onCompacted, onRetryStatus } from "./interruptions.js";
import { isV1Duplicate } from "./next-events.js";
import { type CodecResult, NONE, type TurnState } from "./state.js";
import { onStepFinish } from "./steps.js";
import { childOf, linkChild, type MapEvent, noteSession, onChildEvent } from "./subagents.js";
import { onTodos } from "./todos.js";
import { onToolDetails } from "./tool-updates.js";

// The full vocabulary: after the core rules have handled an event (and made the core replies), these
// rules add what else it says. They never change the core state, so the core replies and `final`
// are the same in both vocabularies.

/** What a rule adds: the new full track, and replies to send after the core's (or, when `whole`, instead of them: the core's rewritten, then more). */
type Extra = { full: FullTrack; replies: readonly Reply[]; whole?: true } | undefined;

/** The core's result for `event`, with the full vocabulary's replies added (`before` is the state the core started from). */
export function withFullVocabulary(event: unknown, before: TurnState, core: CodecResult, map: MapEvent): CodecResult {
  const full = core.state.full;
  if (full === undefined || before.outcome !== undefined) return core;
  const type = (event as { type?: unknown }).type;
  const sessionId = sessionIdOf(event);
  // Most events of a turn are its own deltas: nothing to add.
  if (type === "message.part.delta" && sessionId === before.sessionId) return core;
  // A v1 copy of content the turn reads as session.next.* events: the core ignored it, and so do these rules.
  if (before.nextEvents === true && typeof type === "string" && isV1Duplicate(event, type)) return core;
  switch (type) {
    case "permission.asked":
    case "question.asked": {
      const added = core.state.asks.length > before.asks.length ? core.state.asks.at(-1) : undefined;
      return added === undefined ? core : { state: { ...core.state, full: noteAsk(full, added) }, replies: core.replies };
    }
    case "permission.replied":
    case "question.replied":
    case "question.rejected": {
      const step = onAskSettled(event, core.state);
      return { state: step.state, replies: joined(core.replies, step.replies) };
    }
  }
  if (sessionId !== undefined && sessionId !== before.sessionId) return onOtherSession(event, sessionId, core, full, map);
  switch (type) {
    case "message.part.updated":
      return added(core, onOwnPart(event, before, core, full));
    case "todo.updated":
      return added(core, onTodos(event, core.state, full));
    case "session.status":
      return added(core, onRetryStatus(event, core.state, full));
    case "session.compacted":
      return added(core, onCompacted(core.state, full));
    default:
      return core;
  }
}

/** An event of a child session, or one that introduces a session: the child's replies, nested. */
function onOtherSession(event: unknown, sessionId: string, core: CodecResult, full: FullTrack, map: MapEvent): CodecResult {
  const type = (event as { type?: unknown }).type;
  const noted = type === "session.created" || type === "session.updated" ? noteSession(event, full) : full;
  if (!core.state.family.has(sessionId)) return noted === full ? core : { state: { ...core.state, full: noted }, replies: core.replies };
  const step = onChildEvent(event, childOf(sessionId, core.state.sessionId, noted), core.state, noted, map);
  return added(noted === full ? core : { state: { ...core.state, full: noted }, replies: core.replies }, step);
}

function onOwnPart(event: unknown, before: TurnState, core: CodecResult, full: FullTrack): Extra {
  const updated = partUpdatedOf(event);
  if (updated === undefined) return undefined;
  const part = updated.properties.part;
  if (!core.state.assistantIds.has(part.messageID)) return undefined;
  if (part.type === "step-finish") return onStepFinish(part, before, core.state, full);
  if (part.type !== "tool") return undefined;
  const details = onToolDetails(part, core.state, core.replies, full);
  let current = details?.full ?? full;
  const replies = [...(details?.replies ?? core.replies)];
  // The task tool names the child session its subagent runs in.
  const childId = ToolDetails.safeParse(part.state ?? {}).data?.metadata?.sessionId;
  const linked = childId === undefined || childId === core.state.sessionId ? undefined : linkChild(current, childId, part.callID || part.id, core.state);
  if (linked !== undefined) {
    current = linked.full;
    replies.push(...linked.replies);
  }
  return details === undefined && linked === undefined ? undefined : { full: current, replies, whole: true };
}

function added(core: CodecResult, extra: Extra): CodecResult {
  if (extra === undefined) return core;
  return { state: { ...core.state, full: extra.full }, replies: extra.whole ? kept(extra.replies) : joined(core.replies, extra.replies) };
}

/** `core` then `more`, the terminal reply (if any) kept last. */
function joined(core: readonly Reply[], more: readonly Reply[]): readonly Reply[] {
  if (more.length === 0) return core;
  if (core.length === 0) return more;
  return kept([...core, ...more]);
}

function kept(replies: readonly Reply[]): readonly Reply[] {
  const end = replies.findIndex((r) => r.kind === "final" || r.kind === "error");
  if (end < 0 || end === replies.length - 1) return replies.length === 0 ? NONE : replies;
  return [...replies.slice(0, end), ...replies.slice(end + 1), replies[end]!];
}
