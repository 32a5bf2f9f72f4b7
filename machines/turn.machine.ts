import { assign, fromCallback, fromPromise, setup, type ErrorActorEvent } from "xstate";
import { answeredAsk, failTurn, initialTurnState, mapOpencodeEvent, stopTurn, type Ask, type Failure, type TurnState } from "../src/codec.js";
import type { TurnPrompt } from "../src/prompt.js";
import type { Reply } from "../src/replies.js";
import { asTurnError, type TurnError } from "../src/turn-error.js";

/** What one turn needs to know; the adapter builds it per prompt. */
export interface TurnInput {
  traceId: string;
  /** The id this turn gives its user message; every event of the turn is recognised by it. */
  messageId: string;
  /** What is sent to opencode for this turn. */
  prompt: TurnPrompt;
  /** The session to use, when already known (config or an earlier turn). */
  sessionId: string | undefined;
  maxProviderRetries: number;
  turnTimeoutMs: number | undefined;
  /** How long to wait for opencode to confirm an abort before ending the turn anyway. */
  abortGraceMs: number;
}

export interface TurnContext {
  readonly input: TurnInput;
  readonly codec: TurnState;
  /** Replies produced by the last transition, handed to the sink by the `deliver` action. */
  readonly outbox: readonly Reply[];
}

export type TurnEvent =
  | { type: "START" }
  /** Stops the turn; `failure` says why (default: cancelled by the host). */
  | { type: "CANCEL"; failure?: Failure }
  | { type: "EVENTS"; events: readonly unknown[] }
  | { type: "STREAM.READY" }
  | { type: "STREAM.LOST"; error: TurnError };

export interface SessionRef {
  sessionId: string;
}
export interface AskRef {
  sessionId: string;
  ask: Ask;
}

// The longest delay a Node timer can hold; a turn without a deadline never reaches it (the guard is false).
const NO_DEADLINE_MS = 2_147_483_647;

const aborted: Failure = { code: "aborted", error: "The turn was cancelled by the host." };
const cancelReason = ({ event }: { event: TurnEvent }): Failure => (event.type === "CANCEL" && event.failure) || aborted;

function failureOf(error: unknown): Failure {
  const turnError = asTurnError(error);
  return { code: turnError.code, error: turnError.message };
}

export const turnMachine = setup({
  types: {
    context: {} as TurnContext,
    events: {} as TurnEvent,
    input: {} as TurnInput,
  },
  actors: {
    // Placeholders: the adapter supplies the real ones with `.provide({ actors })`.
    ensureSession: fromPromise<string, { sessionId: string | undefined }>(async () => {
      throw new Error("ensureSession was not provided");
    }),
    eventStream: fromCallback<TurnEvent, SessionRef>(() => undefined),
    sendPrompt: fromPromise<void, SessionRef & { messageId: string; prompt: TurnPrompt }>(async () => {
      throw new Error("sendPrompt was not provided");
    }),
    replyPermission: fromPromise<void, AskRef>(async () => {
      throw new Error("replyPermission was not provided");
    }),
    replyQuestion: fromPromise<void, AskRef>(async () => {
      throw new Error("replyQuestion was not provided");
    }),
    abortSession: fromPromise<void, SessionRef>(async () => {
      throw new Error("abortSession was not provided");
    }),
  },
  actions: {
    adoptSession: assign(({ context }, sessionId: string) => ({
      codec: initialTurnState({
        traceId: context.input.traceId,
        sessionId,
        messageId: context.input.messageId,
        maxProviderRetries: context.input.maxProviderRetries,
      }),
    })),
    applyEvents: assign(({ context }, events: readonly unknown[]) => {
      let codec = context.codec;
      let outbox: Reply[] | undefined;
      for (const event of events) {
        const step = mapOpencodeEvent(event, codec);
        codec = step.state;
        if (step.replies.length > 0) (outbox ??= []).push(...step.replies);
      }
      return { codec, outbox: outbox ?? [] };
    }),
    fail: assign(({ context }, failure: Failure) => {
      const step = failTurn(context.codec, failure);
      return { codec: step.state, outbox: step.replies };
    }),
    stop: assign(({ context }, failure: Failure) => ({ codec: stopTurn(context.codec, failure), outbox: [] })),
    failFromError: assign(({ context, event }) => {
      const step = failTurn(context.codec, failureOf((event as unknown as ErrorActorEvent).error));
      return { codec: step.state, outbox: step.replies };
    }),
    stopFromError: assign(({ context, event }) => ({
      codec: stopTurn(context.codec, failureOf((event as unknown as ErrorActorEvent).error)),
      outbox: [],
    })),
    failWithStopReason: assign(({ context }) => {
      const step = failTurn(context.codec, context.codec.stopping ?? aborted);
      return { codec: step.state, outbox: step.replies };
    }),
    dropAnsweredAsk: assign(({ context }) => ({ codec: answeredAsk(context.codec), outbox: [] })),
    // Hands `context.outbox` to the host's sink. The adapter provides it; the machine alone (and its
    // model-based tests) reads the outbox from the snapshot instead.
    deliver: () => undefined,
  },
  guards: {
    endedWithFinal: ({ context }) => context.codec.terminal === "final",
    endedWithError: ({ context }) => context.codec.terminal === "error",
    isStopping: ({ context }) => context.codec.stopping !== undefined,
    hasPermissionAsk: ({ context }) => context.codec.asks[0]?.kind === "permission",
    hasQuestionAsk: ({ context }) => context.codec.asks[0]?.kind === "question",
    hasDeadline: ({ context }) => context.input.turnTimeoutMs !== undefined,
  },
  delays: {
    turnDeadline: ({ context }) => Math.min(context.input.turnTimeoutMs ?? NO_DEADLINE_MS, NO_DEADLINE_MS),
    abortGrace: ({ context }) => context.input.abortGraceMs,
  },
}).createMachine({
  id: "turn",
  context: ({ input }) => ({
    input,
    codec: initialTurnState({
      traceId: input.traceId,
      sessionId: input.sessionId ?? "",
      messageId: input.messageId,
      maxProviderRetries: input.maxProviderRetries,
    }),
    outbox: [],
  }),
  initial: "idle",
  states: {
    idle: {
      on: {
        START: "ensuringSession",
        CANCEL: { target: "errored", actions: [{ type: "fail", params: cancelReason }, "deliver"] },
      },
    },
    ensuringSession: {
      invoke: {
        id: "ensureSession",
        src: "ensureSession",
        input: ({ context }) => ({ sessionId: context.input.sessionId }),
        onDone: { target: "live", actions: { type: "adoptSession", params: ({ event }) => event.output } },
        onError: { target: "errored", actions: ["failFromError", "deliver"] },
      },
      on: { CANCEL: { target: "errored", actions: [{ type: "fail", params: cancelReason }, "deliver"] } },
    },
    live: {
      invoke: {
        id: "eventStream",
        src: "eventStream",
        input: ({ context }) => ({ sessionId: context.codec.sessionId }),
      },
      // A deadline or a cancel only records why the turn stops; each sub-state then stops in the way
      // that is safe for it (a prompt in flight is let through first, so the abort reaches it).
      after: {
        turnDeadline: {
          guard: "hasDeadline",
          actions: {
            type: "stop",
            params: ({ context }) => ({ code: "timeout", error: `The turn ran past its deadline of ${context.input.turnTimeoutMs} ms and was stopped.` }),
          },
        },
      },
      on: {
        EVENTS: { actions: [{ type: "applyEvents", params: ({ event }) => event.events }, "deliver"] },
        "STREAM.LOST": { target: "errored", actions: [{ type: "fail", params: ({ event }) => failureOf(event.error) }, "deliver"] },
        CANCEL: { actions: { type: "stop", params: cancelReason } },
      },
      always: [
        { guard: "endedWithFinal", target: "done" },
        { guard: "endedWithError", target: "errored" },
      ],
      initial: "connectingStream",
      states: {
        connectingStream: {
          // Nothing was sent yet: a stop ends the turn at once.
          always: { guard: "isStopping", target: "#turn.errored", actions: ["failWithStopReason", "deliver"] },
          on: { "STREAM.READY": "prompting" },
        },
        prompting: {
          invoke: {
            id: "sendPrompt",
            src: "sendPrompt",
            input: ({ context }) => ({ sessionId: context.codec.sessionId, messageId: context.input.messageId, prompt: context.input.prompt }),
            onDone: [{ guard: "isStopping", target: "streaming.cancelling" }, { target: "streaming" }],
            onError: [
              { guard: "isStopping", target: "#turn.errored", actions: ["failWithStopReason", "deliver"] },
              { target: "#turn.errored", actions: ["failFromError", "deliver"] },
            ],
          },
        },
        streaming: {
          initial: "receiving",
          states: {
            receiving: {
              always: [
                { guard: "isStopping", target: "cancelling" },
                { guard: "hasPermissionAsk", target: "answeringPermission" },
                { guard: "hasQuestionAsk", target: "answeringQuestion" },
              ],
            },
            answeringPermission: {
              always: { guard: "isStopping", target: "cancelling" },
              invoke: {
                id: "replyPermission",
                src: "replyPermission",
                input: ({ context }) => ({ sessionId: context.codec.sessionId, ask: context.codec.asks[0]! }),
                onDone: { target: "receiving", actions: "dropAnsweredAsk" },
                onError: { target: "cancelling", actions: ["dropAnsweredAsk", "stopFromError"] },
              },
            },
            answeringQuestion: {
              always: { guard: "isStopping", target: "cancelling" },
              invoke: {
                id: "replyQuestion",
                src: "replyQuestion",
                input: ({ context }) => ({ sessionId: context.codec.sessionId, ask: context.codec.asks[0]! }),
                onDone: { target: "receiving", actions: "dropAnsweredAsk" },
                onError: { target: "cancelling", actions: ["dropAnsweredAsk", "stopFromError"] },
              },
            },
            cancelling: {
              // The abort's error or idle ends the turn through the codec; the grace bounds the wait.
              invoke: {
                id: "abortSession",
                src: "abortSession",
                input: ({ context }) => ({ sessionId: context.codec.sessionId }),
                onError: { target: "#turn.errored", actions: ["failWithStopReason", "deliver"] },
              },
              after: { abortGrace: { target: "#turn.errored", actions: ["failWithStopReason", "deliver"] } },
              on: { "STREAM.LOST": { target: "#turn.errored", actions: ["failWithStopReason", "deliver"] } },
            },
          },
        },
      },
    },
    done: { type: "final" },
    errored: { type: "final" },
  },
});
