import type { Reply } from "../contract/replies.js";
import { sessionStatusOf } from "../opencode/quick-events.js";
import type { FullTrack } from "./full-track.js";
import type { TurnState } from "./state.js";

// opencode pausing the answer: provider retries (one `retry` per attempt it reports; it re-sends
// `busy` between them) and compaction.

export function onRetryStatus(event: unknown, state: TurnState, full: FullTrack): { full: FullTrack; replies: Reply[] } | undefined {
  const parsed = sessionStatusOf(event);
  if (parsed === undefined || !state.userSeen) return undefined;
  const { sessionID, status } = parsed.properties;
  if (sessionID !== state.sessionId) return undefined;
  // The attempt went ahead: a later retry, even numbered 1 again (a later step failing), is a new one.
  if (status.type === "busy") return full.retryAttempt === 0 ? undefined : { full: { ...full, retryAttempt: 0 }, replies: [] };
  if (status.type !== "retry") return undefined;
  const attempt = status.attempt ?? full.retryAttempt + 1;
  if (attempt === full.retryAttempt) return undefined;
  const reply: Reply = { kind: "retry", trace_id: state.traceId, attempt, message: status.message ?? "no details given" };
  return { full: { ...full, retryAttempt: attempt }, replies: [reply] };
}

/** `session.compacted` of the turn's session: opencode summarised the conversation mid-turn. */
export function onCompacted(state: TurnState, full: FullTrack): { full: FullTrack; replies: Reply[] } | undefined {
  return state.userSeen ? { full, replies: [{ kind: "compaction", trace_id: state.traceId }] } : undefined;
}
