import type { Usage } from "../contract/replies.js";
import type { Part } from "../opencode/events.js";
import { messageUpdatedOf, partUpdatedOf } from "../opencode/quick-events.js";
import { answersTurn, type CodecResult, countUnusable, NONE, type TurnState, unchanged, without } from "./state.js";
import { onStructured } from "./structured.js";
import { adoptsAsUserMessage, adoptUserMessage } from "./summarize.js";
import { onTextPart } from "./text.js";
import { onToolPart } from "./tools.js";

// The turn's messages: its user message, its assistant steps, and the parts they carry.

export function onMessage(event: unknown, state: TurnState): CodecResult {
  const message = messageUpdatedOf(event);
  if (message === undefined) return countUnusable(state);
  const info = message.properties.info;
  if (info.sessionID !== state.sessionId) return unchanged(state);
  if (info.role === "user") {
    return info.id === state.messageId && !state.userSeen ? { state: { ...state, userSeen: true, refusal: undefined }, replies: NONE } : unchanged(state);
  }
  if (info.role !== "assistant" || !answersTurn(state, info.parentID)) return unchanged(state);
  return onStructured(info, onStep(info, state));
}

function onStep(info: { id: string; time?: { completed?: number } | undefined }, state: TurnState): CodecResult {
  const completed = info.time?.completed !== undefined;
  if (!state.assistantIds.has(info.id)) {
    return { state: { ...state, assistantIds: new Set(state.assistantIds).add(info.id), lastStep: { id: info.id, completed } }, replies: NONE };
  }
  // Only the newest step's end decides the turn's; a step once completed stays so.
  if (state.lastStep?.id !== info.id || state.lastStep.completed || !completed) return unchanged(state);
  return { state: { ...state, lastStep: { id: info.id, completed } }, replies: NONE };
}

export function onPart(event: unknown, state: TurnState): CodecResult {
  if (state.outcome) return unchanged(state);
  const updated = partUpdatedOf(event);
  if (updated === undefined) return countUnusable(state);
  const part = updated.properties.part;
  if (isCompactionContinue(part) && state.userSeen && part.sessionID === state.sessionId && !state.continuations.has(part.messageID)) {
    // opencode compacted the session mid-turn and goes on under its own user message.
    return { state: { ...state, continuations: new Set(state.continuations).add(part.messageID) }, replies: NONE };
  }
  if (adoptsAsUserMessage(part, state)) return adoptUserMessage(part, state);
  if (!state.assistantIds.has(part.messageID)) {
    // Not this turn's answer: the user's own text, or a part of another turn. Its early deltas go too.
    return state.earlyDeltas.has(part.id) ? { state: { ...state, earlyDeltas: without(state.earlyDeltas, part.id) }, replies: NONE } : unchanged(state);
  }
  switch (part.type) {
    case "text":
    case "reasoning":
      return onTextPart(part, state);
    case "tool":
      return onToolPart(part, state);
    case "step-finish":
      if (state.stepsCounted.has(part.id)) return unchanged(state);
      return { state: { ...state, usage: addUsage(state.usage, part), stepsCounted: new Set(state.stepsCounted).add(part.id) }, replies: NONE };
    default:
      return unchanged(state);
  }
}

/** The text part of the user message opencode adds after an auto-compaction (1.15 and 1.18 alike). */
function isCompactionContinue(part: Part): boolean {
  const { synthetic, metadata } = part as { synthetic?: unknown; metadata?: { compaction_continue?: unknown } };
  return part.type === "text" && synthetic === true && metadata?.compaction_continue === true;
}

function addUsage(usage: Usage | undefined, part: Part): Usage | undefined {
  if (part.tokens === undefined && part.cost === undefined) return usage;
  const base = usage ?? { tokens: { input: 0, output: 0, reasoning: 0, cache: { read: 0, write: 0 } }, cost: 0 };
  const t = part.tokens;
  return {
    tokens: {
      input: base.tokens.input + (t?.input ?? 0),
      output: base.tokens.output + (t?.output ?? 0),
      reasoning: base.tokens.reasoning + (t?.reasoning ?? 0),
      cache: {
        read: base.tokens.cache.read + (t?.cache?.read ?? 0),
        write: base.tokens.cache.write + (t?.cache?.write ?? 0),
      },
    },
    cost: base.cost + (part.cost ?? 0),
  };
}
