import { assign, emit, enqueueActions, fromCallback, fromPromise, not, setup } from "xstate";
import { answeredAsk } from "../src/codec/asks.js";
import { failTurn, promptSent, stopTurn } from "../src/codec/ending.js";
import { concernsTurn, mapOpencodeEvents } from "../src/codec/map.js";
import { reconcile, streamGap } from "../src/codec/reconcile.js";
import { initialTurnState, type CodecResult, type Failure } from "../src/codec/state.js";
import type { TurnPrompt } from "../src/opencode/prompt-body.js";
import { cancelReason, deadlinePassed, errorFailure, refusal, reopenFailure, stopReason } from "./turn.failures.js";
import { turnOutputOf, type AskRef, type EnsureSessionInput, type SessionRef, type StoredSession, type TurnContext, type TurnEmitted, type TurnEvent, type TurnInput, type TurnOutput } from "./turn.types.js";

export * from "./turn.types.js";

const knownSession = ({ context }: { context: TurnContext }): string => context.input.sessionId!;

/** What `applyStep` needs of `enqueueActions`' queue. */
interface StepQueue {
  assign(values: Partial<TurnContext>): void;
  emit(event: TurnEmitted): void;
}

/** A codec step leaves the machine in one action: its state into the context, its replies to the host. */
function applyStep(enqueue: StepQueue, step: CodecResult, extra: Partial<TurnContext> = {}): void {
  enqueue.assign({ turn: step.state, ...extra });
  if (step.replies.length > 0) enqueue.emit({ type: "replies", replies: step.replies });
}

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
    reconnect: fromPromise<StoredSession, SessionRef>(async () => {
      throw new Error("reconnect was not provided");
    }),
  },
  actions: {
    /** The deadline is the machine's own delayed event, on its clock; it goes when the actor stops. */
    scheduleDeadline: enqueueActions(({ context, enqueue }) => {
      if (context.input.turnTimeoutMs !== undefined) enqueue.raise({ type: "DEADLINE" }, { id: "deadline", delay: "deadline" });
    }),
    useSession: assign(({ context }, sessionId: string) => ({
      turn: initialTurnState({
        traceId: context.input.traceId,
        sessionId,
        messageId: context.turn.messageId,
        maxProviderRetries: context.input.maxProviderRetries,
        children: sessionId === context.input.sessionId ? context.input.children : [],
        vocabulary: context.input.vocabulary,
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
    notePromptSent: assign(({ context }) => ({ turn: promptSent(context.turn) })),
    applyEvents: enqueueActions(({ context, enqueue }, events: readonly unknown[]) => {
      applyStep(enqueue, mapOpencodeEvents(events, context.turn));
    }),
    /** Ends the turn with `failure`, unless it has already ended. */
    fail: enqueueActions(({ context, enqueue }, failure: Failure) => {
      applyStep(enqueue, failTurn(context.turn, failure));
    }),
    /** Records why the turn stops; each state then stops in the way that is safe for it. */
    stop: assign(({ context }, failure: Failure) => ({ turn: stopTurn(context.turn, failure) })),
    /** See `TurnOutput.orphaned`. */
    orphan: assign({ orphaned: true }),
    dropAnsweredAsk: assign(({ context }) => ({ turn: answeredAsk(context.turn) })),
    noteStreamDown: assign(({ context }) => ({ turn: streamGap(context.turn), reconnects: context.reconnects + 1, streamDown: true })),
    startReconnect: assign({ streamDown: false, queued: [] as readonly unknown[] }),
    queueEvents: assign(({ context }, events: readonly unknown[]) => ({ queued: [...context.queued, ...events] })),
    applyStoredSession: enqueueActions(({ context, enqueue }, stored: StoredSession) => {
      applyStep(enqueue, reconcile(context.turn, stored, context.queued), { queued: [] });
    }),
  },
  guards: {
    /** Is this event ours: does the batch hold anything about the turn's session family? */
    concernsTurn: ({ context, event }) => event.type === "EVENTS" && event.events.some((e) => concernsTurn(e, context.turn)),
    /** Is the turn over, and how. */
    endedWithFinal: ({ context }) => context.turn.outcome?.kind === "final",
    endedWithError: ({ context }) => context.turn.outcome?.kind === "error",
    isStopping: ({ context }) => context.turn.stopReason !== undefined,
    /** A stop before the prompt was sent: nothing reached opencode, so the turn ends at once. */
    stoppedBeforePrompt: ({ context }) => context.turn.stopReason !== undefined && !context.turn.promptSent,
    hasAsk: ({ context }) => context.turn.asks.length > 0,
    /** The host gave a session it knows exists (a turn or ensureSession() found or created it). */
    sessionKnown: ({ context }) => context.input.sessionId !== undefined && context.input.sessionVerified === true,
    hasRefusal: ({ context }) => context.turn.refusal !== undefined,
    mayReconnect: ({ context }) => context.reconnects < context.input.maxReconnects,
    streamIsDown: ({ context }) => context.streamDown,
  },
  delays: {
    grace: ({ context }) => context.input.graceMs,
    deadline: ({ context }) => Math.max(0, (context.input.turnTimeoutMs ?? 0) - (context.input.waitedMs ?? 0)),
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
      vocabulary: input.vocabulary,
    }),
    reconnects: 0,
    streamDown: false,
    queued: [],
    orphaned: false,
  }),
  // Both final states are reached only once the codec has an outcome (the guards and the `fail`
  // action say so); a machine that got there without one is a defect, reported as the actor's error.
  output: ({ context }) => {
    const output = turnOutputOf(context);
    if (output === undefined) throw new Error("the turn machine ended without an outcome");
    return output;
  },
  entry: "scheduleDeadline",
  // A cancel (the host's, or close) and the deadline only record why the turn stops; each state then
  // stops in the way that is safe for it (a prompt in flight is let through first, so the abort reaches it).
  on: {
    CANCEL: { actions: { type: "stop", params: cancelReason } },
    DEADLINE: { actions: { type: "stop", params: deadlinePassed } },
  },
  // Nothing was sent to opencode yet (idle, ensuringSession, connectingStream): a stop ends the turn at once.
  always: { guard: "stoppedBeforePrompt", target: ".errored", actions: { type: "fail", params: stopReason } },
  initial: "idle",
  states: {
    idle: {
      on: {
        START: [
          // A session the host knows exists needs no check: its turn goes straight to the stream.
          { guard: "sessionKnown", target: "live", actions: [{ type: "useSession", params: knownSession }, { type: "emitSession", params: knownSession }] },
          { target: "ensuringSession" },
        ],
      },
    },
    ensuringSession: {
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
        onError: { target: "errored", actions: { type: "fail", params: errorFailure } },
      },
    },
    live: {
      invoke: {
        id: "eventStream",
        src: "eventStream",
        input: ({ context }) => ({ sessionId: context.turn.sessionId }),
      },
      on: {
        EVENTS: { guard: "concernsTurn", actions: { type: "applyEvents", params: ({ event }) => event.events } },
        "STREAM.LOST": [
          // The prompt may already be on the server: the stream is reopened once the state allows, and
          // the turn caught up from what opencode holds, rather than ended.
          { guard: "mayReconnect", actions: "noteStreamDown" },
          // Lost too often: the turn ends, and opencode is asked to stop it.
          { target: "errored", actions: [{ type: "fail", params: errorFailure }, "orphan"] },
        ],
      },
      always: [
        { guard: "endedWithFinal", target: "done" },
        { guard: "endedWithError", target: "errored" },
      ],
      initial: "connectingStream",
      states: {
        connectingStream: {
          on: {
            "STREAM.READY": { target: "prompting", actions: { type: "useMessageId", params: ({ event }) => event.messageId } },
            // Nothing was sent yet, so there is nothing to reopen or to abort on the server.
            "STREAM.LOST": { target: "#turn.errored", actions: { type: "fail", params: errorFailure } },
          },
        },
        prompting: {
          // From here an error may be this turn's: opencode can refuse the prompt before answering it.
          entry: "notePromptSent",
          invoke: {
            id: "sendPrompt",
            src: "sendPrompt",
            input: ({ context }) => ({ sessionId: context.turn.sessionId, messageId: context.turn.messageId, prompt: context.input.prompt }),
            onDone: [{ guard: "isStopping", target: "streaming.cancelling" }, { target: "streaming" }],
            onError: [
              { guard: "isStopping", target: "#turn.errored", actions: { type: "fail", params: stopReason } },
              // The prompt may have reached opencode before its answer failed: it is asked to stop.
              { target: "#turn.errored", actions: [{ type: "fail", params: errorFailure }, "orphan"] },
            ],
          },
          initial: "sending",
          states: {
            sending: { always: { guard: "isStopping", target: "stopping" } },
            // A stop lets the prompt in flight land first, so the abort reaches it; but an answer that
            // never ends must not hold the turn: past the grace the turn ends and opencode is told to stop.
            stopping: { after: { grace: { target: "#turn.errored", actions: [{ type: "fail", params: stopReason }, "orphan"] } } },
          },
        },
        streaming: {
          // The prompt is on the server: a stop aborts the session (cancelling). Each sub-state tests
          // for it first, before its own choices: a parent's eventless transitions come after them.
          initial: "receiving",
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
              // The oldest ask, a permission or a question, is answered by the host's policy; a lost
              // stream is reopened once the answer is in.
              always: { guard: "isStopping", target: "cancelling" },
              invoke: {
                id: "answerAsk",
                src: "answerAsk",
                input: ({ context }) => ({ sessionId: context.turn.sessionId, ask: context.turn.asks[0]! }),
                onDone: { target: "receiving", actions: "dropAnsweredAsk" },
                onError: { target: "cancelling", actions: ["dropAnsweredAsk", { type: "stop", params: errorFailure }] },
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
              after: { grace: { target: "#turn.errored", actions: [{ type: "fail", params: refusal }, "orphan"] } },
            },
            reconnecting: {
              entry: "startReconnect",
              always: { guard: "isStopping", target: "cancelling" },
              on: { EVENTS: { guard: "concernsTurn", actions: { type: "queueEvents", params: ({ event }) => event.events } } },
              invoke: {
                id: "reconnect",
                src: "reconnect",
                input: ({ context }) => ({ sessionId: context.turn.sessionId }),
                onDone: { target: "receiving", actions: { type: "applyStoredSession", params: ({ event }) => event.output } },
                onError: { target: "#turn.errored", actions: [{ type: "fail", params: reopenFailure }, "orphan"] },
              },
            },
            cancelling: {
              // The abort's error or idle ends the turn through the codec; the grace bounds the wait.
              invoke: {
                id: "abortSession",
                src: "abortSession",
                input: ({ context }) => ({ sessionId: context.turn.sessionId }),
                onError: { target: "#turn.errored", actions: { type: "fail", params: stopReason } },
              },
              after: { grace: { target: "#turn.errored", actions: { type: "fail", params: stopReason } } },
              on: { "STREAM.LOST": { target: "#turn.errored", actions: { type: "fail", params: stopReason } } },
            },
          },
        },
      },
    },
    done: { type: "final" },
    errored: { type: "final" },
  },
});

/** The turn machine's type: `turnMachine` itself, and `provideTurnMachine`'s result. */
export type TurnMachine = typeof turnMachine;
