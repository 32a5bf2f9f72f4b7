import type { TurnInput, TurnOutput } from "../../machines/turn.machine.js";
import type { Failure } from "../codec/state.js";
import type { ModelChange, TurnResult, Vocabulary } from "../contract/replies.js";
import type { TurnPrompt } from "../opencode/prompt-body.js";
import type { ResolvedConfig } from "./config.js";

// What goes into a turn and what comes out of it, for the host: the machine's input from the
// adapter's config, and the `TurnResult` prompt() resolves with.

/** What of a turn's output its result tells. */
export type Told = Pick<TurnOutput, "outcome" | "content" | "usage"> & { structured?: unknown };

/** A turn that ends with `failure` before the machine ran, or without its answer. */
export const failedWith = (failure: Failure): Told => ({ outcome: { kind: "error", ...failure }, content: "", usage: undefined });

export interface ResultContext {
  traceId: string;
  sessionId: string | undefined;
  /** When prompt() took the turn (`performance.now()`). */
  startedAt: number;
  /** The model changes seen in this turn. */
  modelChanges: ModelChange[];
  redact(text: string): string;
}

export function turnResult({ outcome, content, usage, structured }: Told, { traceId, sessionId, startedAt, modelChanges, redact }: ResultContext): TurnResult {
  const end =
    outcome.kind === "final"
      ? { outcome: "final" as const, content, ...(structured === undefined ? {} : { structured }) }
      : { outcome: "error" as const, error: redact(outcome.error), code: outcome.code };
  return {
    trace_id: traceId,
    ...(sessionId ? { session_id: sessionId } : {}),
    ...end,
    ...(usage ? { usage } : {}),
    model_changes: modelChanges,
    duration_ms: Math.round(performance.now() - startedAt),
  };
}

/** The result of a prompt that ends at once, without a turn: no time taken, no model changes reported. */
export function refusedResult(traceId: string, sessionId: string | undefined, { code, error }: Failure): TurnResult {
  return { trace_id: traceId, ...(sessionId ? { session_id: sessionId } : {}), outcome: "error", error, code, model_changes: [], duration_ms: 0 };
}

/** What the machine is given for one turn, from the adapter's config and what it knows of the session. */
export function turnInput(
  config: ResolvedConfig,
  turn: { prompt: TurnPrompt; traceId: string; maxReconnects: number; vocabulary: Vocabulary },
  { sessionId, sessionVerified, children }: Pick<TurnInput, "sessionId" | "sessionVerified" | "children">,
): TurnInput {
  const { sessionTitle, maxProviderRetries, connectTimeoutMs } = config;
  return {
    traceId: turn.traceId,
    prompt: turn.prompt,
    sessionId,
    sessionVerified,
    sessionTitle,
    children,
    maxProviderRetries,
    vocabulary: turn.vocabulary,
    maxReconnects: turn.maxReconnects,
    // opencode has as long to confirm an abort (or that it took the prompt) as to answer a request.
    graceMs: connectTimeoutMs,
  };
}
