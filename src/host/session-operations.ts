import { z } from "zod";
import { childSessionsOf, replayHistory, SUBAGENT_DEPTH, type StoredTurn } from "../codec/history.js";
import { withoutSecrets } from "../contract/redact.js";
import { asTurnError, TurnError } from "../contract/turn-error.js";
import * as api from "../opencode/api.js";
import { StoredMessage } from "../opencode/events.js";
import type { OpencodeHttp } from "../opencode/http.js";
import type { CommandTurn, SummarizeTurn, TurnPrompt } from "../opencode/prompt-body.js";
import { checkPromptOptions, toFilePart, type CheckedPromptOptions } from "./prompt.js";
import type { ResolvedConfig } from "./config.js";
import type { Failure } from "../codec/state.js";
import { Vocabulary } from "../contract/replies.js";
import type { TurnQueue } from "./turn-queue.js";
import { calledFromInside } from "./host-calls.js";

// The session operations an adapter offers besides prompting: the turns that start from another
// endpoint (a slash command, a compaction), and the calls that read or reshape the session.

export type { StoredTurn };

/** One of the server's sessions, as `sessions()` lists it. */
export const SessionSummary = z.strictObject({
  session_id: z.string(),
  title: z.string(),
  parent_id: z.string().optional(),
  directory: z.string().optional(),
  created: z.number().optional(),
  updated: z.number().optional(),
});
export type SessionSummary = z.infer<typeof SessionSummary>;

/** What a turn starts from: a prompt's text, a slash command, or a compaction of the session. */
export type TurnStart = { kind: "prompt"; text: string } | { kind: "command"; name: string; arguments: string } | { kind: "summarize" };

/** The adapter's configured defaults a turn's own choices override. */
export interface TurnDefaults {
  providerID?: string | undefined;
  modelID?: string | undefined;
  agent?: string | undefined;
  system?: string | undefined;
}

/** What is sent to opencode for a turn, or why it cannot be sent (a sentence for a `bad_request`). */
export function turnPromptOf(start: TurnStart, { attachments, choices }: CheckedPromptOptions, defaults: TurnDefaults): TurnPrompt | { refusal: string } {
  const model = choices.model ?? (defaults.providerID && defaults.modelID ? { providerID: defaults.providerID, modelID: defaults.modelID } : undefined);
  const agent = choices.agent ?? defaults.agent;
  if (start.kind === "summarize") {
    if (model === undefined) return { refusal: "summarize() needs the model that writes the summary: pass options.model, or configure providerID and modelID." };
    const turn: SummarizeTurn = { endpoint: "summarize", ...model };
    return turn;
  }
  if (start.kind === "command") {
    const unsupported = (["system", "tools", "format"] as const).filter((key) => choices[key] !== undefined);
    if (unsupported.length > 0) return { refusal: `A slash command takes no ${unsupported.join(", ")}: opencode's command endpoint has no such field.` };
    const turn: CommandTurn = {
      endpoint: "command",
      command: start.name,
      arguments: start.arguments,
      ...(agent ? { agent } : {}),
      ...(model ? { model: `${model.providerID}/${model.modelID}` } : {}),
      ...(choices.variant ? { variant: choices.variant } : {}),
      ...(attachments.length > 0 ? { parts: attachments.map(toFilePart) } : {}),
    };
    return turn;
  }
  const system = choices.system ?? defaults.system;
  return {
    parts: [{ type: "text", text: start.text }, ...attachments.map(toFilePart)],
    ...(model ? { model } : {}),
    ...(agent ? { agent } : {}),
    ...(system ? { system } : {}),
    ...(choices.variant ? { variant: choices.variant } : {}),
    ...(choices.tools ? { tools: choices.tools } : {}),
    ...(choices.format ? { format: { type: "json_schema", schema: choices.format } } : {}),
  };
}

/** A slash command's name as opencode knows it: without the slash a chat box puts in front. */
export function commandName(name: unknown): string | { refusal: string } {
  if (typeof name !== "string" || name.replace(/^\//, "").trim() === "") return { refusal: "command() needs the name of a slash command, such as \"review\"." };
  return name.replace(/^\//, "").trim();
}

/**
 * The session's stored turns, replayed as replies. Idle is read before the messages: if it was idle
 * then, the messages read after are complete. In the full vocabulary the sessions its subagents ran
 * in are read too, so their work is replayed under their task calls. The texts the library writes
 * go without the password. A reverted session's turns from the revert's message on are left out.
 */
export async function readHistory(http: OpencodeHttp, sessionId: string, vocabulary: Vocabulary, signal: AbortSignal): Promise<StoredTurn[]> {
  const idle = await api.isSessionIdle(http, sessionId, signal);
  const reverted = await api.revertedAt(http, sessionId, signal);
  const listed = await api.listMessages(http, sessionId, signal);
  // opencode keeps reverted messages until the next prompt (so unrevert can bring them back): they are not the conversation.
  const cut = reverted === undefined ? -1 : listed.findIndex((message) => StoredMessage.safeParse(message).data?.info.id === reverted);
  const messages = cut < 0 ? listed : listed.slice(0, cut);
  const children = vocabulary === "full" ? await readChildren(http, messages, signal) : new Map<string, unknown[]>();
  return replayHistory(sessionId, messages, idle, vocabulary, children).map((turn) => ({ ...turn, replies: turn.replies.map((reply) => withoutSecrets(reply, http.redact)) }));
}

/**
 * The stored messages of the sessions the task calls in `messages` ran in, and of theirs, level by
 * level. A child opencode no longer has is left out: its call is replayed without the subagent's work.
 */
async function readChildren(http: OpencodeHttp, messages: readonly unknown[], signal: AbortSignal): Promise<Map<string, unknown[]>> {
  const children = new Map<string, unknown[]>();
  let next = childSessionsOf(messages);
  for (let depth = 0; depth < SUBAGENT_DEPTH && next.length > 0; depth++) {
    const level = [...new Set(next)].filter((id) => !children.has(id));
    const read = await Promise.all(level.map(async (id) => [id, await childMessages(http, id, signal)] as const));
    next = [];
    for (const [id, stored] of read) {
      if (stored === undefined) continue;
      children.set(id, stored);
      next.push(...childSessionsOf(stored));
    }
  }
  return children;
}

async function childMessages(http: OpencodeHttp, sessionId: string, signal: AbortSignal): Promise<unknown[] | undefined> {
  try {
    return await api.listMessages(http, sessionId, signal);
  } catch (error) {
    if (asTurnError(error).code === "session_not_found") return undefined;
    throw error;
  }
}

export async function listSessions(http: OpencodeHttp, signal: AbortSignal): Promise<SessionSummary[]> {
  return (await api.listSessions(http, signal)).map((session) => ({
    session_id: session.id,
    title: session.title ?? "",
    ...(session.parentID ? { parent_id: session.parentID } : {}),
    ...(session.directory ? { directory: session.directory } : {}),
    ...(session.time?.created !== undefined ? { created: session.time.created } : {}),
    ...(session.time?.updated !== undefined ? { updated: session.time.updated } : {}),
  }));
}

/** A message id as opencode makes them, checked before it is put in a request. */
export function messageIdOf(what: string, messageId: unknown, optional: boolean): string | undefined {
  if (messageId === undefined && optional) return undefined;
  if (typeof messageId !== "string" || !/^msg_[\w-]+$/.test(messageId)) {
    throw new TurnError("bad_request", `${what} needs a message id of the session (msg_…), as history() gives them${optional ? ", or none" : ""}.`);
  }
  return messageId;
}

async function hasMessage(http: OpencodeHttp, sessionId: string, messageId: string, signal: AbortSignal): Promise<boolean> {
  const messages = await api.listMessages(http, sessionId, signal);
  return messages.some((message) => StoredMessage.safeParse(message).data?.info.id === messageId);
}

/** A turn ready to run: what opencode is sent, the turn's signal, and its reply vocabulary. */
export interface PreparedTurn {
  prompt: TurnPrompt;
  signal: AbortSignal | undefined;
  vocabulary: Vocabulary;
}

/** Checks a turn's start and options against the config before anything is sent: the turn, or why it cannot start. */
export function prepareTurn(start: TurnStart, options: unknown, config: ResolvedConfig): PreparedTurn | Failure {
  const checked = checkPromptOptions(options, { schemes: config.attachmentSchemes, types: config.attachmentTypes });
  if ("refusal" in checked) return { code: "bad_request", error: checked.refusal };
  // The config's vocabulary was checked with the config: only a turn's own is checked here.
  const own = (options as { vocabulary?: unknown } | null)?.vocabulary;
  const vocabulary = own === undefined || own === null ? { success: true as const, data: config.vocabulary } : Vocabulary.safeParse(own);
  if (!vocabulary.success) return { code: "bad_request", error: `options.vocabulary must be "core" or "full".` };
  const prompt = turnPromptOf(start, checked, config);
  if ("refusal" in prompt) return { code: "bad_request", error: prompt.refusal };
  if (checked.signal?.aborted) return { code: "aborted", error: "The turn was cancelled before it started." };
  return { prompt, signal: checked.signal, vocabulary: vocabulary.data };
}

/** What the session operations need of their adapter. */
export interface OperationHost {
  http: OpencodeHttp;
  turns: TurnQueue;
  sessionId(): string | undefined;
  /** A call from inside the adapter's sink or policy, which would wait for itself. */
  insideHostCall(): boolean;
  redact(text: string): string;
}

/**
 * The calls that find, read or reshape the session (`ensureSession`, `history`, `fork`, `revert`,
 * `unrevert`, `sessions`),
 * each run in call order with the turns: after the ones queued before it, before the ones after.
 * They reject with a `TurnError` (its text without the password), like ensureSession().
 */
export class SessionOperations {
  constructor(private readonly host: OperationHost) {}

  /** The session's id once `establish` has found or created it. */
  ensureSession(establish: (signal: AbortSignal) => Promise<string>): Promise<string> {
    return this.operate("ensureSession()", false, (_sessionId, signal) => establish(signal));
  }

  history(vocabulary: Vocabulary): Promise<StoredTurn[]> {
    return this.operate("history()", false, (sessionId, signal) => (sessionId === undefined ? Promise.resolve([]) : readHistory(this.host.http, sessionId, vocabulary, signal)));
  }

  fork(messageId?: string): Promise<string> {
    return this.operate("fork()", true, (sessionId, signal) => api.forkSession(this.host.http, sessionId!, messageIdOf("fork()", messageId, true), signal));
  }

  revert(messageId: string): Promise<void> {
    return this.operate("revert()", true, async (sessionId, signal) => {
      const id = messageIdOf("revert()", messageId, false)!;
      // opencode takes a revert to a message it does not have and does nothing: say so instead.
      if (!(await hasMessage(this.host.http, sessionId!, id, signal))) {
        throw new TurnError("bad_request", `revert() needs a message of session ${sessionId}: it has no message ${id} (history() gives each turn's).`);
      }
      await api.revertSession(this.host.http, sessionId!, id, signal);
    });
  }

  unrevert(): Promise<void> {
    return this.operate("unrevert()", true, (sessionId, signal) => api.unrevertSession(this.host.http, sessionId!, signal));
  }

  sessions(): Promise<SessionSummary[]> {
    return this.operate("sessions()", false, (_sessionId, signal) => listSessions(this.host.http, signal));
  }

  private operate<T>(what: string, needsSession: boolean, run: (sessionId: string | undefined, signal: AbortSignal) => Promise<T>): Promise<T> {
    const { turns, redact } = this.host;
    if (turns.closed) return Promise.reject(new TurnError("closed", `The adapter is closed; ${what} needs an open one.`));
    if (this.host.insideHostCall()) {
      return Promise.reject(new TurnError("bad_request", calledFromInside(what)));
    }
    return turns.enqueue(async () => {
      if (turns.closed) throw new TurnError("closed", `The adapter was closed before ${what} ran.`);
      const sessionId = this.host.sessionId();
      if (needsSession && sessionId === undefined) throw new TurnError("session_not_found", `${what} needs a session: the adapter has none yet (prompt first, or configure sessionId).`);
      // close() does not wait for a server that is slow to answer.
      const abandon = new AbortController();
      const forget = turns.onClose(() => abandon.abort());
      try {
        const done = await run(sessionId, abandon.signal);
        if (turns.closed) throw new TurnError("closed", `The adapter was closed during ${what}.`);
        return done;
      } catch (error) {
        if (turns.closed) throw new TurnError("closed", `The adapter was closed during ${what}.`);
        const failure = asTurnError(error);
        throw new TurnError(failure.code, redact(failure.message), failure.status);
      } finally {
        forget();
      }
    });
  }
}
