import type { ErrorCode } from "../contract/replies.js";
import { NO_PROVIDER } from "../contract/turn-error.js";
import { SessionError, SessionStatus } from "../opencode/events.js";
import type { z } from "zod";
import { type CodecResult, type Failure, FINAL, NONE, type TurnState, unchanged } from "./state.js";

// How a turn ends: opencode's idle, its status (busy, retrying) and its errors, and the machine's own stops.

/** The session's idle as opencode reports it, for the stored session read after a gap and for history. */
export const idleStatus = (sessionID: string) => ({ type: "session.status", properties: { sessionID, status: { type: "idle" } } });

/** Ends the turn with an error unless it has already ended; the machine's own failures come here. */
export function failTurn(state: TurnState, failure: Failure): CodecResult {
  if (state.outcome) return unchanged(state);
  return {
    state: { ...state, outcome: { kind: "error", ...failure }, asks: [] },
    replies: [{ kind: "error", trace_id: state.traceId, error: failure.error, code: failure.code }],
  };
}

/** Marks the turn as being stopped; the idle (or abort error) that follows ends it with `failure`. */
export function stopTurn(state: TurnState, failure: Failure): TurnState {
  return state.outcome || state.stopReason ? state : { ...state, stopReason: failure };
}

/** Notes that the prompt is being sent. */
export function promptSent(state: TurnState): TurnState {
  return state.promptSent ? state : { ...state, promptSent: true };
}

function onIdle(state: TurnState): CodecResult {
  if (state.outcome) return unchanged(state);
  if (!state.userSeen) {
    // Before this turn's user message an idle is the tail of an earlier turn, unless opencode
    // refused this turn's prompt: then an error came first and the user message never will.
    const refusal = state.promptSent ? state.refusal : undefined;
    return refusal === undefined ? unchanged(state) : failTurn(state, state.stopReason ?? refusal);
  }
  if (state.stopReason) return failTurn(state, state.stopReason);
  if (state.retrying !== undefined) {
    // Stopped by someone else while opencode was retrying: an idle with no answer and no error.
    return failTurn(state, { code: "provider_error", error: `The turn ended while the model provider was failing: ${state.retrying}` });
  }
  // opencode also goes idle when it comes back from a crash: the message it was writing stays
  // unfinished (no time.completed), and the text so far is not the answer.
  if (state.lastStep?.completed !== true) return failTurn(state, answerCutOff(state));
  return {
    state: { ...state, outcome: FINAL, asks: [] },
    // `structured` only for a prompt that asked for it: the other turns' finals keep their exact bytes.
    replies: [{ kind: "final", trace_id: state.traceId, content: state.content, ...(state.structured === undefined ? {} : { structured: state.structured }) }],
  };
}

function answerCutOff(state: TurnState): Failure {
  const what = state.lastStep === undefined ? "before the model answered" : "before the answer was finished (its last message was never completed)";
  return {
    code: "internal",
    error: `The answer was cut off: opencode went idle ${what}, as when opencode stops or restarts mid-answer; ${state.content.length} characters of it had arrived.`,
  };
}

export function onStatus(event: z.infer<typeof SessionStatus>, state: TurnState): CodecResult {
  const { sessionID, status } = event.properties;
  if (state.outcome) return unchanged(state);
  if (sessionID !== state.sessionId) return onChildStatus(sessionID, status, state);
  if (status.type === "idle") return onIdle(state);
  if (!state.userSeen) return unchanged(state);
  if (status.type === "busy") return state.retrying === undefined ? unchanged(state) : { state: { ...state, retrying: undefined }, replies: NONE };
  if (status.type !== "retry") return unchanged(state);
  const message = status.message ?? "no details given";
  const retrying: TurnState = { ...state, retrying: message };
  if ((status.attempt ?? 0) <= state.maxProviderRetries) return { state: retrying, replies: NONE };
  const tries = state.maxProviderRetries + 1;
  const error = `The model provider failed ${tries} time${tries === 1 ? "" : "s"} in a row, so the turn was stopped: ${message}`;
  return { state: stopTurn(retrying, { code: "provider_error", error }), replies: NONE };
}

/**
 * A subagent's provider failing: opencode retries it in the child session while the parent waits
 * on its `task` tool (a minute and more). The same cap stops the turn; aborting the parent stops the child.
 */
function onChildStatus(sessionID: string, status: z.infer<typeof SessionStatus>["properties"]["status"], state: TurnState): CodecResult {
  if (status.type !== "retry" || !state.family.has(sessionID) || (status.attempt ?? 0) <= state.maxProviderRetries) return unchanged(state);
  const tries = state.maxProviderRetries + 1;
  const error = `A subagent's model provider (session ${sessionID}) failed ${tries} time${tries === 1 ? "" : "s"} in a row, so the turn was stopped: ${status.message ?? "no details given"}`;
  return { state: stopTurn(state, { code: "provider_error", error }), replies: NONE };
}

/**
 * The turn's session was deleted (another client, a cleanup). opencode does not stop the answer it
 * is writing (it streams on, then fails to store it): the turn stops, and opencode is asked to abort.
 */
export function onSessionDeleted(state: TurnState): CodecResult {
  if (state.outcome) return unchanged(state);
  const error = `The session ${state.sessionId} was deleted while the turn ran (by another client or a cleanup); what opencode was still answering is lost.`;
  return { state: stopTurn(state, { code: "session_not_found", error }), replies: NONE };
}

const ERROR_CODES: Record<string, ErrorCode> = {
  APIError: "provider_error",
  UnknownError: "provider_error",
  MessageOutputLengthError: "provider_error",
  ContextOverflowError: "provider_error",
  ContentFilterError: "provider_error",
  ProviderAuthError: "unauthorized",
  MessageAbortedError: "aborted",
};

export function onSessionError(event: z.infer<typeof SessionError>, state: TurnState): CodecResult {
  const { sessionID, error } = event.properties;
  if (sessionID !== state.sessionId || state.outcome) return unchanged(state);
  const name = error?.name ?? "UnknownError";
  const detail = error?.data?.message || name;
  if (!state.userSeen) {
    // An abort before this turn's user message is an earlier turn's; another error after this
    // turn's prompt was sent may be opencode refusing it (decided at the idle that follows).
    if (!state.promptSent || name === "MessageAbortedError" || state.refusal) return unchanged(state);
    // opencode names it in the message (an UnknownError), with its stack trace after it.
    if (name === "ProviderNoProvidersError" || detail.startsWith("ProviderNoProvidersError")) return { state: { ...state, refusal: { code: "provider_error", error: NO_PROVIDER } }, replies: NONE };
    return { state: { ...state, refusal: { code: "bad_request", error: `opencode did not start the turn: ${detail}` } }, replies: NONE };
  }
  if (state.stopReason) return failTurn(state, state.stopReason);
  const code = ERROR_CODES[name] ?? "internal";
  return failTurn(state, { code, error: describeError(code, detail) });
}

function describeError(code: ErrorCode, detail: string): string {
  switch (code) {
    case "provider_error":
      return `The model provider failed: ${detail}`;
    case "unauthorized":
      return `The model provider rejected opencode's credentials; check the provider's API key: ${detail}`;
    case "aborted":
      return `The turn was aborted: ${detail}`;
    default:
      return `opencode reported an error: ${detail}`;
  }
}
