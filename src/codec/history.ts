import type { Reply, Vocabulary } from "../contract/replies.js";
import type { z } from "zod";
import { type Part, StoredMessage } from "../opencode/events.js";
import { ToolDetails } from "../opencode/vocabulary-events.js";
import { idleStatus, promptSent } from "./ending.js";
import { mapOpencodeEvents } from "./map.js";
import { answersTurn, initialTurnState, type TurnState } from "./state.js";

// A session's stored turns as replies: each user message's answer, fed through the same rules as a
// live turn, as the events a live turn would have had, rebuilt from the stored messages. A stored
// part is whole: its text comes as one delta, not as the pieces it streamed in. In the full
// vocabulary the stored parts also stand for the live events they caused: a todowrite part for the
// `todo.updated` it sent, a task part for its child session's work (given in `children`), a
// compaction part for the `session.compacted` after the summary. Retries and a tool's progress
// while it ran are never stored.

export interface StoredTurn {
  /** The turn's user message: the key of the turn. */
  readonly messageId: string;
  /** What the user sent: the message's text parts (the expanded template, for a slash command). */
  readonly text: string;
  /** The turn's replies, `trace_id` = `messageId`; the last is its `final` or `error`, unless the turn still runs. */
  readonly replies: readonly Reply[];
}

/** The stored messages of the sessions below the replayed one, by session id (`GET /session/{id}/message` each). */
export type ChildMessages = ReadonlyMap<string, readonly unknown[]>;

/** A subagent's own subagents are replayed down to this depth; opencode's task tool nests far less. */
export const SUBAGENT_DEPTH = 8;

/**
 * The turns of `messages` (`GET /session/{id}/message`, oldest first). A turn is a user message and
 * the assistant steps that answer it; user messages opencode writes itself to continue after a
 * compaction are not turns of their own. `idle`: whether the session was idle when (before) the
 * messages were read; if not, its newest turn is still running and ends without a terminal reply.
 * In the full `vocabulary`, `children` holds the messages of the sessions its task calls ran in
 * (those `childSessionsOf` names), so each call's subagent work is replayed nested under it.
 */
export function replayHistory(sessionId: string, messages: readonly unknown[], idle: boolean, vocabulary: Vocabulary = "core", children: ChildMessages = new Map()): StoredTurn[] {
  const stored = storedOf(sessionId, messages);
  const users = stored.filter((message) => message.info.role === "user" && !isSynthetic(message.parts));
  return users.map((user, index) => {
    const messageId = user.info.id;
    const start = promptSent(initialTurnState({ traceId: messageId, sessionId, messageId, maxProviderRetries: Infinity, vocabulary }));
    const sessionIdle = idle || index < users.length - 1;
    const events = sessionEvents(sessionId, stored, { turnId: messageId, full: vocabulary === "full", children, idle: sessionIdle, depth: 0 });
    const replies = replayEvents(start, events, sessionIdle);
    const text = user.parts.flatMap((part) => (part.type === "text" && part.text !== undefined ? [part.text] : [])).join("");
    return { messageId, text, replies };
  });
}

/** The child sessions the task calls in `messages` ran in: what `replayHistory` needs in `children`. */
export function childSessionsOf(messages: readonly unknown[]): string[] {
  return messages.flatMap((raw) => {
    const parsed = StoredMessage.safeParse(raw);
    if (!parsed.success) return [];
    return parsed.data.parts.flatMap((part) => {
      const child = childOfPart(part);
      return child === undefined || child === parsed.data.info.sessionID ? [] : [child];
    });
  });
}

type Stored = z.infer<typeof StoredMessage>;

/** An event to replay, or a stored part still streaming when it was read (its deltas would not be its whole text). */
type Replayed = { event: unknown } | { streaming: Part } | { failed: Stored["info"] };

interface Scope {
  /** The turn replayed: only its own parts stand for live events of the turn. */
  readonly turnId: string | undefined;
  readonly full: boolean;
  readonly children: ChildMessages;
  readonly idle: boolean;
  readonly depth: number;
}

function storedOf(sessionId: string, messages: readonly unknown[]): Stored[] {
  return messages.flatMap((raw) => {
    const parsed = StoredMessage.safeParse(raw);
    return parsed.success && parsed.data.info.sessionID === sessionId ? [parsed.data] : [];
  });
}

function replayEvents(start: TurnState, events: Iterable<Replayed>, idle: boolean): Reply[] {
  let current = start;
  const replies: Reply[] = [];
  for (const item of events) {
    if ("streaming" in item) {
      // Begun and not ended when read: held until a closing update that history never has.
      if (current.assistantIds.has(item.streaming.messageID)) current = { ...current, gapped: new Set(current.gapped).add(item.streaming.id) };
      continue;
    }
    // A failed step of this turn ended it as the session's error did live.
    if ("failed" in item && !answersTurn(current, item.failed.parentID)) continue;
    const event = "failed" in item ? { type: "session.error", properties: { sessionID: item.failed.sessionID, error: item.failed.error } } : item.event;
    const step = mapOpencodeEvents([event], current);
    current = step.state;
    replies.push(...step.replies);
  }
  if (idle) replies.push(...mapOpencodeEvents([idleStatus(start.sessionId)], current).replies);
  return replies;
}

/**
 * The events a live turn of `sessionId` had, in the order it had them, rebuilt from its stored
 * messages. The session's own idle is left to the caller (a child's is part of its parent's turn).
 */
function* sessionEvents(sessionId: string, stored: readonly Stored[], scope: Scope): Generator<Replayed> {
  const ours = ownMessages(stored, scope.turnId);
  const compacting = scope.full && stored.some((message) => message.info.id === scope.turnId && message.parts.some((part) => part.type === "compaction"));
  const lastOurs = stored.findLastIndex(ours);
  for (const [index, { info, parts }] of stored.entries()) {
    yield { event: { type: "message.updated", properties: { sessionID: sessionId, info } } };
    for (const part of parts) {
      const streaming = (part.type === "text" || part.type === "reasoning") && (part.time as { end?: unknown } | undefined)?.end === undefined;
      if (streaming && scope.turnId !== undefined) yield { streaming: part };
      if (scope.full && ours(stored[index]!)) yield* liveEventsBefore(sessionId, part, scope);
      yield { event: { type: "message.part.updated", properties: { sessionID: part.sessionID, part } } };
    }
    if (info.role === "assistant" && info.error !== undefined) yield { failed: info };
    // opencode says it compacted once the summary is written.
    if (compacting && index === lastOurs) yield { event: { type: "session.compacted", properties: { sessionID: sessionId } } };
  }
}

/**
 * Whether a stored message is the replayed turn's: its user message, the continues opencode wrote
 * for it, and the steps answering them. In a child session (no `turnId`) every message is the subagent's.
 */
function ownMessages(stored: readonly Stored[], turnId: string | undefined): (message: Stored) => boolean {
  if (turnId === undefined) return () => true;
  const start = stored.findIndex((message) => message.info.id === turnId);
  const ids = new Set([turnId]);
  for (const message of stored.slice(start + 1)) {
    if (message.info.role !== "user") continue;
    if (!isSynthetic(message.parts)) break;
    ids.add(message.info.id);
  }
  return (message) => ids.has(message.info.id) || (message.info.parentID !== undefined && ids.has(message.info.parentID));
}

/** What a stored part sent live before its last update: a todo list, or a subagent's whole turn. */
function* liveEventsBefore(sessionId: string, part: Part, scope: Scope): Generator<Replayed> {
  if (part.type !== "tool") return;
  const todos = todosOf(part);
  if (todos !== undefined) yield { event: { type: "todo.updated", properties: { sessionID: sessionId, todos } } };
  const child = childOfPart(part);
  const messages = child === undefined || child === sessionId || scope.depth >= SUBAGENT_DEPTH ? undefined : scope.children.get(child);
  if (messages === undefined || part.state === undefined) return;
  // The call as it was while its subagent ran: the call, its title, and the child it runs in.
  const { status: _status, output: _output, error: _error, ...running } = part.state as Record<string, unknown>;
  yield { event: { type: "message.part.updated", properties: { sessionID: part.sessionID, part: { ...part, state: { ...running, status: "running" } } } } };
  yield { event: { type: "session.created", properties: { sessionID: child, info: { id: child, parentID: sessionId } } } };
  yield* sessionEvents(child!, storedOf(child!, messages), { ...scope, turnId: undefined, depth: scope.depth + 1 });
  if (scope.idle) yield { event: idleStatus(child!) };
}

/** The list a todowrite call set: opencode keeps it in the part's metadata, and the call's input holds it too. */
function todosOf(part: Part): unknown[] | undefined {
  if (part.tool !== "todowrite" || part.state?.status !== "completed") return undefined;
  const state = part.state as { metadata?: { todos?: unknown }; input?: { todos?: unknown } };
  const todos = state.metadata?.todos ?? state.input?.todos;
  return Array.isArray(todos) ? todos : undefined;
}

function childOfPart(part: Part): string | undefined {
  return part.type === "tool" ? ToolDetails.safeParse(part.state ?? {}).data?.metadata?.sessionId : undefined;
}

/** A user message opencode wrote itself: every text part of it is synthetic (the continue after a compaction). */
function isSynthetic(parts: readonly { type: string; synthetic?: unknown }[]): boolean {
  const texts = parts.filter((part) => part.type === "text");
  return texts.length > 0 && texts.every((part) => part.synthetic === true);
}
