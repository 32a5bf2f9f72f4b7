// The turn machine's types: its input, context, events, what it emits and what it outputs (and how).
import type { StoredSession } from "../src/codec/reconcile.js";
import type { Ask, CodecResult, Failure, TurnOutcome, TurnState } from "../src/codec/state.js";
import type { TurnPrompt } from "../src/opencode/prompt-body.js";
import type { Usage, Vocabulary } from "../src/contract/replies.js";
import type { TurnError } from "../src/contract/turn-error.js";

/** What opencode holds for a session, read after a gap in the stream (the `reconnect` actor's output). */
export type { StoredSession };

/** What one turn needs to know; the adapter builds it per prompt. */
export interface TurnInput {
  traceId: string;
  /**
   * The id this turn gives its user message; every event of the turn is recognised by it. Leave it
   * out and the stream gives one once it is open, made on the server's clock (`STREAM.READY`):
   * opencode orders messages by id, and the host's clock may be off from the server's.
   */
  messageId?: string;
  /** What is sent to opencode for this turn. */
  prompt: TurnPrompt;
  /** The session to use, when already known (config or an earlier turn). */
  sessionId: string | undefined;
  /** An earlier turn already found or created `sessionId`: it is not looked up again (default: it is). */
  sessionVerified?: boolean;
  /** The title of the session, if this turn creates it. */
  sessionTitle?: string;
  /** Its child sessions known so far. */
  children: readonly string[];
  maxProviderRetries: number;
  /** Which replies the turn makes (default: the six core kinds). */
  vocabulary?: Vocabulary;
  /** A stream lost more often than this in one turn ends it: the server or the network is not well. */
  maxReconnects: number;
  /**
   * How long opencode has to confirm: an abort (its error or idle), or that it took the prompt after
   * an error that may be its refusal (its user message). Past it the turn ends anyway.
   */
  graceMs: number;
  /** The turn's deadline, if it has one: past it the turn is stopped with `timeout` (`DEADLINE`). */
  turnTimeoutMs?: number;
  /** Time the turn already spent before its actor started (waiting for its session): it counts toward the deadline. */
  waitedMs?: number;
}

export interface TurnContext {
  readonly input: TurnInput;
  /** The codec's state of the turn. */
  readonly turn: TurnState;
  /** How many times the stream was lost during this turn. */
  readonly reconnects: number;
  /** The stream is down and must be reopened once the state allows (an ask being answered finishes first). */
  readonly streamDown: boolean;
  /** Events of the new stream that arrived while the stored session was read: applied after it. */
  readonly queued: readonly unknown[];
  /** The turn ended here while opencode may still be running it (see `TurnOutput.orphaned`). */
  readonly orphaned: boolean;
}

export type TurnEvent =
  | { type: "START" }
  /** Stops the turn; `failure` says why (default: cancelled by the host). */
  | { type: "CANCEL"; failure?: Failure }
  /** The turn's deadline passed: the machine schedules it from `TurnInput.turnTimeoutMs`. */
  | { type: "DEADLINE" }
  | { type: "EVENTS"; events: readonly unknown[] }
  /** The stream is open; `messageId` is a new id on the server's clock for the user message (`ServerClock`). */
  | { type: "STREAM.READY"; messageId: string }
  | { type: "STREAM.LOST"; error: TurnError };

/** What a turn actor tells its host while it runs (`actor.on(type, ...)`). */
export type TurnEmitted =
  /** Replies for the sink, in order, never empty; the last reply of a turn is its `final` or `error`. */
  | { type: "replies"; replies: CodecResult["replies"] }
  /** The session the turn runs in, found or created: the host watches it from now on. */
  | { type: "session"; sessionId: string };

/** What a finished turn actor outputs (`toPromise(actor)`). */
export interface TurnOutput {
  readonly outcome: TurnOutcome;
  /** The answer text: the concatenation of the turn's deltas. */
  readonly content: string;
  readonly usage: Usage | undefined;
  /** The object the model answered with, for a prompt with a `format`. */
  readonly structured: unknown;
  /** Events of the turn that could not be used (see `TurnState.unusable`). */
  readonly unusable: number;
  /**
   * The turn ended here while opencode may still be running it (its stream is gone, or the prompt's
   * answer failed or never came): whoever runs the turn asks opencode to abort it, without waiting.
   */
  readonly orphaned: boolean;
}

export interface SessionRef {
  sessionId: string;
}
export interface AskRef {
  sessionId: string;
  ask: Ask;
}
export interface EnsureSessionInput {
  sessionId: string | undefined;
  verified: boolean;
  title: string | undefined;
}

/** The output of a turn whose codec has an outcome; the machine's `output`, also read from a failed actor's last snapshot. */
export function turnOutputOf(context: TurnContext): TurnOutput | undefined {
  const { outcome, content, usage, unusable, structured } = context.turn;
  if (outcome === undefined) return undefined;
  // A turn that ended on a refusal (no user message came for the prompt) may still be queued in opencode.
  const refused = outcome.kind === "error" && context.turn.refusal !== undefined && !context.turn.userSeen;
  return { outcome, content, usage, structured, unusable, orphaned: context.orphaned || refused };
}
