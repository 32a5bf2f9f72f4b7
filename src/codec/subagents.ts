import type { Reply } from "../contract/replies.js";
import type { ChildTrack, FullTrack } from "./full-track.js";
import { type CodecResult, initialTurnState, type TurnState } from "./state.js";

// Subagents: the task tool runs a child session whose whole turn comes on the same stream. Each
// child is decoded by the same codec, as a turn of its own, and every reply it makes is sent nested
// under the parent's task call. None of it touches the parent's state: child text is never the
// parent's answer.

export type MapEvent = (event: unknown, state: TurnState) => CodecResult;

/** The direct child of the turn's session that `sessionId` is, or is below (a subagent's own subagent). */
export function childOf(sessionId: string, root: string, full: FullTrack): string {
  let child = sessionId;
  for (let parent = full.parentOf.get(child); parent !== undefined && parent !== root; parent = full.parentOf.get(child)) child = parent;
  return child;
}

/** Notes whose child a new session is: its events then reach the child it belongs to. */
export function noteSession(event: unknown, full: FullTrack): FullTrack {
  const info = (event as { properties?: { info?: { id?: unknown; parentID?: unknown } } }).properties?.info;
  if (typeof info?.id !== "string" || typeof info.parentID !== "string" || full.parentOf.has(info.id)) return full;
  return { ...full, parentOf: new Map(full.parentOf).set(info.id, info.parentID) };
}

/** An event of a child session (or of one below it), decoded as the child's turn. */
export function onChildEvent(event: unknown, childId: string, parent: TurnState, full: FullTrack, map: MapEvent): { full: FullTrack; replies: Reply[] } | undefined {
  const known = full.children.get(childId);
  let child = known?.state ?? childTurn(parent, childId, "");
  const userId = userMessageOf(event, childId);
  // The child's first user message is its prompt; one after its turn ended is the task resumed.
  if (userId !== undefined && (!child.userSeen || (child.outcome !== undefined && userId !== child.messageId))) {
    child = child.userSeen ? childTurn(parent, childId, userId) : { ...child, messageId: userId };
  }
  const step = map(event, child);
  if (step.state === known?.state && step.replies.length === 0) return undefined;
  const track: ChildTrack = { callId: known?.callId, state: step.state, held: known?.held ?? [] };
  return send(full, childId, track, step.replies);
}

/** A part of the parent's `callId` names `childId` as the session it runs in: the child's replies go under that call. */
export function linkChild(full: FullTrack, childId: string, callId: string, parent: TurnState): { full: FullTrack; replies: Reply[] } | undefined {
  const known = full.children.get(childId);
  if (known?.callId !== undefined) return undefined;
  const track: ChildTrack = { callId, state: known?.state ?? childTurn(parent, childId, ""), held: [] };
  return send(full, childId, track, known?.held ?? []);
}

function send(full: FullTrack, childId: string, track: ChildTrack, replies: readonly Reply[]): { full: FullTrack; replies: Reply[] } {
  const children = new Map(full.children);
  if (track.callId === undefined) {
    children.set(childId, { ...track, held: [...track.held, ...replies] });
    return { full: { ...full, children }, replies: [] };
  }
  children.set(childId, track);
  const callId = track.callId;
  const traceId = track.state.traceId;
  return { full: { ...full, children }, replies: replies.map((reply) => ({ kind: "subagent", trace_id: traceId, call_id: callId, session_id: childId, reply })) };
}

/**
 * The child's turn: the parent's trace, the full vocabulary, the prompt already sent (the task tool
 * sent it), and no retry cap of its own (its retries are reported; stopping is the parent's call).
 */
function childTurn(parent: TurnState, childId: string, messageId: string): TurnState {
  const state = initialTurnState({
    traceId: parent.traceId,
    sessionId: childId,
    messageId,
    maxProviderRetries: Number.POSITIVE_INFINITY,
    vocabulary: "full",
  });
  return { ...state, promptSent: true };
}

function userMessageOf(event: unknown, sessionId: string): string | undefined {
  const e = event as { type?: unknown; properties?: { info?: { id?: unknown; sessionID?: unknown; role?: unknown } } };
  const info = e.properties?.info;
  if (e.type !== "message.updated" || info?.role !== "user" || info.sessionID !== sessionId || typeof info.id !== "string") return undefined;
  return info.id;
}
