import { randomUUID } from "node:crypto";
import { createActor, toPromise, type Actor, type InspectionEvent, type Observer } from "xstate";
import type { TurnInput, TurnOutput } from "../../machines/turn.machine.js";
import { resolveConfig, type AdapterConfigInput, type ResolvedConfig } from "./config.js";
import { asHostCall, insideHostCall } from "./host-calls.js";
import { decidePermission, decideQuestion } from "./policies.js";
import type { TurnPrompt } from "../opencode/prompt-body.js";
import { checkPromptOptions, type Attachment, type TurnChoices } from "./prompt.js";
import * as sessionOps from "./session-operations.js";
import type { SessionSummary, StoredTurn, TurnStart } from "./session-operations.js";
import { withoutSecrets } from "../contract/redact.js";
import type { ErrorCode, ModelChange, Reply, TurnResult } from "../contract/replies.js";
import { ReplyQueue, type Sink } from "./reply-queue.js";
import { claimSession, type SessionClaim } from "./session-claims.js";
import { SessionWatch } from "./session-watch.js";
import { acquireHub, type EventHub } from "../opencode/event-hub.js";
import { findOrCreateSession, MAX_RECONNECTS, provideTurnMachine } from "../engine/turn-actors.js";
import { asTurnError, reasonOf, TurnError } from "../contract/turn-error.js";
import * as api from "../opencode/api.js";
import { safeWarn, type Warn } from "./warnings.js";

export type { Sink };

/** A turn's options: its files, its signal, and its own model, agent, variant, system, tools and format. */
export interface PromptOptions extends TurnChoices {
  attachments?: Attachment[];
  /** Aborting it cancels this turn (or, if it is still queued, ends it before it starts). */
  signal?: AbortSignal;
}

export interface AdapterOptions {
  /** Where a throwing sink or a failing policy is reported. A logger that throws is ignored. */
  logger?: Pick<Console, "warn">;
  /** XState's inspection observer, given to every turn actor (the Stately inspector, `--inspect-log`). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
}

type TurnActor = Actor<ReturnType<typeof provideTurnMachine>>;

type Ending =
  | { outcome: "final"; content: string; usage: TurnResult["usage"]; structured?: unknown }
  | { outcome: "error"; error: string; code: ErrorCode; usage: TurnResult["usage"] };

/**
 * Drives opencode turns on one session and hands their replies to a sink. Turns run one at a time
 * in call order; `prompt()` never rejects.
 */
export class OpenCodeAdapter {
  /** Held in a private field: it carries the password, which must not show in logs or inspection. */
  readonly #config: ResolvedConfig;
  private readonly hub: EventHub;
  private readonly releaseHub: () => Promise<void>;
  private readonly warn: Warn;
  /** Removes the server password (in any of its forms) from a text before it leaves the library. */
  private readonly redact: (text: string) => string;
  /** Every reply of every turn goes through it, so two turns never reach the sink at once. */
  private readonly replies: ReplyQueue;
  /** Waits cut short by close(): from then on no result waits for the sink or a turn ahead. */
  private readonly closeWaiters = new Set<() => void>();
  private readonly inspect: AdapterOptions["inspect"];
  private readonly watch: SessionWatch;
  /** The turn machine with this adapter's actors, provided once. */
  private readonly machine: ReturnType<typeof provideTurnMachine>;
  private queue: Promise<unknown> = Promise.resolve();
  /** Turns queued or running whose replies are not all handed over: a refusal's reply goes after theirs. */
  private turnsAhead = 0;
  /** Turns never overlap on an adapter, so there is at most one. */
  private running: { actor: TurnActor; finished: Promise<unknown> } | undefined;
  /** A turn waiting for another adapter's turn on the same session: cancel() and close() make it give up. */
  private waiting: { controller: AbortController; ended: Promise<void> } | undefined;
  private readonly counters = { eventsSkipped: 0 };
  /** modelChanges up to here were reported by an earlier turn. */
  private reportedChanges = 0;
  private closing: Promise<void> | undefined;
  private closed = false;

  constructor(
    config: AdapterConfigInput,
    private readonly sink: Sink,
    options: AdapterOptions = {},
  ) {
    this.#config = resolveConfig(config);
    this.inspect = options.inspect;
    const { baseUrl, username, password, directory, connectTimeoutMs, bodyTimeoutMs, heartbeatTimeoutMs, providerID, modelID } = this.#config;
    const lease = acquireHub({ baseUrl, username, password, directory, connectTimeoutMs, bodyTimeoutMs }, { heartbeatTimeoutMs });
    this.hub = lease.hub;
    this.releaseHub = lease.release;
    this.redact = this.hub.http.redact;
    this.warn = safeWarn(options.logger ?? console, this.redact);
    this.replies = new ReplyQueue(sink, this.warn, this);
    const baseline = providerID && modelID ? { id: modelID, providerID } : undefined;
    // Between turns nobody else reopens the stream; one try keeps the watch going (a turn retries on its own).
    this.watch = new SessionWatch(this.hub, baseline, () => {
      if (!this.closed && this.running === undefined) this.hub.connect().catch(() => undefined);
    });
    const warn = this.warn;
    const { permissions, questions } = this.#config;
    this.machine = provideTurnMachine({
      hub: this.hub,
      decidePermission: (request) => asHostCall(this, (asked) => decidePermission(permissions, asked, warn), request),
      decideQuestion: (request) => asHostCall(this, (asked) => decideQuestion(questions, asked, warn), request),
    });
  }

  /** The opencode session: the configured one, or the one created by the first turn or ensureSession(). */
  get sessionId(): string | undefined {
    return this.watch.session ?? this.#config.sessionId;
  }

  /** The session is known to exist: a turn or ensureSession() found or created it, so the next turn need not check. */
  private get sessionVerified(): boolean {
    return this.sessionId !== undefined && this.sessionId === this.watch.session;
  }

  /**
   * Makes sure the adapter has its opencode session and resolves with its id: the configured one,
   * checked to exist, or a new one (titled `sessionTitle`), then used by every later turn as if a turn
   * had created it. It waits for the turns queued before it. Rejects with a `TurnError` whose code
   * says why (`session_not_found`, `unauthorized`, `unreachable`, `closed`...).
   */
  ensureSession(): Promise<string> {
    if (this.closed) return Promise.reject(new TurnError("closed", "The adapter is closed; create a new one to use a session."));
    if (insideHostCall(this)) {
      // Like a prompt there: it would wait for the running turn, and the turn for this call.
      return Promise.reject(
        new TurnError("bad_request", "ensureSession() was called from inside this adapter's sink or policy, where it would wait for itself; call it after that call has returned."),
      );
    }
    const found = this.untilClosed(this.queue).then(() => this.establishSession());
    // The turns after it wait for it, and do not fail with it.
    this.queue = found.catch(() => undefined);
    return found;
  }

  private async establishSession(): Promise<string> {
    const closedError = () => new TurnError("closed", "The adapter was closed before its session was ready.");
    if (this.closed) throw closedError();
    // close() does not wait for a server that is slow to answer.
    const abandon = new AbortController();
    const onClose = () => abandon.abort();
    this.closeWaiters.add(onClose);
    try {
      const input = { sessionId: this.sessionId, verified: this.sessionVerified, title: this.#config.sessionTitle };
      const sessionId = await findOrCreateSession(this.hub.http, input, abandon.signal);
      if (this.closed) throw closedError();
      // What a turn does with the session it found or created: the adapter follows it from now on,
      // on an open stream, so the watch sees its model changes. A stream that does not open is the
      // next turn's to report.
      this.watch.watch(sessionId);
      await this.hub.connect().catch(() => undefined);
      if (this.closed) throw closedError();
      return sessionId;
    } catch (error) {
      if (this.closed) throw closedError();
      const failure = asTurnError(error);
      throw new TurnError(failure.code, this.redact(failure.message));
    } finally {
      this.closeWaiters.delete(onClose);
    }
  }

  /** Every model change seen on the session, also between turns, for the host to reconcile. */
  get modelChanges(): ModelChange[] {
    return this.watch.modelChanges;
  }

  prompt(text: string, traceId?: string, options: PromptOptions = {}): Promise<TurnResult> {
    return this.startTurn({ kind: "prompt", text }, traceId, options);
  }

  /**
   * Runs a slash command configured in opencode (`name` without the slash, `args` its arguments) as
   * a turn: the same replies and result as a prompt. Its options are a prompt's less system, tools
   * and format, which opencode's command endpoint does not take.
   */
  command(name: string, args = "", traceId?: string, options: PromptOptions = {}): Promise<TurnResult> {
    const checked = sessionOps.commandName(name);
    const trace = traceId || randomUUID();
    if (typeof checked !== "string") return this.refuseAtOnce(trace, "bad_request", checked.refusal);
    return this.startTurn({ kind: "command", name: checked, arguments: String(args) }, trace, options);
  }

  /** Compacts the session (opencode writes a summary of it) as a turn: the summary is its answer. */
  summarize(traceId?: string, options: PromptOptions = {}): Promise<TurnResult> {
    return this.startTurn({ kind: "summarize" }, traceId, options);
  }

  /** The session's stored turns, each as a live turn would have replied, keyed by its user message; none before the first turn. */
  history(): Promise<StoredTurn[]> {
    return this.operate("history()", false, (sessionId, signal) => (sessionId === undefined ? Promise.resolve([]) : sessionOps.readHistory(this.hub.http, sessionId, signal)));
  }

  /** A new session with this one's messages before `messageId` (all when left out): its id, for a new adapter. */
  fork(messageId?: string): Promise<string> {
    return this.operate("fork()", true, (sessionId, signal) => api.forkSession(this.hub.http, sessionId!, sessionOps.messageIdOf("fork()", messageId, true), signal));
  }

  /** Undoes the session from `messageId` on (opencode drops those messages at the next prompt, unless unrevert() comes first). */
  revert(messageId: string): Promise<void> {
    return this.operate("revert()", true, (sessionId, signal) => api.revertSession(this.hub.http, sessionId!, sessionOps.messageIdOf("revert()", messageId, false)!, signal));
  }

  unrevert(): Promise<void> {
    return this.operate("unrevert()", true, (sessionId, signal) => api.unrevertSession(this.hub.http, sessionId!, signal));
  }

  /** The server's sessions (of the configured directory, when there is one). */
  sessions(): Promise<SessionSummary[]> {
    return this.operate("sessions()", false, (_sessionId, signal) => sessionOps.listSessions(this.hub.http, signal));
  }

  /**
   * Runs a session operation in call order with the turns: after the ones queued before it, before
   * the ones after. Rejects with a `TurnError` (its text without the password), like ensureSession().
   */
  private operate<T>(what: string, needsSession: boolean, run: (sessionId: string | undefined, signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new TurnError("closed", `The adapter is closed; ${what} needs an open one.`));
    if (insideHostCall(this)) {
      return Promise.reject(new TurnError("bad_request", `${what} was called from inside this adapter's sink or policy, where it would wait for itself; call it after that call has returned.`));
    }
    const done = this.untilClosed(this.queue).then(async () => {
      if (this.closed) throw new TurnError("closed", `The adapter was closed before ${what} ran.`);
      const sessionId = this.sessionId;
      if (needsSession && sessionId === undefined) throw new TurnError("session_not_found", `${what} needs a session: the adapter has none yet (prompt first, or configure sessionId).`);
      const abandon = new AbortController();
      const onClose = () => abandon.abort();
      this.closeWaiters.add(onClose);
      try {
        return await run(sessionId, abandon.signal);
      } catch (error) {
        if (this.closed) throw new TurnError("closed", `The adapter was closed during ${what}.`);
        const failure = asTurnError(error);
        throw new TurnError(failure.code, this.redact(failure.message), failure.status);
      } finally {
        this.closeWaiters.delete(onClose);
      }
    });
    this.queue = done.catch(() => undefined);
    return done;
  }

  private startTurn(start: TurnStart, traceId: string | undefined, options: PromptOptions): Promise<TurnResult> {
    const trace = traceId || randomUUID();
    if (this.closed) return this.refuseAtOnce(trace, "closed", "The adapter is closed; create a new one to prompt again.");
    if (insideHostCall(this)) {
      // Awaited there, this turn would wait for the sink or policy call, and that call for this turn.
      return this.refuseAtOnce(
        trace,
        "bad_request",
        "prompt() was called from inside this adapter's sink or policy, where it would wait for itself; call it after that call has returned.",
      );
    }
    // Once closed, queued turns stop waiting for the one before (its sink may never settle) and end `closed`.
    this.turnsAhead++;
    const turn = this.untilClosed(this.queue)
      .then(() => this.runTurn(start, trace, options))
      .catch((error: unknown) => this.defect(trace, error))
      .finally(() => this.turnsAhead--);
    this.queue = turn;
    return turn;
  }

  /**
   * Ends a prompt without running it and without waiting: the result is known now, and its error
   * reply reaches the sink in turn, after the replies of the turns before it.
   */
  private refuseAtOnce(traceId: string, code: ErrorCode, error: string): Promise<TurnResult> {
    const reply: Reply = { kind: "error", trace_id: traceId, error, code };
    if (this.turnsAhead === 0) this.replies.push([reply]);
    else this.queue = this.untilClosed(this.queue).then(() => this.replies.push([reply]));
    // Model changes are left for the turn that runs: this one may be refused in the middle of it.
    return Promise.resolve({ trace_id: traceId, ...(this.sessionId ? { session_id: this.sessionId } : {}), outcome: "error", error, code, model_changes: [], duration_ms: 0 });
  }

  /** Events that could not be used: frames that were not JSON (the shared stream's count) and events with missing fields. */
  get stats(): { framesMalformed: number; eventsSkipped: number } {
    return { framesMalformed: this.hub.stats.malformed, eventsSkipped: this.counters.eventsSkipped };
  }

  /** Cancels the running turn, if any, and resolves once it has ended. */
  async cancel(): Promise<void> {
    const waiting = this.waiting;
    if (waiting !== undefined) {
      waiting.controller.abort();
      await waiting.ended;
    }
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
    for (const wake of this.closeWaiters) wake();
    this.closeWaiters.clear();
    this.waiting?.controller.abort();
    const running = this.running;
    if (running !== undefined) {
      running.actor.send({ type: "CANCEL", failure: { code: "closed", error: "The adapter was closed during the turn." } });
      await running.finished;
    }
    this.watch.stop();
    await this.releaseHub();
  }

  private async runTurn(start: TurnStart, traceId: string, options: PromptOptions): Promise<TurnResult> {
    const startedAt = performance.now();
    const replies = this.replies;
    const end = async (ending: Ending): Promise<TurnResult> => {
      // The result waits for the sink to take the turn's replies, unless the adapter is closed: a sink
      // that never settles must not hold a closed adapter's prompts.
      await this.untilClosed(replies.drained());
      return this.result(traceId, startedAt, ending);
    };
    const refuse = (code: ErrorCode, error: string): Promise<TurnResult> => {
      replies.push([{ kind: "error", trace_id: traceId, error, code }]);
      return end({ outcome: "error", error, code, usage: undefined });
    };
    if (this.closed) return refuse("closed", "The adapter is closed; create a new one to prompt again.");
    const checked = checkPromptOptions(options, { schemes: this.#config.attachmentSchemes, types: this.#config.attachmentTypes });
    if ("refusal" in checked) return refuse("bad_request", checked.refusal);
    const { signal } = checked;
    const prompt = sessionOps.turnPromptOf(start, checked, this.#config);
    if ("refusal" in prompt) return refuse("bad_request", prompt.refusal);
    if (signal?.aborted) return refuse("aborted", "The turn was cancelled before it started.");

    // Another adapter of this process may be running a turn on this session: this one waits for it.
    const { turnTimeoutMs } = this.#config;
    const knownSession = this.sessionId;
    let claim: SessionClaim | undefined = knownSession === undefined ? undefined : claimSession(this.#config.baseUrl, knownSession);
    try {
      if (claim !== undefined) {
        const gaveUp = await this.waitForTurn(claim, signal, turnTimeoutMs);
        if (gaveUp !== undefined) return refuse(gaveUp.code, gaveUp.error);
      }

      const actor = createActor(this.machine, { input: this.turnInput(prompt, traceId), ...(this.inspect ? { inspect: this.inspect } : {}) });
      /** The terminal reply once the machine has emitted it: a defect after it does not change the turn's end. */
      let terminal: Ending | undefined;
      actor.on("replies", ({ replies: batch }) => {
        replies.push(batch.map((reply) => withoutSecrets(reply, this.redact)));
        const last = batch.at(-1);
        if (last?.kind === "final") terminal = { outcome: "final", content: last.content, usage: undefined, ...(last.structured === undefined ? {} : { structured: last.structured }) };
        if (last?.kind === "error") terminal = { outcome: "error", error: last.error, code: last.code, usage: undefined };
      });
      actor.on("session", ({ sessionId }) => {
        // A session this turn created is claimed as soon as anyone could know its id.
        claim ??= claimSession(this.#config.baseUrl, sessionId);
        this.watch.watch(sessionId);
      });
      const finished = toPromise(actor).then(
        (output): { output: TurnOutput } => ({ output }),
        (error: unknown) => ({ error }),
      );
      const onAbort = () => actor.send({ type: "CANCEL" });
      let deadline: NodeJS.Timeout | undefined;
      try {
        // Inside the try: a signal that only looks like one may throw here, and the turn must not stay "running".
        signal?.addEventListener("abort", onAbort, { once: true });
        this.running = { actor, finished };
        if (turnTimeoutMs !== undefined) {
          // The deadline counts from the prompt: a wait for another adapter's turn took from it.
          const left = Math.max(0, turnTimeoutMs - (performance.now() - startedAt));
          deadline = setTimeout(() => {
            actor.send({ type: "CANCEL", failure: { code: "timeout", error: `The turn ran past its deadline of ${turnTimeoutMs} ms and was stopped.` } });
          }, left);
        }
        actor.start();
        actor.send({ type: "START" });
        const ended = await finished;
        if ("output" in ended) {
          const { outcome, content, usage, unusable, structured } = ended.output;
          this.counters.eventsSkipped += unusable;
          if (outcome.kind === "error") return end({ outcome: "error", error: outcome.error, code: outcome.code, usage });
          return end({ outcome: "final", content, usage, ...(structured === undefined ? {} : { structured }) });
        }
        const reason = reasonOf(ended.error);
        if (terminal === undefined) {
          // A defect in the engine itself: still end the turn with one terminal reply.
          return refuse("internal", `Internal error in opencode-turns: ${reason}`);
        }
        this.warn(`opencode-turns: the turn machine failed after the turn ended: ${reason}`);
        return end(terminal);
      } finally {
        this.running = undefined;
        clearTimeout(deadline);
        actor.stop();
        try {
          signal?.removeEventListener("abort", onAbort);
        } catch {
          // The turn is over; a signal that cannot let go of its listener holds only that listener.
        }
      }
    } finally {
      claim?.release();
    }
  }

  /**
   * Waits until the claim's turn has come; says why the turn does not start if the wait was given
   * up first: cancel(), the turn's signal, close(), or its deadline (which counts the wait).
   */
  private async waitForTurn(claim: SessionClaim, signal: AbortSignal | undefined, timeoutMs: number | undefined): Promise<{ code: ErrorCode; error: string } | undefined> {
    const controller = new AbortController();
    let markEnded!: () => void;
    this.waiting = { controller, ended: new Promise<void>((resolve) => (markEnded = resolve)) };
    const giveUp = () => controller.abort();
    let timedOut = false;
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            controller.abort();
          }, timeoutMs);
    try {
      signal?.addEventListener("abort", giveUp, { once: true });
    } catch {
      // A signal that only looks like one is checked once the wait is over.
    }
    try {
      const came = await claim.wait(controller.signal);
      if (this.closed) return { code: "closed", error: "The adapter was closed before the turn started." };
      if (timedOut) return { code: "timeout", error: `The turn waited past its deadline of ${timeoutMs} ms for another turn on its session, and did not start.` };
      if (!came || signal?.aborted) return { code: "aborted", error: "The turn was cancelled before it started." };
      return undefined;
    } finally {
      clearTimeout(timer);
      this.waiting = undefined;
      markEnded();
      try {
        signal?.removeEventListener("abort", giveUp);
      } catch {
        // It holds only giveUp, which does nothing now.
      }
    }
  }

  private turnInput(prompt: TurnPrompt, traceId: string): TurnInput {
    const { sessionTitle, maxProviderRetries, connectTimeoutMs } = this.#config;
    return {
      traceId,
      prompt,
      sessionId: this.sessionId,
      sessionVerified: this.sessionVerified,
      sessionTitle,
      children: this.watch.children,
      maxProviderRetries,
      maxReconnects: MAX_RECONNECTS,
      // opencode has as long to confirm an abort (or that it took the prompt) as to answer a request.
      graceMs: connectTimeoutMs,
    };
  }

  /**
   * Settles with `wait` (its rejection is swallowed: the turns ahead never reject), or once close()
   * is called. Not Promise.race with a promise that settles at close: each race would leave a
   * reaction on it, and with it the turn, for the adapter's whole life.
   */
  private untilClosed(wait: Promise<unknown>): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = () => {
        this.closeWaiters.delete(wake);
        resolve();
      };
      this.closeWaiters.add(wake);
      wait.then(wake, wake);
    });
  }

  /** The last line of defence: prompt() resolves even if the engine itself is broken. */
  private async defect(traceId: string, error: unknown): Promise<TurnResult> {
    const message = this.redact(`Internal error in opencode-turns: ${reasonOf(error)}`);
    this.replies.push([{ kind: "error", trace_id: traceId, error: message, code: "internal" }]);
    await this.untilClosed(this.replies.drained());
    return { trace_id: traceId, outcome: "error", error: message, code: "internal", model_changes: [], duration_ms: 0 };
  }

  private result(traceId: string, startedAt: number, ending: Ending): TurnResult {
    const changes = this.modelChanges.slice(this.reportedChanges);
    this.reportedChanges = this.modelChanges.length;
    const { usage, ...rest } = ending.outcome === "error" ? { ...ending, error: this.redact(ending.error) } : ending;
    return {
      trace_id: traceId,
      ...(this.sessionId ? { session_id: this.sessionId } : {}),
      ...rest,
      ...(usage ? { usage } : {}),
      model_changes: changes,
      duration_ms: Math.round(performance.now() - startedAt),
    };
  }
}
