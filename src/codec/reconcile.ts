import type { Reply } from "../contract/replies.js";
import { StoredMessage } from "../opencode/events.js";
import { idleStatus } from "./ending.js";
import { mapOpencodeEvents } from "./map.js";
import { answersTurn, type CodecResult, NONE, type PartTrack, type TurnState } from "./state.js";
import { trackOf } from "./text.js";

// After a gap in the stream: what was missed is taken from what opencode stored.

/**
 * The stream was lost: from here the deltas of parts already streaming no longer continue what was
 * sent (some were missed), so those parts are held until their closing update, which carries the
 * whole text. The same for parts known only by deltas so far.
 */
export function streamGap(state: TurnState): TurnState {
  if (state.outcome) return state;
  const hold = (track: PartTrack): PartTrack => (track.held ? track : { ...track, held: true });
  const parts = new Map([...state.parts].map(([id, track]) => [id, hold(track)]));
  return {
    ...state,
    openPart: state.openPart && hold(state.openPart),
    parts,
    earlyDeltas: new Map(),
    gapped: new Set([...state.gapped, ...state.earlyDeltas.keys()]),
  };
}

/** What opencode holds for a session, read after a gap in the stream (opencode does not replay events). */
export interface StoredSession {
  /** `GET /session/{id}/children`: sessions the turn's subagents run in. */
  readonly children: readonly string[];
  /** `GET /permission` and `GET /question`: asks waiting for an answer (an unanswered ask hangs the turn). */
  readonly permissions: readonly unknown[];
  readonly questions: readonly unknown[];
  /** `GET /api/session/{id}/permission` and `/question` of the turn's session and its children: v2 asks waiting. */
  readonly permissionsV2?: readonly unknown[];
  readonly questionsV2?: readonly unknown[];
  /** `GET /session/{id}/message`: the stored messages and their parts. */
  readonly messages: readonly unknown[];
  /** Whether the session was idle when (before) the messages were read: then they are complete. */
  readonly sessionIdle: boolean;
}

const NOTHING_RAN = {
  code: "internal",
  error:
    "opencode accepted the prompt but did not run it: the session is idle and holds no message for this prompt. opencode was asked to abort whatever it may have queued; send the prompt again.",
} as const;

/**
 * Brings the turn up to date after a gap in the stream, then applies the events that arrived on the
 * new stream while the snapshot was read. The stored truth goes through the same rules as live
 * events, so nothing is sent twice, and the order of the replies stays the order of the answer.
 */
export function reconcile(state: TurnState, snapshot: StoredSession, queued: readonly unknown[] = []): CodecResult {
  let current = state;
  const replies: Reply[] = [];
  const apply = (...events: unknown[]) => {
    const step = mapOpencodeEvents(events, current);
    current = step.state;
    if (step.replies.length > 0) replies.push(...step.replies);
  };
  const sessionID = state.sessionId;
  for (const child of snapshot.children) apply({ type: "session.created", properties: { sessionID: child, info: { id: child, parentID: sessionID } } });
  for (const request of snapshot.permissions) apply({ type: "permission.asked", properties: request });
  for (const request of snapshot.questions) apply({ type: "question.asked", properties: request });
  // After the v1 lists: an ask listed in both keeps the endpoint of the list that names it first.
  for (const request of snapshot.permissionsV2 ?? []) apply({ type: "permission.v2.asked", properties: request });
  for (const request of snapshot.questionsV2 ?? []) apply({ type: "question.v2.asked", properties: request });
  for (const raw of snapshot.messages) {
    const stored = StoredMessage.safeParse(raw);
    if (!stored.success || stored.data.info.sessionID !== sessionID) continue;
    const { info, parts } = stored.data;
    apply({ type: "message.updated", properties: { sessionID, info } });
    for (const part of parts) {
      const streaming = (part.type === "text" || part.type === "reasoning") && (part.time as { end?: unknown } | undefined)?.end === undefined;
      if (streaming && trackOf(current, part.id) === undefined && current.assistantIds.has(part.messageID)) {
        // Begun while the stream was away: the deltas from here on are not its whole text.
        current = { ...current, gapped: new Set(current.gapped).add(part.id) };
      }
      apply({ type: "message.part.updated", properties: { sessionID: part.sessionID, part } });
    }
    if (info.role === "assistant" && answersTurn(current, info.parentID) && info.error !== undefined) {
      apply({ type: "session.error", properties: { sessionID, error: info.error } });
    }
  }
  if (snapshot.sessionIdle) apply(idleStatus(sessionID));
  apply(...queued);
  if (snapshot.sessionIdle && current.promptSent && !current.userSeen && current.outcome === undefined && current.refusal === undefined) {
    // opencode took the prompt (204) yet is idle with no message for it. Read right after the 204,
    // the message may still be on its way; so this is a refusal: the user message, if it comes
    // within the grace, undoes it, else the turn ends with it and opencode is asked to abort.
    current = { ...current, refusal: NOTHING_RAN };
  }
  return { state: current, replies: replies.length === 0 ? NONE : replies };
}
