import type { ErrorCode, Reply, Usage, Vocabulary } from "../contract/replies.js";
import { type FullTrack, initialFullTrack } from "./full-track.js";
import type { PermissionRequest, QuestionRequest } from "../opencode/events.js";
import type { z } from "zod";
import { CallMap } from "./call-map.js";

// The codec's state of one turn, and the small pieces every rule uses. The codec is the pure heart
// of the engine: opencode events in, host replies out. No I/O, no clock, no randomness; the state is
// never mutated, only replaced.

export type Ask =
  | { readonly kind: "permission"; readonly request: PermissionRequest }
  | { readonly kind: "question"; readonly request: QuestionRequest };

export interface Failure {
  readonly code: ErrorCode;
  readonly error: string;
}

/** How a turn ended: with its `final` reply, or with the `error` reply that carries this failure. */
export type TurnOutcome = { readonly kind: "final" } | ({ readonly kind: "error" } & Failure);

export const FINAL: TurnOutcome = Object.freeze({ kind: "final" });

export interface PartTrack {
  readonly id: string;
  readonly kind: "text" | "reasoning";
  /** Characters of this part already sent as delta/reasoning replies. */
  readonly sent: number;
  /**
   * The stream was away while this part streamed: its later deltas no longer continue what was sent,
   * so they are not sent; its closing update (or the stored message) brings the rest whole.
   */
  readonly held: boolean;
}

/**
 * The deltas of a part not yet announced, as a list that shares its tail: keeping one more costs
 * the same however many came before (copying an array each time made 40,000 of them quadratic).
 */
export interface EarlyDeltas {
  readonly delta: string;
  readonly before: EarlyDeltas | undefined;
  /** How many deltas the list holds. */
  readonly count: number;
}

/** The deltas of an early list, oldest first. */
export function earlyDeltasInOrder(list: EarlyDeltas | undefined): string[] {
  const deltas = new Array<string>(list?.count ?? 0);
  for (let node = list, i = deltas.length - 1; node !== undefined; node = node.before, i--) deltas[i] = node.delta;
  return deltas;
}

interface StepTrack {
  readonly id: string;
  /** opencode set its `time.completed`: the step was finished, not cut off by a crash. */
  readonly completed: boolean;
}

export interface CallTrack {
  readonly tool: string;
  readonly called: boolean;
  readonly resulted: boolean;
}

export interface TurnState {
  readonly traceId: string;
  readonly sessionId: string;
  /** The id this turn gave its user message in `prompt_async`: the key to every event of the turn. */
  readonly messageId: string;
  readonly maxProviderRetries: number;
  readonly family: ReadonlySet<string>;
  readonly userSeen: boolean;
  /** The prompt is on its way to opencode: from now on an error may be this turn's. */
  readonly promptSent: boolean;
  /**
   * A refusal: an error after the prompt was sent but before its user message. opencode refused the
   * prompt, unless the user message still comes (then the error was an earlier turn's).
   */
  readonly refusal: Failure | undefined;
  /** The provider's failure while opencode is retrying it (cleared when a retry goes ahead). */
  readonly retrying: string | undefined;
  /**
   * User messages opencode added to go on with this turn after compacting the session mid-turn (a
   * synthetic "continue"): the rest of the answer comes in assistant messages under them.
   */
  readonly continuations: ReadonlySet<string>;
  readonly assistantIds: ReadonlySet<string>;
  /** The turn's newest assistant message (one step of the answer): an idle ends the turn well only once it is completed. */
  readonly lastStep: StepTrack | undefined;
  /** The text or reasoning part deltas are arriving for; kept apart so a delta does not copy `parts`. */
  readonly openPart: PartTrack | undefined;
  /** The other text and reasoning parts seen (an entry for `openPart.id` here is stale). */
  readonly parts: ReadonlyMap<string, PartTrack>;
  /** Deltas that arrived before their part announced its type, newest first. */
  readonly earlyDeltas: ReadonlyMap<string, EarlyDeltas>;
  /** Parts, not yet announced, whose deltas were cut by a stream gap: they are held once announced. */
  readonly gapped: ReadonlySet<string>;
  /** One entry per tool call, persistent: a tool event copies one path of it, not all of it. */
  readonly calls: CallMap<CallTrack>;
  readonly content: string;
  readonly usage: Usage | undefined;
  /** The step-finish parts already added to `usage`: a reconcile after a gap replays the stored ones. */
  readonly stepsCounted: ReadonlySet<string>;
  /** Permission and question asks waiting for an answer, oldest first. */
  readonly asks: readonly Ask[];
  /** Asks already answered: a list read back after a gap may still hold one, and none is answered twice. */
  readonly answeredAsks: ReadonlySet<string>;
  /** Why the turn is being stopped (cancel, deadline, retry cap), once it is: its end is this error. */
  readonly stopReason: Failure | undefined;
  /** How the turn ended; set once, with the terminal reply, and never changed after. */
  readonly outcome: TurnOutcome | undefined;
  /** Events that could not be used: unknown types, or known types with missing fields. */
  readonly unusable: number;
  /**
   * Whether the turn's content comes as `session.next.*` events (true) or v1 ones (false); unknown
   * until its first step. Where a server sends both, only the family decided here is read.
   */
  readonly nextEvents: boolean | undefined;
  /** What only the full vocabulary tracks; undefined in the core vocabulary (the six kinds). */
  readonly full: FullTrack | undefined;
  /** The turn's user message is opencode's own, the one carrying its `compaction` part (a summarize turn). */
  readonly adoptsCompaction: boolean;
  /** The object the model answered with, for a prompt with a `format` (opencode's structured output). */
  readonly structured: unknown;
}

export interface TurnIdentity {
  traceId: string;
  sessionId: string;
  messageId: string;
  maxProviderRetries: number;
  /** Child sessions already known (a resumed subagent session asks for permission too). */
  children?: Iterable<string>;
  /** Which replies to make (default: the core six). */
  vocabulary?: Vocabulary;
  /** See `TurnState.adoptsCompaction`. */
  adoptsCompaction?: boolean;
}

export interface CodecResult {
  readonly state: TurnState;
  readonly replies: readonly Reply[];
}

export const NONE: readonly Reply[] = Object.freeze([]);

/** A literal, not a spread of the identity: V8 builds a spread of this many keys about 20 times slower. */
export function initialTurnState({ traceId, sessionId, messageId, maxProviderRetries, children = [], vocabulary = "core", adoptsCompaction = false }: TurnIdentity): TurnState {
  return {
    traceId,
    sessionId,
    messageId,
    maxProviderRetries,
    family: new Set([sessionId, ...children]),
    userSeen: false,
    promptSent: false,
    refusal: undefined,
    retrying: undefined,
    continuations: new Set(),
    assistantIds: new Set(),
    lastStep: undefined,
    openPart: undefined,
    parts: new Map(),
    earlyDeltas: new Map(),
    gapped: new Set(),
    calls: CallMap.empty(),
    content: "",
    usage: undefined,
    stepsCounted: new Set(),
    asks: [],
    answeredAsks: new Set(),
    stopReason: undefined,
    outcome: undefined,
    unusable: 0,
    nextEvents: undefined,
    full: vocabulary === "full" ? initialFullTrack() : undefined,
    adoptsCompaction,
    structured: undefined,
  };
}

/** Whether an assistant message with this parent is a step of this turn's answer. */
export function answersTurn(state: TurnState, parentID: string | undefined): boolean {
  return parentID !== undefined && (parentID === state.messageId || state.continuations.has(parentID));
}

export function parsed<S extends z.ZodType>(schema: S, event: unknown, state: TurnState, then: (event: z.infer<S>) => CodecResult): CodecResult {
  const result = schema.safeParse(event);
  return result.success ? then(result.data) : countUnusable(state);
}

export function without<V>(map: ReadonlyMap<string, V>, key: string): Map<string, V> {
  const next = new Map(map);
  next.delete(key);
  return next;
}

export function unchanged(state: TurnState): CodecResult {
  return { state, replies: NONE };
}

export function countUnusable(state: TurnState): CodecResult {
  return { state: { ...state, unusable: state.unusable + 1 }, replies: NONE };
}
