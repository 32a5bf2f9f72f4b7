import { once } from "node:events";
import { createInterface, type Interface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { z } from "zod";
import { OpenCodeAdapter, type Sink } from "../host/adapter.js";
import { resolveConfig, SessionId, type AdapterConfigInput } from "../host/config.js";
import { PermissionDecision, QuestionDecision, type PermissionMode, type QuestionMode } from "../contract/decisions.js";
import { PermissionAsked, QuestionAsked, type PermissionRequest, type QuestionRequest } from "../opencode/events.js";
import { Attachment } from "../host/prompt.js";
import { ErrorCode, Reply, TurnResult } from "../contract/replies.js";
import { asTurnError } from "../contract/turn-error.js";
import { runSessionOp, SessionOpOutput, SessionOpsRequests, startTurnOp, TurnChoiceFields, type SessionOpRequest, type TurnOpRequest } from "./bridge-session-ops.js";

// The bridge's protocol: one JSON object per line each way. These schemas are its only definition:
// requests are parsed with them, and `bridge --describe` prints them as JSON Schema.

const RequestId = z.string().min(1).describe("The host's id for the request; every line about it carries it back.");
const SessionKey = z
  .string()
  .min(1)
  .describe("Selects an adapter of its own (one opencode session) for this key, created on first use; without it, the bridge's default one.");

export const PromptRequest = z
  .strictObject({
    id: RequestId,
    op: z.literal("prompt"),
    text: z.string(),
    trace_id: z.string().min(1).optional().describe("Carried by every reply of the turn; generated when absent."),
    attachments: z.array(Attachment).optional(),
    session: SessionKey.optional(),
    ...TurnChoiceFields,
  })
  .describe("Runs a turn. Turns of one session run one after another, in the order given.");

export const SessionRequest = z
  .strictObject({
    id: RequestId,
    op: z.literal("session"),
    session: SessionKey.optional(),
    session_id: SessionId.optional().describe("An existing opencode session to bind the key to; without it, the key's session, or a new one."),
  })
  .describe("Makes sure the key has an opencode session (checked, or created) and answers its id.");

export const CancelRequest = z
  .strictObject({ op: z.literal("cancel"), id: RequestId.describe("The id of the prompt to cancel, running or queued.") })
  .describe("Cancels a prompt: it ends with an `aborted` error reply and its result.");

export const AnswerRequest = z
  .strictObject({
    op: z.literal("answer"),
    ask_id: z.string().min(1),
    decision: z.union([PermissionDecision, QuestionDecision]).describe("A permission decision for a permission ask, answers for a question ask."),
  })
  .describe("Decides an ask the bridge sent.");

export const CloseRequest = z
  .strictObject({ id: RequestId, op: z.literal("close") })
  .describe("Ends every turn (with a `closed` error reply and its result) and then the bridge.");

export const BridgeRequest = z.discriminatedUnion("op", [PromptRequest, SessionRequest, CancelRequest, AnswerRequest, CloseRequest, ...SessionOpsRequests]);
export type BridgeRequest = z.infer<typeof BridgeRequest>;

const AskId = z.string().min(1);

export const BridgeOutput = z.union([
  z.strictObject({ id: RequestId, reply: Reply }).describe("A reply of the prompt `id`, in order."),
  z.strictObject({ id: RequestId, result: TurnResult }).describe("The prompt `id` ended: the last line about it."),
  z
    .strictObject({
      id: RequestId,
      ask: z.discriminatedUnion("kind", [
        z.strictObject({ ask_id: AskId, kind: z.literal("permission"), request: PermissionAsked.shape.properties }),
        z.strictObject({ ask_id: AskId, kind: z.literal("question"), request: QuestionAsked.shape.properties }),
      ]),
    })
    .describe("The turn of prompt `id` waits for an `answer` to this ask (with --permissions ask or --questions ask)."),
  z.strictObject({ id: RequestId, session_id: SessionId }).describe("The answer to a `session` request."),
  z.strictObject({ id: RequestId, closed: z.literal(true) }).describe("The answer to `close`: every turn has ended; the bridge exits."),
  z
    .strictObject({ id: RequestId.optional(), ask_id: AskId.optional(), error: z.string(), code: ErrorCode.optional() })
    .describe("A request that was refused (not JSON, invalid, unknown id) or failed; the bridge goes on."),
  ...SessionOpOutput.options,
]);
export type BridgeOutput = z.infer<typeof BridgeOutput>;

/** The protocol as JSON Schema, from the schemas above. */
export function describeProtocol(): { requests: unknown; outputs: unknown } {
  return {
    requests: z.toJSONSchema(BridgeRequest, { io: "input" }),
    outputs: z.toJSONSchema(BridgeOutput, { io: "output" }),
  };
}

export interface BridgeOptions {
  input: Readable;
  output: Writable;
  /** The config of every adapter; its `sessionId` binds the default session. The policies are the bridge's own. */
  config: Omit<AdapterConfigInput, "permissions" | "questions">;
  /** `ask` sends each permission ask to the host and waits for its answer. Default `reject`. */
  permissions?: PermissionMode;
  /** `ask` sends each question to the host and waits for its answer. Default `reject`. */
  questions?: QuestionMode;
  /** An ask not answered within this is rejected, so a turn never waits on a host that forgot it. */
  askTimeoutMs?: number;
  /** Every reply also goes here, in order and awaited (the webhook). */
  sink?: Sink;
  /** Warnings: a throwing sink, an ask that timed out. Never stdout. */
  logger?: Pick<Console, "warn">;
  /** Aborting it ends the bridge as input closing does (the CLI's SIGINT and SIGTERM). */
  signal?: AbortSignal;
}

export const DEFAULT_ASK_TIMEOUT_MS = 60_000;

/** Requests without `session` use this key; a host's key is never empty. */
const DEFAULT_KEY = "";

/** One adapter and the work queued on it: its prompts and session requests run one at a time, in order. */
interface Agent {
  adapter: OpenCodeAdapter;
  tail: Promise<void>;
  /** The prompt whose turn runs now: its replies and asks carry its id. */
  current: string | undefined;
}

interface Flight {
  controller: AbortController;
  asks: Set<string>;
}

type Ask = { kind: "permission"; request: PermissionRequest } | { kind: "question"; request: QuestionRequest };

interface PendingAsk {
  kind: "permission" | "question";
  settle(decision: PermissionDecision | QuestionDecision): void;
}

/**
 * Serves the protocol over `input` and `output` until input ends or a `close` request, then ends
 * every turn and resolves. Throws only a ConfigError, before reading anything.
 */
export function runBridge(options: BridgeOptions): Promise<void> {
  return new Bridge(options).run();
}

class Bridge {
  private readonly agents = new Map<string, Agent>();
  private readonly flights = new Map<string, Flight>();
  private readonly asks = new Map<string, PendingAsk>();
  private readonly logger: Pick<Console, "warn">;
  private readonly askTimeoutMs: number;
  private lines: Interface | undefined;
  private ending: Promise<void> | undefined;
  private writable = true;
  private asksMade = 0;

  constructor(private readonly options: BridgeOptions) {
    this.logger = options.logger ?? console;
    this.askTimeoutMs = options.askTimeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
  }

  async run(): Promise<void> {
    // Every adapter gets this config: a bad one is the caller's error, before any line is read.
    resolveConfig(this.options.config);
    const onOutputError = () => {
      this.writable = false;
      void this.end(undefined);
    };
    const onAbort = () => void this.end(undefined);
    this.options.output.on("error", onOutputError);
    this.options.signal?.addEventListener("abort", onAbort, { once: true });
    this.lines = createInterface({ input: this.options.input, crlfDelay: Infinity });
    if (this.options.signal?.aborted) onAbort();
    try {
      for await (const line of this.lines) {
        if (this.ending) break;
        this.handle(line);
      }
    } finally {
      await this.end(undefined);
      this.options.output.off("error", onOutputError);
      this.options.signal?.removeEventListener("abort", onAbort);
    }
  }

  private handle(line: string): void {
    if (line.trim() === "") return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      void this.write({ error: "The line is not JSON." });
      return;
    }
    const parsed = BridgeRequest.safeParse(raw);
    if (!parsed.success) {
      const id = (raw as { id?: unknown } | null)?.id;
      const issues = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(request)"}: ${issue.message}`).join("; ");
      void this.write({ ...(typeof id === "string" && id.length > 0 ? { id } : {}), error: `Invalid request: ${issues}` });
      return;
    }
    const request = parsed.data;
    switch (request.op) {
      case "prompt":
      case "command":
      case "summarize":
        return this.prompt(request);
      case "history":
      case "fork":
      case "revert":
      case "unrevert":
      case "sessions":
        return this.sessionOp(request);
      case "session":
        return this.session(request);
      case "cancel":
        return this.cancel(request.id);
      case "answer":
        return this.answer(request);
      case "close":
        void this.end(request.id);
    }
  }

  private sessionOp(request: SessionOpRequest): void {
    this.enqueue(this.agentFor(("session" in request && request.session) || DEFAULT_KEY), async (agent) => {
      await this.write(this.ending ? { id: request.id, error: "The bridge is closing.", code: "closed" } : await runSessionOp(agent.adapter, request));
    });
  }

  private prompt(request: z.infer<typeof PromptRequest> | TurnOpRequest): void {
    if (this.flights.has(request.id)) {
      void this.write({ id: request.id, error: "A prompt with this id is still in flight; give each prompt its own id." });
      return;
    }
    const flight: Flight = { controller: new AbortController(), asks: new Set() };
    this.flights.set(request.id, flight);
    this.enqueue(this.agentFor(request.session ?? DEFAULT_KEY), async (agent) => {
      agent.current = request.id;
      let result: TurnResult;
      try {
        if (request.op !== "prompt") result = await startTurnOp(agent.adapter, request, flight.controller.signal);
        else {
          const { id: _id, op: _op, text, trace_id, session: _session, ...options } = request;
          result = await agent.adapter.prompt(text, trace_id, { ...options, signal: flight.controller.signal });
        }
      } finally {
        agent.current = undefined;
        this.flights.delete(request.id);
        for (const askId of flight.asks) this.asks.get(askId)?.settle("reject");
      }
      await this.write({ id: request.id, result });
    });
  }

  private session(request: z.infer<typeof SessionRequest>): void {
    this.enqueue(this.agentFor(request.session ?? DEFAULT_KEY), async (agent) => {
      const closing = () => this.write({ id: request.id, error: "The bridge is closing.", code: "closed" });
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
        return this.write({ id: request.id, error: failure.message, code: failure.code });
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
      return this.write({ id: request.id, session_id: sessionId });
    });
  }

  private cancel(id: string): void {
    const flight = this.flights.get(id);
    if (flight === undefined) {
      void this.write({ id, error: "No prompt with this id is in flight." });
      return;
    }
    flight.controller.abort();
  }

  private answer(request: z.infer<typeof AnswerRequest>): void {
    const ask = this.asks.get(request.ask_id);
    if (ask === undefined) {
      void this.write({ ask_id: request.ask_id, error: "No ask with this id is waiting: it was answered, timed out, or its turn ended." });
      return;
    }
    const decision = (ask.kind === "permission" ? PermissionDecision : QuestionDecision).safeParse(request.decision);
    if (!decision.success) {
      const expected = ask.kind === "permission" ? '"once", "always", "reject" or { reply, message? }' : '"reject" or one list of labels per question';
      void this.write({ ask_id: request.ask_id, error: `A ${ask.kind} ask takes ${expected}; the ask still waits.` });
      return;
    }
    ask.settle(decision.data);
  }

  private agentFor(key: string): Agent {
    const known = this.agents.get(key);
    if (known !== undefined) return known;
    const agent: Agent = {
      adapter: this.createAdapter(() => agent, key === DEFAULT_KEY ? this.options.config.sessionId : undefined),
      tail: Promise.resolve(),
      current: undefined,
    };
    this.agents.set(key, agent);
    return agent;
  }

  /** `agent` is read when a reply or ask comes: it tells which prompt runs. */
  private createAdapter(agent: () => Agent, sessionId: string | undefined): OpenCodeAdapter {
    const { permissions = "reject", questions = "reject" } = this.options;
    const config: AdapterConfigInput = {
      ...this.options.config,
      sessionId,
      permissions: permissions === "ask" ? (request) => this.ask(agent().current, { kind: "permission", request }) : permissions,
      questions: questions === "ask" ? (request) => this.ask(agent().current, { kind: "question", request }) : questions,
    };
    const sink: Sink = async (reply) => {
      const id = agent().current;
      if (id !== undefined) await this.write({ id, reply });
      await this.options.sink?.(reply);
    };
    return new OpenCodeAdapter(config, sink, { logger: this.logger });
  }

  /** Runs `work` after everything queued on the agent before it; a failure is reported, never thrown. */
  private enqueue(agent: Agent, work: (agent: Agent) => Promise<void>): void {
    agent.tail = agent.tail.then(() =>
      work(agent).catch((error: unknown) => this.logger.warn(`opencode-turns bridge: a request failed: ${asTurnError(error).message}`)),
    );
  }

  /** Sends the ask to the host and waits for its answer, at most `askTimeoutMs`; then, or with nobody to ask, rejects. */
  private ask(promptId: string | undefined, ask: { kind: "permission"; request: PermissionRequest }): Promise<PermissionDecision>;
  private ask(promptId: string | undefined, ask: { kind: "question"; request: QuestionRequest }): Promise<QuestionDecision>;
  private ask(promptId: string | undefined, ask: Ask): Promise<PermissionDecision | QuestionDecision> {
    const flight = promptId === undefined ? undefined : this.flights.get(promptId);
    if (promptId === undefined || flight === undefined || !this.writable || this.ending) return Promise.resolve("reject");
    const askId = `ask_${++this.asksMade}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.logger.warn(`opencode-turns bridge: ${askId} (${ask.kind}) had no answer within ${this.askTimeoutMs} ms; rejected.`);
        settle("reject");
      }, this.askTimeoutMs);
      const settle = (decision: PermissionDecision | QuestionDecision) => {
        clearTimeout(timer);
        this.asks.delete(askId);
        flight.asks.delete(askId);
        resolve(decision);
      };
      this.asks.set(askId, { kind: ask.kind, settle });
      flight.asks.add(askId);
      void this.write({ id: promptId, ask: { ask_id: askId, ...ask } });
    });
  }

  /** Ends every turn (running and queued ones end with `closed`), then answers `close` if it was asked for. */
  private end(closeId: string | undefined): Promise<void> {
    this.ending ??= (async () => {
      this.lines?.close();
      for (const ask of this.asks.values()) ask.settle("reject");
      const agents = [...this.agents.values()];
      await Promise.all(agents.map((agent) => agent.adapter.close()));
      await Promise.all(agents.map((agent) => agent.tail));
      if (closeId !== undefined) await this.write({ id: closeId, closed: true });
    })();
    return this.ending;
  }

  /** Writes one line; waits while the reader is behind, so a slow host slows the turn rather than memory. */
  private async write(line: BridgeOutput): Promise<void> {
    if (!this.writable) return;
    const output = this.options.output;
    if (output.write(`${JSON.stringify(line)}\n`)) return;
    const done = new AbortController();
    await Promise.race([once(output, "drain", { signal: done.signal }), once(output, "close", { signal: done.signal })]).catch(() => undefined);
    done.abort();
  }
}
