import { assign, emit, fromCallback, fromPromise, not, setup } from "xstate";
import { answeredAsk } from "../src/codec/asks.js";
import { failTurn, promptSent, stopTurn } from "../src/codec/ending.js";
import { concernsTurn, mapOpencodeEvents } from "../src/codec/map.js";
import { reconcile, streamGap, type SessionSnapshot } from "../src/codec/reconcile.js";
import { initialTurnState, type Ask, type Failure, type TurnOutcome, type TurnState } from "../src/codec/state.js";
import type { TurnPrompt } from "../src/opencode/prompt-body.js";
import type { Reply, Usage } from "../src/contract/replies.js";
import { asTurnError, type TurnError } from "../src/contract/turn-error.js";

export type { SessionSnapshot };

/** What one turn needs to know; the adapter builds it per prompt. */
export interface TurnInput {
  traceId: string;
  /**
   * The id this turn gives its user message; every event of the turn is recognised by it. Leave it
   * out and the turn makes one once the stream is open, on the server's clock (`STREAM.READY`):
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
  /** A stream lost more often than this in one turn ends it: the server or the network is not well. */
  maxReconnects: number;
  /**
   * How long opencode has to confirm: an abort (its error or idle), or that it took the prompt after
   * an error that may be its refusal (its user message). Past it the turn ends anyway.
   */
  graceMs: number;
}

export interface TurnContext {
  readonly input: TurnInput;
  /** The codec's state of the turn. */
  readonly turn: TurnState;
  /** How many times the stream was lost during this turn. */
  readonly reconnects: number;
  /** The stream is down and must be reopened once the state allows (an ask being answered finishes first). */
  readonly streamDown: boolean;
  /** Events of the new stream that arrived while the snapshot was read: applied after it. */
  readonly queued: readonly unknown[];
  /** Replies produced by the last transition, emitted by the `emitReplies` action. */
  readonly outbox: readonly Reply[];
}

export type TurnEvent =
  | { type: "START" }
  /** Stops the turn; `failure` says why (default: cancelled by the host). */
  | { type: "CANCEL"; failure?: Failure }
  | { type: "EVENTS"; events: readonly unknown[] }
  /** The stream is open; `messageId` is a new id on the server's clock for the user message (`ServerClock`). */
  | { type: "STREAM.READY"; messageId: string }
  | { type: "STREAM.LOST"; error: TurnError };

/** What a turn actor tells its host while it runs (`actor.on(type, ...)`). */
export type TurnEmitted =
  /** Replies for the sink, in order (a batch of events may make none); the last reply of a turn is its `final` or `error`. */
  | { type: "replies"; replies: readonly Reply[] }
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

const aborted: Failure = { code: "aborted", error: "The turn was cancelled by the host." };
const cancelReason = ({ event }: { event: TurnEvent }): Failure => (event.type === "CANCEL" && event.failure) || aborted;

function failureOf(error: unknown): Failure {
  const turnError = asTurnError(error);
  return { code: turnError.code, error: turnError.message };
}

function reopenFailure(error: unknown): Failure {
  return { code: "stream_lost", error: `The event stream was lost and could not be reopened: ${asTurnError(error).message}` };
}

const errorOf = ({ event }: { event: { error: unknown } }) => event.error;

export const turnMachine = setup({
  types: {
    context: {} as TurnContext,
    events: {} as TurnEvent,
    input: {} as TurnInput,
    emitted: {} as TurnEmitted,
    output: {} as TurnOutput,
  },
  actors: {
    // Placeholders: `provideTurnMachine` (src/engine/turn-actors.ts) supplies the real ones.
    ensureSession: fromPromise<string, EnsureSessionInput>(async () => {
      throw new Error("ensureSession was not provided");
    }),
    eventStream: fromCallback<TurnEvent, SessionRef>(() => undefined),
    sendPrompt: fromPromise<void, SessionRef & { messageId: string; prompt: TurnPrompt }>(async () => {
      throw new Error("sendPrompt was not provided");
    }),
    answerAsk: fromPromise<void, AskRef>(async () => {
      throw new Error("answerAsk was not provided");
    }),
    abortSession: fromPromise<void, SessionRef>(async () => {
      throw new Error("abortSession was not provided");
    }),
    reconnect: fromPromise<SessionSnapshot, SessionRef>(async () => {
      throw new Error("reconnect was not provided");
    }),
  },
  actions: {
    useSession: assign(({ context }, sessionId: string) => ({
      turn: initialTurnState({
        traceId: context.input.traceId,
        sessionId,
        messageId: context.turn.messageId,
        maxProviderRetries: context.input.maxProviderRetries,
        children: sessionId === context.input.sessionId ? context.input.children : [],
        adoptsCompaction: context.input.prompt.endpoint === "summarize",
      }),
    })),
    /**
     * The user message's id, fixed once the stream is open, right before the prompt: the host's if it
     * gave one, else the stream's, made on the server's clock (the machine makes no ids of its own).
     */
    useMessageId: assign(({ context }, messageId: string) => ({
      turn: { ...context.turn, messageId: context.input.messageId ?? messageId },
    })),
    emitSession: emit((_, sessionId: string) => ({ type: "session" as const, sessionId })),
    notePromptSent: assign(({ context }) => ({ turn: promptSent(context.turn), outbox: [] })),
    applyEvents: assign(({ context }, events: readonly unknown[]) => {
      const step = mapOpencodeEvents(events, context.turn);
      return { turn: step.state, outbox: step.replies };
    }),
    fail: assign(({ context }, failure: Failure) => {
      const step = failTurn(context.turn, failure);
      return { turn: step.state, outbox: step.replies };
    }),
    failFromError: assign(({ context }, error: unknown) => {
      const step = failTurn(context.turn, failureOf(error));
      return { turn: step.state, outbox: step.replies };
    }),
    stop: assign(({ context }, failure: Failure) => ({ turn: stopTurn(context.turn, failure), outbox: [] })),
    stopFromError: assign(({ context }, error: unknown) => ({ turn: stopTurn(context.turn, failureOf(error)), outbox: [] })),
    failWithRefusal: assign(({ context }) => {
      const step = failTurn(context.turn, context.turn.refusal ?? aborted);
      return { turn: step.state, outbox: step.replies };
    }),
    failWithStopReason: assign(({ context }) => {
      const step = failTurn(context.turn, context.turn.stopReason ?? aborted);
      return { turn: step.state, outbox: step.replies };
    }),
    dropAnsweredAsk: assign(({ context }) => ({ turn: answeredAsk(context.turn), outbox: [] })),
    noteStreamDown: assign(({ context }) => ({ turn: streamGap(context.turn), reconnects: context.reconnects + 1, streamDown: true, outbox: [] })),
    startReconnect: assign({ streamDown: false, queued: [] as readonly unknown[] }),
    queueEvents: assign(({ context }, events: readonly unknown[]) => ({ queued: [...context.queued, ...events] })),
    applySnapshot: assign(({ context }, snapshot: SessionSnapshot) => {
      const step = reconcile(context.turn, snapshot, context.queued);
      return { turn: step.state, queued: [], outbox: step.replies };
    }),
    failReconnect: assign(({ context }, error: unknown) => {
      const step = failTurn(context.turn, reopenFailure(error));
      return { turn: step.state, outbox: step.replies };
    }),
    /** Replies leave the machine here; the host listens with `actor.on("replies", ...)`. */
    emitReplies: emit(({ context }) => ({ type: "replies" as const, replies: context.outbox })),
    // The stream is gone but opencode may still be running the turn: ask it to stop, without waiting
    // (nothing could confirm it). `provideTurnMachine` provides it.
    abandonServerTurn: () => undefined,
  },
  guards: {
    /** Is this event ours: does the batch hold anything about the turn's session family? */
    concernsTurn: ({ context, event }) => event.type === "EVENTS" && event.events.some((e) => concernsTurn(e, context.turn)),
    /** Is the turn over, and how. */
    endedWithFinal: ({ context }) => context.turn.outcome?.kind === "final",
    endedWithError: ({ context }) => context.turn.outcome?.kind === "error",
    isStopping: ({ context }) => context.turn.stopReason !== undefined,
    hasAsk: ({ context }) => context.turn.asks.length > 0,
    hasRefusal: ({ context }) => context.turn.refusal !== undefined,
    mayReconnect: ({ context }) => context.reconnects < context.input.maxReconnects,
    streamIsDown: ({ context }) => context.streamDown,
  },
  delays: {
    grace: ({ context }) => context.input.graceMs,
  },
}).createMachine({
  id: "turn",
  context: ({ input }) => ({
    input,
    turn: initialTurnState({
      traceId: input.traceId,
      sessionId: input.sessionId ?? "",
      // None yet, unless the host gave one: an id that matches nothing until the stream is open.
      messageId: input.messageId ?? "",
      maxProviderRetries: input.maxProviderRetries,
    }),
    reconnects: 0,
    streamDown: false,
    queued: [],
    outbox: [],
  }),
  // Both final states are reached only once the codec has an outcome (the guards and `fail*` actions
  // say so); a machine that got there without one is a defect, reported as the actor's error.
  output: ({ context }) => {
    const { outcome, content, usage, unusable, structured } = context.turn;
    if (outcome === undefined) throw new Error("the turn machine ended without an outcome");
    return { outcome, content, usage, unusable, structured };
  },
  // A cancel (the host's, the adapter's deadline, or close) only records why the turn stops; each
  // state then stops in the way that is safe for it (a prompt in flight is let through first, so the
  // abort reaches it).
  on: { CANCEL: { actions: { type: "stop", params: cancelReason } } },
  initial: "idle",
  states: {
    idle: {
      always: { guard: "isStopping", target: "errored", actions: ["failWithStopReason", "emitReplies"] },
      on: { START: "ensuringSession" },
    },
    ensuringSession: {
      always: { guard: "isStopping", target: "errored", actions: ["failWithStopReason", "emitReplies"] },
      invoke: {
        id: "ensureSession",
        src: "ensureSession",
        input: ({ context }) => ({ sessionId: context.input.sessionId, verified: context.input.sessionVerified ?? false, title: context.input.sessionTitle }),
        onDone: {
          target: "live",
          actions: [
            { type: "useSession", params: ({ event }) => event.output },
            { type: "emitSession", params: ({ event }) => event.output },
          ],
        },
        onError: { target: "errored", actions: [{ type: "failFromError", params: errorOf }, "emitReplies"] },
      },
    },
    live: {
      invoke: {
        id: "eventStream",
        src: "eventStream",
        input: ({ context }) => ({ sessionId: context.turn.sessionId }),
      },
      on: {
        EVENTS: { guard: "concernsTurn", actions: [{ type: "applyEvents", params: ({ event }) => event.events }, "emitReplies"] },
        "STREAM.LOST": {
          target: "errored",
          actions: [{ type: "fail", params: ({ event }) => failureOf(event.error) }, "emitReplies", "abandonServerTurn"],
        },
      },
      always: [
        { guard: "endedWithFinal", target: "done" },
        { guard: "endedWithError", target: "errored" },
      ],
      initial: "connectingStream",
      states: {
        connectingStream: {
          // Nothing was sent yet: a stop ends the turn at once.
          always: { guard: "isStopping", target: "#turn.errored", actions: ["failWithStopReason", "emitReplies"] },
          on: {
            "STREAM.READY": { target: "prompting", actions: { type: "useMessageId", params: ({ event }) => event.messageId } },
            // Nothing was sent yet, so there is nothing to abandon on the server.
            "STREAM.LOST": { target: "#turn.errored", actions: [{ type: "fail", params: ({ event }) => failureOf(event.error) }, "emitReplies"] },
          },
        },
        prompting: {
          // From here an error may be this turn's: opencode can refuse the prompt before answering it.
          entry: "notePromptSent",
          // The prompt may already be on the server: the stream is reopened once it is posted.
          on: { "STREAM.LOST": { guard: "mayReconnect", actions: "noteStreamDown" } },
          invoke: {
            id: "sendPrompt",
            src: "sendPrompt",
            input: ({ context }) => ({ sessionId: context.turn.sessionId, messageId: context.turn.messageId, prompt: context.input.prompt }),
            onDone: [{ guard: "isStopping", target: "streaming.cancelling" }, { target: "streaming" }],
            onError: [
              { guard: "isStopping", target: "#turn.errored", actions: ["failWithStopReason", "emitReplies"] },
              // The prompt may have reached opencode before its answer failed: it is asked to stop.
              { target: "#turn.errored", actions: [{ type: "failFromError", params: errorOf }, "emitReplies", "abandonServerTurn"] },
            ],
          },
          initial: "sending",
          states: {
            sending: { always: { guard: "isStopping", target: "stopping" } },
            // A stop lets the prompt in flight land first, so the abort reaches it; but an answer that
            // never ends must not hold the turn: past the grace the turn ends and opencode is told to stop.
            stopping: { after: { grace: { target: "#turn.errored", actions: ["failWithStopReason", "emitReplies", "abandonServerTurn"] } } },
          },
        },
        streaming: {
          initial: "receiving",
          // The prompt is on the server: a lost stream is reopened and the turn caught up from what
          // opencode holds, rather than ended. An ask being answered is let finish first.
          on: { "STREAM.LOST": { guard: "mayReconnect", actions: "noteStreamDown" } },
          states: {
            receiving: {
              always: [
                { guard: "isStopping", target: "cancelling" },
                { guard: "streamIsDown", target: "reconnecting" },
                { guard: "hasRefusal", target: "confirmingPrompt" },
                { guard: "hasAsk", target: "answeringAsk" },
              ],
            },
            answeringAsk: {
              // The oldest ask, a permission or a question, is answered by the host's policy.
              always: { guard: "isStopping", target: "cancelling" },
              invoke: {
                id: "answerAsk",
                src: "answerAsk",
                input: ({ context }) => ({ sessionId: context.turn.sessionId, ask: context.turn.asks[0]! }),
                onDone: { target: "receiving", actions: "dropAnsweredAsk" },
                onError: { target: "cancelling", actions: ["dropAnsweredAsk", { type: "stopFromError", params: errorOf }] },
              },
            },
            confirmingPrompt: {
              // A refusal came after the prompt was sent and before its user message: opencode either
              // refused the prompt (no user message will come, and 1.18 sends no idle either) or the
              // error was an earlier turn's. The user message (or its absence) decides.
              always: [
                { guard: "isStopping", target: "cancelling" },
                { guard: "streamIsDown", target: "reconnecting" },
                { guard: not("hasRefusal"), target: "receiving" },
              ],
              after: { grace: { target: "#turn.errored", actions: ["failWithRefusal", "emitReplies"] } },
            },
            reconnecting: {
              entry: "startReconnect",
              always: { guard: "isStopping", target: "cancelling" },
              on: { EVENTS: { guard: "concernsTurn", actions: { type: "queueEvents", params: ({ event }) => event.events } } },
              invoke: {
                id: "reconnect",
                src: "reconnect",
                input: ({ context }) => ({ sessionId: context.turn.sessionId }),
                onDone: { target: "receiving", actions: [{ type: "applySnapshot", params: ({ event }) => event.output }, "emitReplies"] },
                onError: { target: "#turn.errored", actions: [{ type: "failReconnect", params: errorOf }, "emitReplies", "abandonServerTurn"] },
              },
            },
            cancelling: {
              // The abort's error or idle ends the turn through the codec; the grace bounds the wait.
              invoke: {
                id: "abortSession",
                src: "abortSession",
                input: ({ context }) => ({ sessionId: context.turn.sessionId }),
                onError: { target: "#turn.errored", actions: ["failWithStopReason", "emitReplies"] },
              },
              after: { grace: { target: "#turn.errored", actions: ["failWithStopReason", "emitReplies"] } },
              on: { "STREAM.LOST": { target: "#turn.errored", actions: ["failWithStopReason", "emitReplies"] } },
            },
          },
        },
      },
    },
    done: { type: "final" },
    errored: { type: "final" },
  },
});
