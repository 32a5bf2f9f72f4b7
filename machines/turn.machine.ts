import { assign, fromCallback, fromPromise, not, setup, type ErrorActorEvent } from "xstate";
import {
  answeredAsk,
  concernsTurn,
  failTurn,
  initialTurnState,
  mapOpencodeEvent,
  promptSent,
  reconcile,
  stopTurn,
  streamGap,
  type Ask,
  type Failure,
  type SessionSnapshot,
  type TurnState,
} from "../src/codec.js";
import type { TurnPrompt } from "../src/prompt.js";
import type { Reply } from "../src/replies.js";
import { asTurnError, type TurnError } from "../src/turn-error.js";

export type { SessionSnapshot };

/** What one turn needs to know; the adapter builds it per prompt. */
export interface TurnInput {
  traceId: string;
  /** The id this turn gives its user message; every event of the turn is recognised by it. */
  messageId: string;
  /** What is sent to opencode for this turn. */
  prompt: TurnPrompt;
  /** The session to use, when already known (config or an earlier turn). */
  sessionId: string | undefined;
  /** Its child sessions known so far. */
  children: readonly string[];
  maxProviderRetries: number;
  /** A stream lost more often than this in one turn ends it: the server or the network is not well. */
  maxReconnects: number;
  /**
   * How long opencode has to confirm: an abort (its error or idle), or that it took the prompt after
   * an error that may mean it refused it (its user message). Past it the turn ends anyway.
   */
  graceMs: number;
}

export interface TurnContext {
  readonly input: TurnInput;
  readonly codec: TurnState;
  /** How many times the stream was lost during this turn. */
  readonly reconnects: number;
  /** The stream is down and must be reopened once the state allows (an ask being answered finishes first). */
  readonly streamDown: boolean;
  /** Events of the new stream that arrived while the snapshot was read: applied after it. */
  readonly queued: readonly unknown[];
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
    reconnect: fromPromise<SessionSnapshot, SessionRef>(async () => {
      throw new Error("reconnect was not provided");
    }),
  },
  actions: {
    adoptSession: assign(({ context }, sessionId: string) => ({
      codec: initialTurnState({
        traceId: context.input.traceId,
        sessionId,
        messageId: context.input.messageId,
        maxProviderRetries: context.input.maxProviderRetries,
        children: sessionId === context.input.sessionId ? context.input.children : [],
      }),
    })),
    notePromptSent: assign(({ context }) => ({ codec: promptSent(context.codec), outbox: [] })),
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
    failWithRefusal: assign(({ context }) => {
      const step = failTurn(context.codec, context.codec.earlyError ?? aborted);
      return { codec: step.state, outbox: step.replies };
    }),
    failWithStopReason: assign(({ context }) => {
      const step = failTurn(context.codec, context.codec.stopping ?? aborted);
      return { codec: step.state, outbox: step.replies };
    }),
    dropAnsweredAsk: assign(({ context }) => ({ codec: answeredAsk(context.codec), outbox: [] })),
    noteStreamDown: assign(({ context }) => ({ codec: streamGap(context.codec), reconnects: context.reconnects + 1, streamDown: true, outbox: [] })),
    startReconnect: assign({ streamDown: false, queued: [] as readonly unknown[] }),
    queueEvents: assign(({ context }, events: readonly unknown[]) => ({ queued: [...context.queued, ...events] })),
    applySnapshot: assign(({ context }, snapshot: SessionSnapshot) => {
      const step = reconcile(context.codec, snapshot, context.queued);
      return { codec: step.state, queued: [], outbox: step.replies };
    }),
    failReconnect: assign(({ context, event }) => {
      const reason = asTurnError((event as unknown as ErrorActorEvent).error).message;
      const step = failTurn(context.codec, { code: "stream_lost", error: `The event stream was lost and could not be reopened: ${reason}` });
      return { codec: step.state, outbox: step.replies };
    }),
    // Hands `context.outbox` to the host's sink. The adapter provides it; the machine alone (and its
    // model-based tests) reads the outbox from the snapshot instead.
    deliver: () => undefined,
    // The stream is gone but opencode may still be running the turn: ask it to stop, without waiting
    // (nothing could confirm it). The adapter provides it.
    abandonServerTurn: () => undefined,
  },
  guards: {
    /** Is this event ours: does the batch hold anything about the turn's session family? */
    concernsTurn: ({ context, event }) => event.type === "EVENTS" && event.events.some((e) => concernsTurn(e, context.codec)),
    /** Is the turn over, and how. */
    endedWithFinal: ({ context }) => context.codec.terminal === "final",
    endedWithError: ({ context }) => context.codec.terminal === "error",
    isStopping: ({ context }) => context.codec.stopping !== undefined,
    hasPermissionAsk: ({ context }) => context.codec.asks[0]?.kind === "permission",
    hasQuestionAsk: ({ context }) => context.codec.asks[0]?.kind === "question",
    mayBeRefused: ({ context }) => context.codec.earlyError !== undefined,
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
    codec: initialTurnState({
      traceId: input.traceId,
      sessionId: input.sessionId ?? "",
      messageId: input.messageId,
      maxProviderRetries: input.maxProviderRetries,
    }),
    reconnects: 0,
    streamDown: false,
    queued: [],
    outbox: [],
  }),
  // A cancel (the host's, the adapter's deadline, or close) only records why the turn stops; each
  // state then stops in the way that is safe for it (a prompt in flight is let through first, so the
  // abort reaches it).
  on: { CANCEL: { actions: { type: "stop", params: cancelReason } } },
  initial: "idle",
  states: {
    idle: {
      always: { guard: "isStopping", target: "errored", actions: ["failWithStopReason", "deliver"] },
      on: { START: "ensuringSession" },
    },
    ensuringSession: {
      always: { guard: "isStopping", target: "errored", actions: ["failWithStopReason", "deliver"] },
      invoke: {
        id: "ensureSession",
        src: "ensureSession",
        input: ({ context }) => ({ sessionId: context.input.sessionId }),
        onDone: { target: "live", actions: { type: "adoptSession", params: ({ event }) => event.output } },
        onError: { target: "errored", actions: ["failFromError", "deliver"] },
      },
    },
    live: {
      invoke: {
        id: "eventStream",
        src: "eventStream",
        input: ({ context }) => ({ sessionId: context.codec.sessionId }),
      },
      on: {
        EVENTS: { guard: "concernsTurn", actions: [{ type: "applyEvents", params: ({ event }) => event.events }, "deliver"] },
        "STREAM.LOST": {
          target: "errored",
          actions: [{ type: "fail", params: ({ event }) => failureOf(event.error) }, "deliver", "abandonServerTurn"],
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
          always: { guard: "isStopping", target: "#turn.errored", actions: ["failWithStopReason", "deliver"] },
          on: {
            "STREAM.READY": "prompting",
            // Nothing was sent yet, so there is nothing to abandon on the server.
            "STREAM.LOST": { target: "#turn.errored", actions: [{ type: "fail", params: ({ event }) => failureOf(event.error) }, "deliver"] },
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
          // The prompt is on the server: a lost stream is reopened and the turn caught up from what
          // opencode holds, rather than ended. An ask being answered is let finish first.
          on: { "STREAM.LOST": { guard: "mayReconnect", actions: "noteStreamDown" } },
          states: {
            receiving: {
              always: [
                { guard: "isStopping", target: "cancelling" },
                { guard: "streamIsDown", target: "reconnecting" },
                { guard: "mayBeRefused", target: "confirmingPrompt" },
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
            confirmingPrompt: {
              // An error came after the prompt was sent and before its user message: opencode either
              // refused the prompt (no user message will come, and 1.18 sends no idle either) or the
              // error was an earlier turn's. The user message (or its absence) decides.
              always: [
                { guard: "isStopping", target: "cancelling" },
                { guard: "streamIsDown", target: "reconnecting" },
                { guard: not("mayBeRefused"), target: "receiving" },
              ],
              after: { grace: { target: "#turn.errored", actions: ["failWithRefusal", "deliver"] } },
            },
            reconnecting: {
              entry: "startReconnect",
              always: { guard: "isStopping", target: "cancelling" },
              on: { EVENTS: { guard: "concernsTurn", actions: { type: "queueEvents", params: ({ event }) => event.events } } },
              invoke: {
                id: "reconnect",
                src: "reconnect",
                input: ({ context }) => ({ sessionId: context.codec.sessionId }),
                onDone: { target: "receiving", actions: [{ type: "applySnapshot", params: ({ event }) => event.output }, "deliver"] },
                onError: { target: "#turn.errored", actions: ["failReconnect", "deliver", "abandonServerTurn"] },
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
              after: { grace: { target: "#turn.errored", actions: ["failWithStopReason", "deliver"] } },
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
