import { failTurn } from "./ending.js";
import type { CodecResult } from "./state.js";

// Structured output: a prompt with a `format` is answered through opencode's StructuredOutput tool,
// and the object lands on the assistant message (`info.structured`); a model that answers text
// instead leaves a StructuredOutputError there, with no session error and an idle like any end.

/** An assistant message's info, as opencode's update carries it (its other fields are not read here). */
type AssistantInfo = Readonly<Record<string, unknown>> & { readonly structured?: unknown; readonly error?: unknown };

/** Takes the structured answer, or the failure to give one, from an update of the turn's assistant message. */
export function onStructured(info: AssistantInfo, step: CodecResult): CodecResult {
  const { state } = step;
  if (state.outcome) return step;
  const error = info.error as { name?: unknown; data?: { message?: unknown } } | undefined;
  if (error?.name === "StructuredOutputError") {
    const detail = typeof error.data?.message === "string" ? error.data.message : "no object was given";
    const failed = failTurn(state, { code: "provider_error", error: `The model did not answer in the requested format: ${detail}` });
    return { state: failed.state, replies: [...step.replies, ...failed.replies] };
  }
  if (info.structured === undefined || info.structured === state.structured) return step;
  return { state: { ...state, structured: info.structured }, replies: step.replies };
}
