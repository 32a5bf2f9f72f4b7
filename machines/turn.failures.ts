import type { Failure } from "../src/codec/state.js";
import { asTurnError } from "../src/contract/turn-error.js";
import type { TurnContext, TurnEvent } from "./turn.types.js";

// The failures a turn can end with, as the turn machine's `fail` and `stop` actions take them (their params).

const cancelled: Failure = { code: "aborted", error: "The turn was cancelled by the host." };
export const cancelReason = ({ event }: { event: TurnEvent }): Failure => (event.type === "CANCEL" && event.failure) || cancelled;
export const deadlinePassed = ({ context }: { context: TurnContext }): Failure => ({ code: "timeout", error: `The turn ran past its deadline of ${context.input.turnTimeoutMs} ms and was stopped.` });
export const stopReason = ({ context }: { context: TurnContext }): Failure => context.turn.stopReason ?? cancelled;
export const refusal = ({ context }: { context: TurnContext }): Failure => context.turn.refusal ?? cancelled;
export const errorFailure = ({ event }: { event: { error: unknown } }): Failure => ({ code: asTurnError(event.error).code, error: asTurnError(event.error).message });
export const reopenFailure = ({ event }: { event: { error: unknown } }): Failure => ({
  code: "stream_lost",
  error: `The event stream was lost and could not be reopened: ${asTurnError(event.error).message}`,
});
