import { OpenCodeAdapter, type Sink } from "../host/adapter.js";
import { resolveConfig, type AdapterConfigInput } from "../host/config.js";
import type { TurnResult } from "../contract/replies.js";
import { asTurnError } from "../contract/turn-error.js";
import { parseRequest, type PromptRequest, type SessionRequest } from "./bridge-protocol.js";
import { NOT_UTF8, OutputLines, readLines } from "./bridge-lines.js";
import { HostAsks } from "./bridge-asks.js";
import { runSessionOp, startTurnOp, type SessionOpRequest, type TurnOpRequest } from "./bridge-session-ops.js";
import { DEFAULT_ASK_TIMEOUT_MS, DEFAULT_IDLE_KEY_MS, DEFAULT_OUTPUT_HIGH_WATER_CHARS, type BridgeOptions } from "./bridge-options.js";
import { StreamHold } from "./bridge-backpressure.js";

export { BridgeOutput, BridgeRequest, describeProtocol } from "./bridge-protocol.js";
export { DEFAULT_ASK_TIMEOUT_MS, DEFAULT_IDLE_KEY_MS, type BridgeOptions } from "./bridge-options.js";

const DEFAULT_KEY = ""; // the key of requests without `session`: a host's key is never empty

/** One adapter and the work queued on it: its prompts and session requests run one at a time, in order. */
interface Agent {
  key: string;
  adapter: OpenCodeAdapter;
  tail: Promise<void>;
  work: number; // requests queued or running: idle at 0
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  current: string | undefined; // the prompt whose turn runs now: its replies and asks carry its id
}

/**
 * Serves the protocol over `input` and `output`. When input ends, the turns asked for run to their
 * end (as a filter's input ending does) and the bridge resolves; a `close` request, `signal`, or an
 * output that is gone ends every turn at once. Throws only a ConfigError, before reading anything.
 */
export function runBridge(options: BridgeOptions): Promise<void> {
  return new Bridge(options).run();
}

class Bridge {
  private readonly agents = new Map<string, Agent>();
  private readonly live = new Set<Agent>(); // every adapter not yet closed (a released key's too): end() closes them
  /** The opencode session of each key whose idle adapter was closed: the key goes on there. */
  private readonly sessionOfIdle = new Map<string, string>();
  /** Each prompt in flight (queued or running), by id: aborting it cancels the prompt. */
  private readonly flights = new Map<string, AbortController>();
  private readonly asks: HostAsks;
  private readonly logger: Pick<Console, "warn">;
  private readonly out: OutputLines;
  private readonly hold: StreamHold;
  private stopReading: (() => void) | undefined;
  private ending: Promise<void> | undefined;
  private endAsked!: () => void;
  private readonly endRequested = new Promise<void>((resolve) => (this.endAsked = resolve));

  constructor(private readonly options: BridgeOptions) {
    this.logger = options.logger ?? console;
    this.hold = new StreamHold(options.config, options.outputHighWaterChars ?? DEFAULT_OUTPUT_HIGH_WATER_CHARS);
    this.out = new OutputLines(options.output, () => void this.end(undefined), this.hold);
    this.asks = new HostAsks((line) => this.out.send(line), options.askTimeoutMs ?? DEFAULT_ASK_TIMEOUT_MS, (message) => this.logger.warn(message));
  }

  async run(): Promise<void> {
    // Every adapter gets this config: a bad one is the caller's error, before any line is read.
    try {
      resolveConfig(this.options.config);
    } catch (error) {
      this.out.detach();
      throw error;
    }
    const onAbort = () => void this.end(undefined);
    this.options.signal?.addEventListener("abort", onAbort, { once: true });
    const inputEnded = new Promise<void>((resolve) => {
      this.stopReading = readLines(this.options.input, (line) => this.handle(line), resolve);
    });
    if (this.options.signal?.aborted) onAbort();
    try {
      await Promise.race([inputEnded, this.endRequested]);
      if (!this.ending) {
        // Nobody can answer an ask any more: the waiting ones and any to come are rejected.
        this.asks.refuse();
        await Promise.race([this.settled(), this.endRequested]);
      }
    } finally {
      await this.end(undefined);
      await this.out.flushed();
      this.out.detach();
      this.options.signal?.removeEventListener("abort", onAbort);
    }
  }

  private handle(line: string | typeof NOT_UTF8): void {
    if (this.ending) return;
    if (line === NOT_UTF8) return this.out.send({ error: "The line is not valid UTF-8." });
    if (line.trim() === "") return;
    const request = parseRequest(line);
    if ("error" in request) return this.out.send(request);
    switch (request.op) {
      case "prompt":
      case "command":
      case "summarize":
        return this.prompt(request);
      case "session":
        return this.session(request);
      case "release":
        return this.release(request.id, request.session);
      case "cancel":
        return this.cancel(request.id);
      case "answer":
        return this.asks.answer(request);
      case "close":
        return void this.end(request.id);
      default:
        return this.sessionOp(request);
    }
  }

  private sessionOp(request: SessionOpRequest): void {
    this.enqueue(this.agentFor(("session" in request && request.session) || DEFAULT_KEY), async (agent) => {
      this.out.send(this.ending ? { id: request.id, error: "The bridge is closing.", code: "closed" } : await runSessionOp(agent.adapter, request));
    });
  }

  private prompt(request: PromptRequest | TurnOpRequest): void {
    if (this.flights.has(request.id)) {
      return this.out.send({ id: request.id, error: "A prompt with this id is still in flight; give each prompt its own id." });
    }
    const flight = new AbortController();
    this.flights.set(request.id, flight);
    this.enqueue(this.agentFor(request.session ?? DEFAULT_KEY), async (agent) => {
      agent.current = request.id;
      let result: TurnResult;
      try {
        if (request.op !== "prompt") result = await startTurnOp(agent.adapter, request, flight.signal);
        else {
          // The rest of the request is the turn's own options: attachments, vocabulary, model, agent...
          const { id: _id, op: _op, text, trace_id, session: _session, ...options } = request;
          result = await agent.adapter.prompt(text, trace_id, { ...options, signal: flight.signal });
        }
      } finally {
        agent.current = undefined;
        this.flights.delete(request.id);
        this.asks.endPrompt(request.id);
      }
      this.out.send({ id: request.id, result });
    });
  }

  private session(request: SessionRequest): void {
    this.enqueue(this.agentFor(request.session ?? DEFAULT_KEY), async (agent) => {
      const closing = () => this.out.send({ id: request.id, error: "The bridge is closing.", code: "closed" });
      if (this.ending) return closing();
      // Binding the key to another session: an adapter of that session, which replaces the key's once
      // the session is known to exist. Nothing runs on the old one: the agent's work is serialized and this is it.
      const bound = request.session_id;
      const adapter = bound === undefined || bound === agent.adapter.sessionId ? agent.adapter : this.createAdapter(() => agent, bound);
      let sessionId: string;
      try {
        sessionId = await adapter.ensureSession();
      } catch (error) {
        if (adapter !== agent.adapter) await adapter.close();
        if (this.ending) return closing();
        const failure = asTurnError(error);
        return this.out.send({ id: request.id, error: failure.message, code: failure.code });
      }
      if (adapter !== agent.adapter) {
        // end() closed the adapters it knew of; this one it did not.
        if (this.ending) {
          await adapter.close();
          return closing();
        }
        const old = agent.adapter;
        agent.adapter = adapter;
        await old.close();
      }
      if (this.ending) return closing();
      this.out.send({ id: request.id, session_id: sessionId });
    });
  }

  /** The key is forgotten now (a later request starts afresh); its adapter closes after its queued work. */
  private release(id: string, key: string): void {
    this.sessionOfIdle.delete(key);
    const agent = this.agents.get(key);
    if (agent === undefined) return this.out.send({ id, released: true });
    this.agents.delete(key);
    this.enqueue(agent, async () => {
      await this.retire(agent);
      this.out.send({ id, released: true });
    });
  }

  private cancel(id: string): void {
    const flight = this.flights.get(id);
    if (flight === undefined) return this.out.send({ id, error: "No prompt with this id is in flight." });
    flight.abort();
  }

  private agentFor(key: string): Agent {
    const known = this.agents.get(key);
    if (known !== undefined) return known;
    const sessionId = key === DEFAULT_KEY ? this.options.config.sessionId : this.sessionOfIdle.get(key);
    this.sessionOfIdle.delete(key);
    const agent: Agent = { key, adapter: this.createAdapter(() => agent, sessionId), tail: Promise.resolve(), work: 0, idleTimer: undefined, current: undefined };
    this.agents.set(key, agent);
    this.live.add(agent);
    return agent;
  }

  /** `agent` is read when a reply or ask comes: it tells which prompt runs. */
  private createAdapter(agent: () => Agent, sessionId: string | undefined): OpenCodeAdapter {
    const { permissions = "reject", questions = "reject" } = this.options;
    const config: AdapterConfigInput = {
      ...this.options.config,
      sessionId,
      permissions:
        permissions === "ask" ? (request) => (this.canAsk(agent().current) ? this.asks.ask(agent().current!, { kind: "permission", request }) : "reject") : permissions,
      questions: questions === "ask" ? (request) => (this.canAsk(agent().current) ? this.asks.ask(agent().current!, { kind: "question", request }) : "reject") : questions,
    };
    const sink: Sink = async (reply) => {
      const id = agent().current;
      if (id !== undefined) this.out.send({ id, reply });
      await this.options.sink?.(reply);
    };
    return new OpenCodeAdapter(config, sink, { logger: this.logger });
  }

  /** Runs `work` after everything queued on the agent before it; a failure is reported, never thrown. */
  private enqueue(agent: Agent, work: (agent: Agent) => Promise<void>): void {
    agent.work++;
    clearTimeout(agent.idleTimer);
    agent.tail = agent.tail.then(async () => {
      await work(agent).catch((error: unknown) => this.logger.warn(`opencode-turns bridge: a request failed: ${asTurnError(error).message}`));
      if (--agent.work === 0 && !this.ending) this.whenIdle(agent);
    });
  }

  /** An idle key's adapter (not the default one's) is closed after `idleKeyMs`; the key keeps its session. */
  private whenIdle(agent: Agent): void {
    if (agent.key === DEFAULT_KEY || this.agents.get(agent.key) !== agent) return;
    agent.idleTimer = setTimeout(() => {
      if (agent.work > 0 || this.agents.get(agent.key) !== agent) return;
      this.agents.delete(agent.key);
      const sessionId = agent.adapter.sessionId;
      if (sessionId !== undefined) this.sessionOfIdle.set(agent.key, sessionId);
      void this.retire(agent);
    }, this.options.idleKeyMs ?? DEFAULT_IDLE_KEY_MS).unref();
  }

  private async retire(agent: Agent): Promise<void> {
    clearTimeout(agent.idleTimer);
    this.live.delete(agent);
    await agent.adapter.close();
  }

  /** Resolves once every agent has run all its work, including work queued while waiting. */
  private async settled(): Promise<void> {
    for (;;) {
      const tails = [...this.live].map((agent) => agent.tail);
      await Promise.all(tails);
      if ([...this.live].every((agent, i) => agent.tail === tails[i] && agent.work === 0)) return;
    }
  }

  /** Whether the host can decide an ask of the prompt `promptId`: it runs, and the host is still there. */
  private canAsk(promptId: string | undefined): promptId is string {
    return promptId !== undefined && this.flights.has(promptId) && this.out.open && !this.ending;
  }

  /** Ends every turn at once (running and queued ones end with `closed`), then answers `close` if it was asked for. */
  private end(closeId: string | undefined): Promise<void> {
    this.ending ??= (async () => {
      this.endAsked();
      this.stopReading?.();
      this.asks.refuse();
      const agents = [...this.live];
      for (const agent of agents) clearTimeout(agent.idleTimer);
      await Promise.all(agents.map((agent) => agent.adapter.close()));
      await Promise.all(agents.map((agent) => agent.tail));
      await this.hold.close();
      this.live.clear();
      if (closeId !== undefined) this.out.send({ id: closeId, closed: true });
    })();
    return this.ending;
  }
}
