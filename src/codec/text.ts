import type { Reply } from "../contract/replies.js";
import type { Part } from "../opencode/events.js";
import { isPartDelta } from "../opencode/quick-events.js";
import { promptSent } from "./ending.js";
import { type CodecResult, countUnusable, type EarlyDeltas, earlyDeltasInOrder, NONE, type PartTrack, type TurnState, unchanged, without } from "./state.js";

// Answer text and reasoning: deltas, and the closing updates that carry a part's whole text.

export function onDelta(event: unknown, state: TurnState): CodecResult {
  if (state.outcome) return unchanged(state);
  if (!isPartDelta(event)) return countUnusable(state);
  const { sessionID, messageID, partID, field, delta } = event.properties;
  if (sessionID !== state.sessionId || field !== "text" || messageID === state.messageId) return unchanged(state);
  const part = trackOf(state, partID);
  if (part === undefined) {
    // The part's first update has not arrived: its type (text or reasoning) is not known yet.
    const before = state.earlyDeltas.get(partID);
    const early: EarlyDeltas = { delta, before, count: (before?.count ?? 0) + 1 };
    return { state: { ...state, earlyDeltas: new Map(state.earlyDeltas).set(partID, early) }, replies: NONE };
  }
  return part.held ? unchanged(state) : emitText(state, part, delta);
}

function emitText(state: TurnState, part: PartTrack, text: string): CodecResult {
  if (text.length === 0) return unchanged(state);
  const track: PartTrack = { id: part.id, kind: part.kind, sent: part.sent + text.length, held: part.held };
  // The common case, a delta for the part already open, touches no map.
  const parts = state.openPart === undefined || state.openPart.id === part.id ? state.parts : withTrack(state, track).parts;
  const content = part.kind === "text" ? state.content + text : state.content;
  return { state: withText(state, track, parts, content), replies: [{ kind: part.kind === "text" ? "delta" : "reasoning", trace_id: state.traceId, content: text }] };
}

/**
 * `{ ...state, openPart, parts, content }`, spelled out: this runs once per delta, and V8 builds a
 * literal of known shape several times faster than a spread that overrides keys.
 */
function withText(state: TurnState, openPart: PartTrack | undefined, parts: ReadonlyMap<string, PartTrack>, content: string): TurnState {
  return {
    traceId: state.traceId,
    sessionId: state.sessionId,
    messageId: state.messageId,
    maxProviderRetries: state.maxProviderRetries,
    family: state.family,
    userSeen: state.userSeen,
    promptSent: state.promptSent,
    refusal: state.refusal,
    retrying: state.retrying,
    continuations: state.continuations,
    assistantIds: state.assistantIds,
    lastStep: state.lastStep,
    openPart,
    parts,
    earlyDeltas: state.earlyDeltas,
    gapped: state.gapped,
    calls: state.calls,
    content,
    usage: state.usage,
    stepsCounted: state.stepsCounted,
    asks: state.asks,
    answeredAsks: state.answeredAsks,
    stopReason: state.stopReason,
    outcome: state.outcome,
    unusable: state.unusable,
    nextEvents: state.nextEvents,
    full: state.full,
    adoptsCompaction: state.adoptsCompaction,
    structured: state.structured,
  };
}

export function trackOf(state: TurnState, partID: string): PartTrack | undefined {
  return state.openPart?.id === partID ? state.openPart : state.parts.get(partID);
}

/** Makes `track` the open part; the part it replaces is parked in `parts` (one copy per switch, not per delta). */
function withTrack(state: TurnState, track: PartTrack): Pick<TurnState, "openPart" | "parts"> {
  const open = state.openPart;
  if (open === undefined || open.id === track.id) return { openPart: track, parts: state.parts };
  return { openPart: track, parts: new Map(state.parts).set(open.id, open) };
}

export function onTextPart(part: Part, state: TurnState): CodecResult {
  const kind = part.type === "reasoning" ? "reasoning" : "text";
  let current: TurnState = state;
  const replies: Reply[] = [];
  const ended = (part.time as { end?: unknown } | undefined)?.end !== undefined;
  if (trackOf(state, part.id) === undefined) {
    // First seen already closed, or cut by a gap: its text comes whole from this update (or the
    // closing one), not from deltas that may miss a middle piece.
    const held = ended || state.gapped.has(part.id);
    current = { ...current, ...withTrack(current, { id: part.id, kind, sent: 0, held }) };
    for (const delta of held ? [] : earlyDeltasInOrder(current.earlyDeltas.get(part.id))) {
      const step = emitText(current, trackOf(current, part.id)!, delta);
      current = step.state;
      replies.push(...step.replies);
    }
    if (current.earlyDeltas.has(part.id)) current = { ...current, earlyDeltas: without(current.earlyDeltas, part.id) };
  }
  // A closed part carries its whole text: whatever its deltas did not bring (missed while the
  // stream was away) is sent now, so `final` still equals the concatenation of the deltas.
  const sent = trackOf(current, part.id)!;
  if (ended && part.text !== undefined && part.text.length > sent.sent) {
    const step = emitText(current, sent, part.text.slice(sent.sent));
    current = step.state;
    replies.push(...step.replies);
  }
  return { state: current, replies: replies.length === 0 ? NONE : replies };
}
