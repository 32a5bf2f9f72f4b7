import { setTimeout as sleep } from "node:timers/promises";
import { fromCallback, fromPromise } from "xstate";
import { turnMachine, type EnsureSessionInput, type TurnEvent } from "../machines/turn.machine.js";
import type { PermissionRequest, QuestionRequest } from "./events.js";
import type { PermissionAnswer } from "./policies.js";
import type { EventHub } from "./transport/event-hub.js";
import * as api from "./transport/opencode-api.js";
import { TurnError } from "./turn-error.js";

/** What the turn machine's actors need from their host: the server's stream and the answers to asks. */
export interface TurnServices {
  hub: EventHub;
  decidePermission(request: PermissionRequest): Promise<PermissionAnswer>;
  /** One list of chosen labels per question, or "reject". */
  decideQuestion(request: QuestionRequest): Promise<string[][] | "reject">;
}

/**
 * The turn machine with its real actors: HTTP calls to opencode and the shared event stream. Provide
 * it once per host (it holds no per-turn state) and create one actor per turn.
 */
export function provideTurnMachine({ hub, decidePermission, decideQuestion }: TurnServices) {
  const http = hub.http;
  return turnMachine.provide({
    actions: {
      abandonServerTurn: ({ context }) => {
        api.abortSession(http, context.turn.sessionId).catch(() => undefined);
      },
    },
    actors: {
      ensureSession: fromPromise<string, EnsureSessionInput>(({ input, signal }) => {
        if (input.sessionId === undefined) return api.createSession(http, input.title, signal);
        return input.verified ? Promise.resolve(input.sessionId) : api.getSession(http, input.sessionId, signal);
      }),
      eventStream: fromCallback<TurnEvent, { sessionId: string }>(({ sendBack, input }) => followSession(hub, input.sessionId, sendBack)),
      sendPrompt: fromPromise(({ input, signal }) => api.promptAsync(http, input.sessionId, { messageID: input.messageId, ...input.prompt }, signal)),
      answerAsk: fromPromise(async ({ input, signal }) => {
        const { ask } = input;
        if (ask.kind === "permission") {
          await api.replyPermission(http, ask.request.id, await decidePermission(ask.request), signal);
          return;
        }
        const answers = await decideQuestion(ask.request);
        if (answers === "reject") await api.rejectQuestion(http, ask.request.id, signal);
        else await api.replyQuestion(http, ask.request.id, answers, signal);
      }),
      abortSession: fromPromise(({ input, signal }) => api.abortSession(http, input.sessionId, signal)),
      reconnect: fromPromise(async ({ input, signal }) => {
        await reopenStream(hub, signal);
        // The stream is back before anything is read, so nothing falls between the two. Idle is
        // read before the messages: if it was idle then, the messages read after are complete.
        const children = await api.listChildren(http, input.sessionId, signal);
        for (const child of children) hub.adopt(child, input.sessionId);
        const [permissions, questions, sessionIdle] = await Promise.all([
          api.listPermissions(http, signal),
          api.listQuestions(http, signal),
          api.isSessionIdle(http, input.sessionId, signal),
        ]);
        const messages = await api.listMessages(http, input.sessionId, signal);
        return { children, permissions, questions, messages, sessionIdle };
      }),
    },
  });
}

/**
 * The body of the machine's `eventStream` actor: follows a session on the hub and reports to the
 * machine through `sendBack`. Returns the cleanup, after which nothing more is sent.
 */
export function followSession(hub: EventHub, sessionId: string, sendBack: (event: TurnEvent) => void): () => void {
  let live = true;
  const unsubscribe = hub.subscribe(sessionId, {
    events: (events) => live && sendBack({ type: "EVENTS", events }),
    lost: (error) => live && sendBack({ type: "STREAM.LOST", error }),
  });
  hub.connect().then(
    // The turn's message id is made now, on the server's clock the open stream tells.
    () => live && sendBack({ type: "STREAM.READY", messageId: hub.serverClock.nextMessageId() }),
    (error: TurnError) => live && sendBack({ type: "STREAM.LOST", error }),
  );
  return () => {
    live = false;
    unsubscribe();
  };
}

/**
 * A stream lost more often than this in one turn ends it. Three covers a server restart and a couple
 * of network blips; a stream that keeps dropping past that means the server or the network is not
 * well, and the host is better told (`stream_lost`) than kept waiting.
 */
export const MAX_RECONNECTS = 3;

/**
 * Waits before each attempt to reopen a lost stream: at once (most losses are a connection cut to a
 * healthy server), then after 250 ms and 1 s, long enough for a blip to pass and short enough that a
 * turn whose server is really gone ends in about 1.3 s plus the connect timeouts.
 */
const REOPEN_BACKOFF_MS = [0, 250, 1000];

/** Reopens the hub's stream, trying a few times: a restarting server or a blip in the network passes. */
export async function reopenStream(hub: EventHub, signal: AbortSignal): Promise<void> {
  let failure: unknown;
  for (const wait of REOPEN_BACKOFF_MS) {
    if (wait > 0) await sleep(wait, undefined, { signal });
    try {
      await hub.connect();
      return;
    } catch (error) {
      failure = error;
      // Retrying cannot help: the credentials are wrong, or the hub was closed on purpose.
      if (error instanceof TurnError && (error.code === "unauthorized" || error.code === "closed")) break;
    }
  }
  throw failure;
}
