import { setTimeout as sleep } from "node:timers/promises";
import { fromCallback, fromPromise } from "xstate";
import { turnMachine, type EnsureSessionInput, type TurnEvent, type TurnMachine } from "../../machines/turn.machine.js";
import type { PermissionReplyBody, QuestionDecision } from "../contract/decisions.js";
import type { PermissionRequest, QuestionRequest } from "../opencode/events.js";
import { isPartDelta } from "../opencode/quick-events.js";
import type { EventHub } from "../opencode/event-hub.js";
import { UPSTREAM_DOWN, type OpencodeHttp } from "../opencode/http.js";
import * as api from "../opencode/api.js";
import { backoffDelay, type Backoff } from "../contract/backoff.js";
import { TurnError } from "../contract/turn-error.js";
import { sendTurnPrompt } from "./send-prompt.js";

/** What the turn machine's actors need from their host: the server's stream and the answers to asks. */
export interface TurnServices {
  hub: EventHub;
  decidePermission(request: PermissionRequest): Promise<PermissionReplyBody>;
  decideQuestion(request: QuestionRequest): Promise<QuestionDecision>;
}

/**
 * The turn machine with its real actors: HTTP calls to opencode and the shared event stream. Provide
 * it once per host (it holds no per-turn state) and create one actor per turn.
 */
export function provideTurnMachine({ hub, decidePermission, decideQuestion }: TurnServices): TurnMachine {
  const http = hub.http;
  return turnMachine.provide({
    actors: {
      ensureSession: fromPromise<string, EnsureSessionInput>(({ input, signal }) => findOrCreateSession(http, input, signal)),
      eventStream: fromCallback<TurnEvent, { sessionId: string }>(({ sendBack, input }) => followSession(hub, input.sessionId, sendBack)),
      sendPrompt: fromPromise(({ input, signal }) => sendTurnPrompt(hub, input, signal)),
      answerAsk: fromPromise(async ({ input, signal }) => {
        const { ask } = input;
        if (ask.kind === "permission") {
          await api.replyPermission(http, ask.request, await decidePermission(ask.request), signal);
          return;
        }
        const answers = await decideQuestion(ask.request);
        if (answers === "reject") await api.rejectQuestion(http, ask.request, signal);
        else await api.replyQuestion(http, ask.request, answers, signal);
      }),
      abortSession: fromPromise(({ input, signal }) => {
        // A stopping turn reads its end (the abort's error, idle) at once, even from a stream a slow sink holds.
        hub.pause.lift(http.target.connectTimeoutMs);
        return api.abortSession(http, input.sessionId, signal);
      }),
      reconnect: fromPromise(async ({ input, signal }) => {
        await reopenStream(hub, signal);
        // The stream is back before anything is read, so nothing falls between the two. Idle is
        // read before the messages: if it was idle then, the messages read after are complete.
        const children = await api.listChildren(http, input.sessionId, signal);
        for (const child of children) hub.adopt(child, input.sessionId);
        // v2 asks are listed per session: the turn's and each of its subagents'.
        const [permissions, questions, sessionIdle, ...asksV2] = await Promise.all([
          api.listPermissions(http, signal),
          api.listQuestions(http, signal),
          api.isSessionIdle(http, input.sessionId, signal),
          ...[input.sessionId, ...children].map((session) => api.listAsksV2(http, session, signal)),
        ]);
        const messages = await api.listMessages(http, input.sessionId, signal);
        const permissionsV2 = asksV2.flatMap((asks) => asks.permissions);
        const questionsV2 = asksV2.flatMap((asks) => asks.questions);
        return { children, permissions, questions, permissionsV2, questionsV2, messages, sessionIdle };
      }),
    },
  });
}

/**
 * Asks opencode to stop a turn this process no longer follows (an orphaned turn, see
 * `TurnOutput.orphaned`), without waiting: nothing could confirm it.
 */
export function abandonTurn(http: OpencodeHttp, sessionId: string): void {
  api.abortSession(http, sessionId).catch(() => undefined);
}

/**
 * The body of the machine's `ensureSession` actor (and of `OpenCodeAdapter.ensureSession()`): the
 * session's id, created with `title` when there is none, checked when it is not known to exist.
 */
export function findOrCreateSession(http: OpencodeHttp, { sessionId, verified, title }: EnsureSessionInput, signal?: AbortSignal): Promise<string> {
  if (sessionId === undefined) return api.createSession(http, title, signal);
  return verified ? Promise.resolve(sessionId) : api.getSession(http, sessionId, signal);
}

/**
 * The body of the machine's `eventStream` actor: follows a session on the hub and reports to the
 * machine through `sendBack`. Returns the cleanup, after which nothing more is sent.
 */
export function followSession(hub: EventHub, sessionId: string, sendBack: (event: TurnEvent) => void): () => void {
  let live = true;
  // The turn's progress is watched, not only the socket's: a stream alive with heartbeats only is a gap too.
  const unsubscribe = hub.subscribe(
    sessionId,
    {
      events: (events) => {
        if (!live) return;
        const cut = textCut(events);
        if (cut === 0) return sendBack({ type: "EVENTS", events });
        sendBack({ type: "EVENTS", events: events.slice(0, cut) });
        // The first half may have ended the turn (and with it this follow).
        if (live) sendBack({ type: "EVENTS", events: events.slice(cut) });
      },
      lost: (error) => live && sendBack({ type: "STREAM.LOST", error }),
    },
    { watchProgress: true },
  );
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
 * Where a batch is sent to the machine in two: after its last delta, when other events follow it;
 * 0 for a batch sent whole. The machine's replies leave at the end of its step, so in one step the
 * text would wait for what follows it in the batch: a part's end, a tool's, the turn's end, the
 * costly events (measured: 1 to 5 ms for a turn's end, against 0.2 ms for a delta).
 */
export function textCut(events: readonly unknown[]): number {
  for (let i = events.length - 1; i >= 0; i--) {
    if (isPartDelta(events[i])) return i + 1 < events.length ? i + 1 : 0;
  }
  return 0;
}

/**
 * A stream lost more often than this in one turn ends it. Three covers a server restart and a couple
 * of network blips; a stream that keeps dropping past that means the server or the network is not
 * well, and the host is better told (`stream_lost`) than kept waiting.
 */
export const MAX_RECONNECTS = 3;

/**
 * Waits after a failed attempt to reopen a lost stream (the first is made at once: most losses are a
 * connection cut to a healthy server): 250 ms, 500 ms, then every second until the window closes, so
 * a crashed server that restarts is found within a second of listening again.
 */
const REOPEN_BACKOFF: Backoff = { firstMs: 250, maxMs: 1000 };

/**
 * How long one attempt waits for `server.connected`. While opencode starts it accepts connections a
 * moment before it serves, and never answers those: an attempt that lands there must not wait the
 * whole connect timeout. Once up, a restarted opencode opened its stream in 0.3 s (on a loaded machine).
 */
const REOPEN_TRY_MS = 2000;

/** A server that answers with an error status is up and refusing: it gets this many tries, as a blip would. */
const REOPEN_TRIES_WHEN_ANSWERED = 3;

/**
 * Reopens the hub's stream. A server that refuses the connection, does not answer, or sits behind a
 * proxy that says it is down may be restarting: it is tried until a window of 3 × the connect timeout
 * (what three attempts could wait before) has passed since the first try; one that answers with
 * another error status gets three tries.
 */
export async function reopenStream(hub: EventHub, signal: AbortSignal): Promise<void> {
  const { connectTimeoutMs } = hub.http.target;
  const closesAt = performance.now() + 3 * connectTimeoutMs;
  let answered = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      await hub.connect(Math.min(REOPEN_TRY_MS, connectTimeoutMs, closesAt - performance.now()));
      return;
    } catch (error) {
      // Retrying cannot help: the credentials are wrong, or the hub was closed on purpose.
      if (error instanceof TurnError && (error.code === "unauthorized" || error.code === "closed")) throw error;
      // A proxy saying opencode is down is retried for the whole window, like a refused connection.
      const refused = error instanceof TurnError && error.status !== undefined && !UPSTREAM_DOWN.has(error.status);
      if (refused && ++answered >= REOPEN_TRIES_WHEN_ANSWERED) throw error;
      const wait = backoffDelay(REOPEN_BACKOFF, attempt);
      if (performance.now() + wait >= closesAt) throw error;
      await sleep(wait, undefined, { signal });
    }
  }
}
