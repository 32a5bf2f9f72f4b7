import type { Part } from "../opencode/events.js";
import { type CodecResult, NONE, type TurnState } from "./state.js";

// A summarize turn: opencode makes its user message itself (POST /session/{id}/summarize takes no
// message id), the one that carries the `compaction` part; the turn takes that message as its own.

/** Whether this part makes its message the turn's user message. */
export function adoptsAsUserMessage(part: Part, state: TurnState): boolean {
  return state.adoptsCompaction && state.promptSent && !state.userSeen && part.type === "compaction" && part.sessionID === state.sessionId;
}

export function adoptUserMessage(part: Part, state: TurnState): CodecResult {
  return { state: { ...state, messageId: part.messageID, userSeen: true, refusal: undefined }, replies: NONE };
}
