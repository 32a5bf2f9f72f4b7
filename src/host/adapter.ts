import { randomUUID } from "node:crypto";
import type { InspectionEvent, Observer } from "xstate";
import type { TurnMachine } from "../../machines/turn.machine.js";
import { acquireHubFor, resolveConfig, type AdapterConfigInput, type ResolvedConfig } from "./config.js";
import { calledFromInside, insideHostCall } from "./host-calls.js";
import { hostPolicies } from "./policies.js";
import { promptArgumentsRefusal, type Attachment, type TurnChoices } from "./prompt.js";
import { commandName, prepareTurn, SessionOperations, type SessionSummary, type StoredTurn, type TurnStart } from "./session-operations.js";
import { passwordRedactable, redactedObserver, WEAK_PASSWORD_WARNING, withoutSecrets } from "../contract/redact.js";
import type { ErrorCode, ModelChange, Reply, TurnResult, Vocabulary } from "../contract/replies.js";
import { ReplyQueue, type Sink } from "./reply-queue.js";
import { claimSession, type SessionClaim } from "./session-claims.js";
import { SessionWait } from "./session-wait.js";
import { TurnQueue } from "./turn-queue.js";
import { failedWith, refusedResult, turnInput, turnResult, type Told } from "./turn-result.js";
import { SessionWatch } from "./session-watch.js";
import type { EventHub } from "../opencode/event-hub.js";
import { abandonTurn, findOrCreateSession, MAX_RECONNECTS, provideTurnMachine } from "../engine/turn-actors.js";
import { startTurn, type StartedTurn } from "../engine/turn-runner.js";
import { reasonOf } from "../contract/turn-error.js";
import { safeWarn, type Warn } from "./warnings.js";

export type { Sink };

/** A turn's options: its files, its vocabulary, its signal, and its own model, agent, variant, system, tools and format. */
export interface PromptOptions extends TurnChoices {
  attachments?: Attachment[];
  /** This turn's reply vocabulary, over the config's `vocabulary`. */
  vocabulary?: Vocabulary;
  /** Aborting it cancels this turn (or, if it is still queued, ends it before it starts). */
  signal?: AbortSignal;
}

export interface AdapterOptions {
  /** Where a throwing sink or a failing policy is reported. A logger that throws is ignored. */
  logger?: Pick<Console, "warn">;
  /** XState's inspection observer, given to every turn actor (the Stately inspector, `--inspect-log`). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
}

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
  /** Turns in call order; close() cuts every wait short: from then on no result waits for the sink or a turn ahead. */
  private readonly turns = new TurnQueue();
  private readonly inspect: AdapterOptions["inspect"];
  private readonly watch: SessionWatch;
  /** The turn machine with this adapter's actors, provided once. */
  private readonly machine: TurnMachine;
  /** Turns never overlap on an adapter, so there is at most one. */
  private running: StartedTurn | undefined;
  private readonly sessionWait = new SessionWait(() => this.closed);
  private readonly operations: SessionOperations;
  private readonly counters = { eventsSkipped: 0 };
  private closing: Promise<void> | undefined;

  constructor(
    config: AdapterConfigInput,
    private readonly sink: Sink,
    options: AdapterOptions = {},
  ) {
    this.#config = resolveConfig(config);
    const { password, providerID, modelID } = this.#config;
    const lease = acquireHubFor(this.#config);
    this.hub = lease.hub;
    this.releaseHub = lease.release;
    this.redact = this.hub.http.redact;
    this.warn = safeWarn(options.logger ?? console, this.redact);
    if (password !== undefined && password !== "" && !passwordRedactable(password)) this.warn(WEAK_PASSWORD_WARNING);
    // What an observer writes out (a recording, an inspection log, the live inspector) is redacted as the replies are, and more.
    this.inspect = redactedObserver(options.inspect, this.redact);
    this.replies = new ReplyQueue(sink, this.warn, this);
    const baseline = providerID && modelID ? { id: modelID, providerID } : undefined;
    // Between turns nobody else reopens the stream; one try keeps the watch going (a turn retries on its own).
    this.watch = new SessionWatch(this.hub, baseline, () => {
      if (!this.closed && this.running === undefined) this.hub.connect().catch(() => undefined);
    });
    const { http } = this.hub;
    this.operations = new SessionOperations({ http, turns: this.turns, sessionId: () => this.sessionId, insideHostCall: () => insideHostCall(this), redact: this.redact });
    this.machine = provideTurnMachine({ hub: this.hub, ...hostPolicies(this, this.#config, this.warn) });
  }

  private get closed(): boolean {
    return this.turns.closed;
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
    return this.operations.ensureSession(async (signal) => {
      const input = { sessionId: this.sessionId, verified: this.sessionVerified, title: this.#config.sessionTitle };
      const sessionId = await findOrCreateSession(this.hub.http, input, signal);
      // As a turn does with the session it found or created: the adapter follows it from now on, on an
      // open stream, so the watch sees its model changes (a stream that does not open is the next turn's to report).
      if (!this.closed) this.watch.watch(sessionId);
      await this.hub.connect().catch(() => undefined);
      return sessionId;
    });
  }

  /** Every model change seen on the session, also between turns, for the host to reconcile. */
  get modelChanges(): ModelChange[] {
    return this.watch.modelChanges;
  }

  prompt(text: string, traceId?: string, options: PromptOptions = {}): Promise<TurnResult> {
    return this.startTurn({ kind: "prompt", text }, traceId, options, promptArgumentsRefusal(text, traceId));
  }

  /**
   * Runs a slash command configured in opencode (`name` without the slash, `args` its arguments) as
   * a turn: the same replies and result as a prompt. Its options are a prompt's less system, tools
   * and format, which opencode's command endpoint does not take.
   */
  command(name: string, args = "", traceId?: string, options: PromptOptions = {}): Promise<TurnResult> {
    const checked = commandName(name);
    if (typeof checked !== "string") return this.startTurn({ kind: "command", name: String(name), arguments: "" }, traceId, options, checked.refusal);
    return this.startTurn({ kind: "command", name: checked, arguments: String(args) }, traceId, options, promptArgumentsRefusal("", traceId));
  }

  /** Compacts the session (opencode writes a summary of it) as a turn: the summary is its answer. */
  summarize(traceId?: string, options: PromptOptions = {}): Promise<TurnResult> {
    return this.startTurn({ kind: "summarize" }, traceId, options, promptArgumentsRefusal("", traceId));
  }

  /** The session's stored turns, each as a live turn would have replied, keyed by its user message; none before the first turn. */
  history({ vocabulary = this.#config.vocabulary }: { vocabulary?: Vocabulary } = {}): Promise<StoredTurn[]> {
    return this.operations.history(vocabulary);
  }

  /** A new session with this one's messages before `messageId` (all when left out): its id, for a new adapter. */
  fork(messageId?: string): Promise<string> {
    return this.operations.fork(messageId);
  }

  /** Undoes the session from `messageId` on (opencode drops those messages at the next prompt, unless unrevert() comes first). */
  revert(messageId: string): Promise<void> {
    return this.operations.revert(messageId);
  }

  unrevert(): Promise<void> {
    return this.operations.unrevert();
  }

  /** The server's sessions (of the configured directory, when there is one). */
  sessions(): Promise<SessionSummary[]> {
    return this.operations.sessions();
  }

  private startTurn(start: TurnStart, traceId: string | undefined, options: PromptOptions, wrong: string | undefined): Promise<TurnResult> {
    const trace = typeof traceId === "string" && traceId !== "" ? traceId : randomUUID();
    if (wrong !== undefined) return this.refuseAtOnce(trace, "bad_request", wrong);
    if (this.closed) return this.refuseAtOnce(trace, "closed", "The adapter is closed; create a new one to prompt again.");
    // Awaited there, this turn would wait for the sink or policy call, and that call for this turn.
    if (insideHostCall(this)) return this.refuseAtOnce(trace, "bad_request", calledFromInside("prompt()"));
    // Once closed, queued turns stop waiting for the one before (its sink may never settle) and end `closed`.
    return this.turns.enqueueTurn((cancelled) => this.runTurn(start, trace, options, cancelled).catch((error: unknown) => this.defect(trace, error)));
  }

  /** Ends a prompt at once, without running it: its error reply reaches the sink after the replies of the turns before it. */
  private refuseAtOnce(traceId: string, code: ErrorCode, error: string): Promise<TurnResult> {
    const reply: Reply = { kind: "error", trace_id: traceId, error, code };
    if (this.turns.idle) this.replies.push([reply]);
    else void this.turns.enqueue(async () => this.replies.push([reply]));
    // Model changes are left for the turn that runs: this one may be refused in the middle of it.
    return Promise.resolve(refusedResult(traceId, this.sessionId, { code, error }));
  }

  /** Events that could not be used: frames that were not JSON (the shared stream's count) and events with missing fields. */
  get stats(): { framesMalformed: number; eventsSkipped: number } {
    return { framesMalformed: this.hub.stats.malformed, eventsSkipped: this.counters.eventsSkipped };
  }

  /** Cancels the running turn, if any, and resolves once it has ended. */
  async cancel(): Promise<void> {
    const waited = await this.sessionWait.cancel();
    const running = this.running;
    if (running !== undefined) {
      running.actor.send({ type: "CANCEL" });
      await running.settled;
      return;
    }
    // prompt() returned, but its turn begins on a later tick: that turn is the one cancelled.
    if (!waited) await this.turns.cancelNext();
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
    this.turns.close();
    void this.sessionWait.cancel();
    const running = this.running;
    if (running !== undefined) {
      running.actor.send({ type: "CANCEL", failure: { code: "closed", error: "The adapter was closed during the turn." } });
      await running.settled;
    }
    this.watch.stop();
    await this.releaseHub();
  }

  private async runTurn(start: TurnStart, traceId: string, options: PromptOptions, cancelled: boolean): Promise<TurnResult> {
    const startedAt = performance.now();
    const replies = this.replies;
    const end = async (told: Told): Promise<TurnResult> => {
      // The result waits for the sink to take the turn's replies, unless the adapter is closed: a sink
      // that never settles must not hold a closed adapter's prompts.
      await this.turns.untilClosed(replies.drained());
      return turnResult(told, { traceId, sessionId: this.sessionId, startedAt, modelChanges: this.watch.unreportedChanges(), redact: this.redact });
    };
    const refuse = (code: ErrorCode, error: string): Promise<TurnResult> => {
      replies.push([{ kind: "error", trace_id: traceId, error, code }]);
      return end(failedWith({ code, error }));
    };
    if (this.closed) return refuse("closed", "The adapter is closed; create a new one to prompt again.");
    if (cancelled) return refuse("aborted", "The turn was cancelled before it started.");
    const prepared = prepareTurn(start, options, this.#config);
    if ("code" in prepared) return refuse(prepared.code, prepared.error);
    const { prompt, signal, vocabulary } = prepared;

    // Another adapter of this process may be running a turn on this session: this one waits for it
    // (a free claim has nothing to wait for: the turn starts in this tick, with no wait to set up).
    const { turnTimeoutMs } = this.#config;
    let claim: SessionClaim | undefined = this.sessionId === undefined ? undefined : claimSession(this.#config.baseUrl, this.sessionId);
    try {
      if (claim !== undefined && !claim.free) {
        const gaveUp = await this.sessionWait.wait(claim, signal, turnTimeoutMs);
        if (gaveUp !== undefined) return refuse(gaveUp.code, gaveUp.error);
      }

      const session = { sessionId: this.sessionId, sessionVerified: this.sessionVerified, children: this.watch.children };
      const input = { ...turnInput(this.#config, { prompt, traceId, maxReconnects: MAX_RECONNECTS, vocabulary }, session), turnTimeoutMs, waitedMs: performance.now() - startedAt };
      const turn = startTurn(this.machine, {
        input,
        signal,
        inspect: this.inspect,
        onReplies: (batch) => replies.push(batch.map((reply) => withoutSecrets(reply, this.redact))),
        onSession: (sessionId) => {
          // A session this turn created is claimed as soon as anyone could know its id.
          claim ??= claimSession(this.#config.baseUrl, sessionId);
          this.watch.watch(sessionId);
        },
        onOrphaned: (sessionId) => abandonTurn(this.hub.http, sessionId),
      });
      this.running = turn;
      try {
        const { output, defect } = await turn.run();
        // A defect in the engine itself before the turn's end: still end the turn with one terminal reply.
        if (output === undefined) return refuse("internal", `Internal error in opencode-turns: ${defect}`);
        if (defect !== undefined) this.warn(`opencode-turns: the turn machine failed after the turn ended: ${defect}`);
        this.counters.eventsSkipped += output.unusable;
        return end(output);
      } finally {
        this.running = undefined;
      }
    } finally {
      claim?.release();
    }
  }

  /** The last line of defence: prompt() resolves even if the engine itself is broken. */
  private async defect(traceId: string, error: unknown): Promise<TurnResult> {
    const message = this.redact(`Internal error in opencode-turns: ${reasonOf(error)}`);
    this.replies.push([{ kind: "error", trace_id: traceId, error: message, code: "internal" }]);
    await this.turns.untilClosed(this.replies.drained());
    return refusedResult(traceId, undefined, { code: "internal", error: message });
  }
}
