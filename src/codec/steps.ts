import type { Reply } from "../contract/replies.js";
import type { Part } from "../opencode/events.js";
import type { FullTrack } from "./full-track.js";
import type { TurnState } from "./state.js";

// Each model step's end: its finish reason, tokens and cost. A `step` is sent exactly when the core
// adds the step's usage to the turn's, with the same numbers, so the steps always sum to `usage`.

export function onStepFinish(part: Part, before: TurnState, after: TurnState, full: FullTrack): { full: FullTrack; replies: Reply[] } | undefined {
  if (after.usage === before.usage) return undefined;
  const t = part.tokens;
  const reason = (part as { reason?: unknown }).reason;
  const reply: Reply = {
    kind: "step",
    trace_id: after.traceId,
    index: full.steps,
    finish_reason: typeof reason === "string" ? reason : "unknown",
    tokens: {
      input: t?.input ?? 0,
      output: t?.output ?? 0,
      reasoning: t?.reasoning ?? 0,
      cache: { read: t?.cache?.read ?? 0, write: t?.cache?.write ?? 0 },
    },
    cost: part.cost ?? 0,
  };
  return { full: { ...full, steps: full.steps + 1 }, replies: [reply] };
}
