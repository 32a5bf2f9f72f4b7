import type { Reply, Vocabulary } from "../contract/replies.js";
import { StoredMessage } from "../opencode/events.js";
import { promptSent } from "./ending.js";
import { reconcile } from "./reconcile.js";
import { initialTurnState } from "./state.js";

// A session's stored turns as replies: each user message's answer, fed through the same rules as a
// live turn (the stored messages as after a gap in the stream), so a reloaded chat shows what the
// turn showed. A stored part is whole: its text comes as one delta, not as the pieces it streamed in.

export interface StoredTurn {
  /** The turn's user message: the key of the turn. */
  readonly messageId: string;
  /** What the user sent: the message's text parts (the expanded template, for a slash command). */
  readonly text: string;
  /** The turn's replies, `trace_id` = `messageId`; the last is its `final` or `error`, unless the turn still runs. */
  readonly replies: readonly Reply[];
}

/**
 * The turns of `messages` (`GET /session/{id}/message`, oldest first). A turn is a user message and
 * the assistant steps that answer it; user messages opencode writes itself to continue after a
 * compaction are not turns of their own. `idle`: whether the session was idle when (before) the
 * messages were read; if not, its newest turn is still running and ends without a terminal reply.
 * In the full `vocabulary` each turn also carries what its stored parts tell (steps, tool titles and
 * diffs); what only live events carried (todo updates, retries, a subagent's own session) is not stored.
 */
export function replayHistory(sessionId: string, messages: readonly unknown[], idle: boolean, vocabulary: Vocabulary = "core"): StoredTurn[] {
  const stored = messages.flatMap((raw) => {
    const parsed = StoredMessage.safeParse(raw);
    return parsed.success && parsed.data.info.sessionID === sessionId ? [parsed.data] : [];
  });
  const users = stored.filter((message) => message.info.role === "user" && !isSynthetic(message.parts));
  return users.map((user, index) => {
    const messageId = user.info.id;
    const start = promptSent(initialTurnState({ traceId: messageId, sessionId, messageId, maxProviderRetries: Infinity, vocabulary }));
    const last = index === users.length - 1;
    const { replies } = reconcile(start, { children: [], permissions: [], questions: [], messages: stored, sessionIdle: idle || !last });
    const text = user.parts.flatMap((part) => (part.type === "text" && part.text !== undefined ? [part.text] : [])).join("");
    return { messageId, text, replies };
  });
}

/** A user message opencode wrote itself: every text part of it is synthetic (the continue after a compaction). */
function isSynthetic(parts: readonly { type: string; synthetic?: unknown }[]): boolean {
  const texts = parts.filter((part) => part.type === "text");
  return texts.length > 0 && texts.every((part) => part.synthetic === true);
}
