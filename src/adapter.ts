import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { createActor, fromCallback, fromPromise, toPromise, type Actor, type InspectionEvent, type Observer } from "xstate";
import { turnMachine, type TurnEvent, type TurnInput } from "../machines/turn.machine.js";
import { checkPromptOptions, toFilePart, type Attachment, type TurnPrompt } from "./prompt.js";
import { trackModel } from "./codec.js";
import {
  DEFAULT_REJECT_MESSAGE,
  resolveConfig,
  type AdapterConfigInput,
  type PermissionDecision,
  type ResolvedConfig,
} from "./config.js";
import { childSessionOf, type ModelRef, type PermissionRequest, type QuestionRequest } from "./events.js";
import { newMessageId } from "./message-id.js";
import type { ErrorCode, ModelChange, Reply, TurnResult } from "./replies.js";
import { acquireHub, type EventHub } from "./transport/event-hub.js";
import * as api from "./transport/opencode-api.js";
import { TurnError } from "./turn-error.js";

/** Receives every reply, one call each, in order; a returned promise is awaited before the next. */
export type Sink = (reply: Reply) => void | Promise<void>;

export interface PromptOptions {
  attachments?: Attachment[];
  /** Aborting it cancels this turn (or, if it is still queued, ends it before it starts). */
  signal?: AbortSignal;
}

export interface AdapterOptions {
  /** Where a throwing sink or a failing policy is reported. */
  logger?: Pick<Console, "warn">;
  /** XState's inspection observer, given to every turn actor (the Stately inspector, `--inspect-log`). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
}

type TurnActor = Actor<typeof turnMachine>;

/**
 * Drives opencode turns on one session and hands their replies to a sink. Turns run one at a time
 * in call order; `prompt()` never rejects.
 */
export class OpenCodeAdapter {
  /** Held in a private field: it carries the password, which must not show in logs or inspection. */
  readonly #config: ResolvedConfig;
  /** Every model change seen on the session, also between turns, for the host to reconcile. */
  readonly modelChanges: ModelChange[] = [];
  private readonly hub: EventHub;
  private readonly releaseHub: () => Promise<void>;
  private readonly logger: Pick<Console, "warn">;
  private readonly inspect: AdapterOptions["inspect"];
  private queue: Promise<unknown> = Promise.resolve();
  /** The turn machine with this adapter's actors, provided once. */
  private readonly machine;
  /** Turns never overlap on an adapter, so there is at most one. */
  private running: { actor: TurnActor; finished: Promise<unknown>; replies: ReplyQueue } | undefined;
  private session: string | undefined;
  /** The session's child sessions seen so far (subagents, whose permission asks are this adapter's to answer). */
  private readonly children = new Set<string>();
  private readonly counters = { eventsSkipped: 0 };
  private closing: Promise<void> | undefined;
  private unwatchSession: (() => void) | undefined;
  private model: ModelRef | undefined;
  /** modelChanges up to here were reported by an earlier turn. */
  private reportedChanges = 0;
  private closed = false;

  constructor(
    config: AdapterConfigInput,
    private readonly sink: Sink,
    options: AdapterOptions = {},
  ) {
    this.#config = resolveConfig(config);
    this.logger = options.logger ?? console;
    this.inspect = options.inspect;
    const { baseUrl, username, password, directory, connectTimeoutMs, bodyTimeoutMs, heartbeatTimeoutMs } = this.#config;
    const lease = acquireHub({ baseUrl, username, password, directory, connectTimeoutMs, bodyTimeoutMs }, { heartbeatTimeoutMs });
    this.hub = lease.hub;
    this.releaseHub = lease.release;
    // The configured model is the baseline a change is measured against; without one, the first model seen is.
    if (this.#config.providerID && this.#config.modelID) this.model = { id: this.#config.modelID, providerID: this.#config.providerID };
    this.machine = this.provideMachine();
  }

  /** The opencode session: the configured one, or the one created by the first turn. */
  get sessionId(): string | undefined {
    return this.session ?? this.#config.sessionId;
  }

  prompt(text: string, traceId?: string, options: PromptOptions = {}): Promise<TurnResult> {
    const trace = traceId || randomUUID();
    const turn = this.queue.then(() => this.runTurn(text, trace, options)).catch((error: unknown) => this.defect(trace, error));
    this.queue = turn;
    return turn;
  }

  /** Events that could not be used: frames that were not JSON (the shared stream's count) and events with missing fields. */
  get stats(): { framesMalformed: number; eventsSkipped: number } {
    return { framesMalformed: this.hub.stats.malformed, eventsSkipped: this.counters.eventsSkipped };
  }

  /** Cancels the running turn, if any, and resolves once it has ended. */
  async cancel(): Promise<void> {
    const running = this.running;
    if (running === undefined) return;
    running.actor.send({ type: "CANCEL" });
    await running.finished;
  }

  /**
   * Ends the running turn (`closed`) and releases the stream, timers and connections. Queued turns
   * end with `closed`. It does not wait for the sink, so a sink may call it.
   */
  close(): Promise<void> {
    this.closing ??= this.release();
    return this.closing;
  }

  private async release(): Promise<void> {
    this.closed = true;
    const running = this.running;
    if (running !== undefined) {
      running.actor.send({ type: "CANCEL", failure: { code: "closed", error: "The adapter was closed during the turn." } });
      await running.finished;
    }
    this.unwatchSession?.();
    await this.releaseHub();
  }

  private async runTurn(text: string, traceId: string, options: PromptOptions): Promise<TurnResult> {
    const startedAt = performance.now();
    const replies = new ReplyQueue(this.sink, this.logger);
    const refuse = async (code: ErrorCode, error: string): Promise<TurnResult> => {
      replies.push([{ kind: "error", trace_id: traceId, error, code }]);
      await replies.drained();
      return this.result(traceId, startedAt, { outcome: "error", error, code, usage: undefined });
    };
    if (this.closed) return refuse("closed", "The adapter is closed; create a new one to prompt again.");
    const checked = checkPromptOptions(options, { schemes: this.#config.attachmentSchemes, types: this.#config.attachmentTypes });
    if ("refusal" in checked) return refuse("bad_request", checked.refusal);
    const { signal, attachments } = checked;
    if (signal?.aborted) return refuse("aborted", "The turn was cancelled before it started.");

    const prompt: TurnPrompt = {
      parts: [{ type: "text", text }, ...attachments.map(toFilePart)],
      ...(this.#config.providerID && this.#config.modelID ? { model: { providerID: this.#config.providerID, modelID: this.#config.modelID } } : {}),
      ...(this.#config.agent ? { agent: this.#config.agent } : {}),
      ...(this.#config.system ? { system: this.#config.system } : {}),
    };
    const input: TurnInput = {
      traceId,
      messageId: newMessageId(),
      prompt,
      sessionId: this.sessionId,
      children: [...this.children],
      maxProviderRetries: this.#config.maxProviderRetries,
      maxReconnects: MAX_RECONNECTS,
      // opencode has as long to confirm an abort (or that it took the prompt) as to answer a request.
      graceMs: this.#config.connectTimeoutMs,
    };
    const actor = createActor(this.machine, { input, ...(this.inspect ? { inspect: this.inspect } : {}) });
    const finished = toPromise(actor).catch((error: unknown) => error);
    this.running = { actor, finished, replies };
    const onAbort = () => actor.send({ type: "CANCEL" });
    signal?.addEventListener("abort", onAbort, { once: true });
    const { turnTimeoutMs } = this.#config;
    const deadline =
      turnTimeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            actor.send({ type: "CANCEL", failure: { code: "timeout", error: `The turn ran past its deadline of ${turnTimeoutMs} ms and was stopped.` } });
          }, turnTimeoutMs);
    try {
      actor.start();
      actor.send({ type: "START" });
      const failure = await finished;
      const codec = actor.getSnapshot().context.codec;
      this.counters.eventsSkipped += codec.skipped;
      if (codec.terminal === undefined) {
        // A defect in the engine itself: still end the turn with one terminal reply.
        const error = `Internal error in opencode-turns: ${failure instanceof Error ? failure.message : "the turn ended without a result"}`;
        replies.push([{ kind: "error", trace_id: traceId, error, code: "internal" }]);
        await replies.drained();
        return this.result(traceId, startedAt, { outcome: "error", error, code: "internal", usage: undefined });
      }
      if (failure instanceof Error) this.logger.warn(`opencode-turns: the turn machine failed after the turn ended: ${failure.message}`);
      await replies.drained();
      return this.result(
        traceId,
        startedAt,
        codec.terminal === "final"
          ? { outcome: "final", content: codec.content, usage: codec.usage }
          : { outcome: "error", error: codec.failure!.error, code: codec.failure!.code, usage: codec.usage },
      );
    } finally {
      clearTimeout(deadline);
      signal?.removeEventListener("abort", onAbort);
      actor.stop();
      this.running = undefined;
    }
  }

  /** The last line of defence: prompt() resolves even if the engine itself is broken. */
  private async defect(traceId: string, error: unknown): Promise<TurnResult> {
    const message = `Internal error in opencode-turns: ${error instanceof Error ? error.message : String(error)}`;
    try {
      await this.sink({ kind: "error", trace_id: traceId, error: message, code: "internal" });
    } catch (sinkError) {
      this.logger.warn(`opencode-turns: the sink threw on an error reply: ${(sinkError as Error)?.message ?? sinkError}`);
    }
    return { trace_id: traceId, outcome: "error", error: message, code: "internal", model_changes: [], duration_ms: 0 };
  }

  private result(
    traceId: string,
    startedAt: number,
    outcome:
      | { outcome: "final"; content: string; usage: TurnResult["usage"] }
      | { outcome: "error"; error: string; code: ErrorCode; usage: TurnResult["usage"] },
  ): TurnResult {
    const changes = this.modelChanges.slice(this.reportedChanges);
    this.reportedChanges = this.modelChanges.length;
    const { usage, ...rest } = outcome;
    return {
      trace_id: traceId,
      ...(this.sessionId ? { session_id: this.sessionId } : {}),
      ...rest,
      ...(usage ? { usage } : {}),
      model_changes: changes,
      duration_ms: Math.round(performance.now() - startedAt),
    };
  }

  private provideMachine() {
    const http = this.hub.http;
    const hub = this.hub;
    return turnMachine.provide({
      actions: {
        deliver: ({ context }) => this.running?.replies.push(context.outbox),
        abandonServerTurn: ({ context }) => {
          api.abortSession(http, context.codec.sessionId).catch(() => undefined);
        },
      },
      actors: {
        ensureSession: fromPromise(async ({ input, signal }) => {
          const sessionId =
            input.sessionId === undefined
              ? await api.createSession(http, this.#config.sessionTitle, signal)
              : this.session === input.sessionId
                ? input.sessionId
                : await api.getSession(http, input.sessionId, signal);
          this.adoptSession(sessionId);
          return sessionId;
        }),
        eventStream: fromCallback<TurnEvent, { sessionId: string }>(({ sendBack, input }) => followSession(hub, input.sessionId, sendBack)),
        sendPrompt: fromPromise(({ input, signal }) => api.promptAsync(http, input.sessionId, { messageID: input.messageId, ...input.prompt }, signal)),
        replyPermission: fromPromise(async ({ input, signal }) => {
          if (input.ask.kind !== "permission") return;
          const decision = await this.decidePermission(input.ask.request);
          await api.replyPermission(http, input.ask.request.id, decision, signal);
        }),
        replyQuestion: fromPromise(async ({ input, signal }) => {
          if (input.ask.kind !== "question") return;
          const answers = await this.decideQuestion(input.ask.request);
          if (answers === "reject") await api.rejectQuestion(http, input.ask.request.id, signal);
          else await api.replyQuestion(http, input.ask.request.id, answers, signal);
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
   * Takes the session for this adapter and watches it for the adapter's lifetime: model changes,
   * also between turns, and child sessions, so a later turn knows a resumed subagent is its own.
   */
  private adoptSession(sessionId: string): void {
    if (this.session === sessionId) return;
    this.unwatchSession?.();
    this.session = sessionId;
    const family = { has: (id: string) => id === sessionId || this.children.has(id) };
    this.unwatchSession = this.hub.subscribe(sessionId, {
      events: (events) => {
        for (const event of events) {
          const step = trackModel(event, sessionId, this.model);
          this.model = step.model;
          if (step.change) this.modelChanges.push(step.change);
          const child = childSessionOf(event, family);
          if (child !== undefined) this.children.add(child);
        }
      },
      // Between turns nobody else reopens the stream; one try keeps the watch going (a turn retries on its own).
      lost: () => {
        if (!this.closed && this.running === undefined) this.hub.connect().catch(() => undefined);
      },
    });
  }

  private async decidePermission(request: PermissionRequest): Promise<{ reply: "once" | "always" | "reject"; message?: string }> {
    const policy = this.#config.permissions;
    let decision: PermissionDecision;
    try {
      decision = typeof policy === "function" ? await policy(request) : policy;
    } catch (error) {
      this.logger.warn(`opencode-turns: the permission policy threw; rejecting the ask: ${(error as Error).message}`);
      decision = "reject";
    }
    // A bare reject carries a message so the model is told and continues; without one opencode stops the turn.
    if (decision === "reject") return { reply: "reject", message: DEFAULT_REJECT_MESSAGE };
    return typeof decision === "string" ? { reply: decision } : decision;
  }

  private async decideQuestion(request: QuestionRequest): Promise<string[][] | "reject"> {
    const policy = this.#config.questions;
    if (policy === "reject") return "reject";
    try {
      return await policy(request);
    } catch (error) {
      this.logger.warn(`opencode-turns: the question policy threw; rejecting the question: ${(error as Error).message}`);
      return "reject";
    }
  }
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
    () => live && sendBack({ type: "STREAM.READY" }),
    (error: TurnError) => live && sendBack({ type: "STREAM.LOST", error }),
  );
  return () => {
    live = false;
    unsubscribe();
  };
}

/** A stream lost more often than this in one turn ends it: the server or the network is not well. */
export const MAX_RECONNECTS = 3;

/** Waits before each new attempt to reopen a lost stream. */
const REOPEN_BACKOFF_MS = [0, 250, 1000];

/** Reopens the hub's stream, trying a few times: a restarting server or a blip in the network passes. */
async function reopenStream(hub: EventHub, signal: AbortSignal): Promise<void> {
  let failure: unknown;
  for (const wait of REOPEN_BACKOFF_MS) {
    if (wait > 0) await sleep(wait, undefined, { signal });
    try {
      await hub.connect();
      return;
    } catch (error) {
      failure = error;
      if (error instanceof TurnError && (error.code === "unauthorized" || error.code === "closed")) break;
    }
  }
  throw failure;
}

/** Hands replies to the sink one at a time, in order, awaiting each; a throwing sink is logged. */
class ReplyQueue {
  private readonly items: Reply[] = [];
  private next = 0;
  private active = false;
  private draining: Promise<void> = Promise.resolve();

  constructor(
    private readonly sink: Sink,
    private readonly logger: Pick<Console, "warn">,
  ) {}

  push(replies: readonly Reply[]): void {
    if (replies.length === 0) return;
    for (const reply of replies) this.items.push(reply);
    if (this.active) return;
    // A synchronous sink drains the queue before drain() returns: `active` is the truth, not the promise.
    this.active = true;
    this.draining = this.drain();
  }

  async drained(): Promise<void> {
    while (this.active) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (this.next < this.items.length) {
        const reply = this.items[this.next++]!;
        try {
          const pending = this.sink(reply);
          if (pending !== undefined) await pending;
        } catch (error) {
          this.logger.warn(`opencode-turns: the sink threw on a ${reply.kind} reply; the turn goes on: ${(error as Error)?.message ?? error}`);
        }
      }
    } finally {
      this.active = false;
    }
  }
}
