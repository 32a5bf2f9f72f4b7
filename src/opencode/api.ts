import { z } from "zod";
import type { PermissionReplyBody } from "../contract/decisions.js";
import type { CommandTurn, PromptBody, SummarizeTurn } from "./prompt-body.js";
import type { PermissionRequest, QuestionRequest } from "./events.js";
import { TurnError } from "../contract/turn-error.js";
import type { OpencodeHttp } from "./http.js";

// The opencode endpoints a turn and the session operations use. Answers are parsed loosely: only what is used is checked.

const SessionAnswer = z.looseObject({ id: z.string().min(1) });

/**
 * Checks an answer against what a turn needs from it. An answer of another shape is a server that
 * is not the opencode this library speaks to: said in one sentence, not as a schema dump.
 */
function expectAnswer<T>(schema: z.ZodType<T>, answer: unknown, http: OpencodeHttp, what: string): T {
  const parsed = schema.safeParse(answer);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? "" : ` at ${issue.path.join(".")}`;
  const shown = http.redact(JSON.stringify(answer) ?? "nothing").slice(0, 200);
  throw new TurnError(
    "unreachable",
    `opencode at ${http.origin} answered ${what} with something unexpected (${issue?.message ?? "wrong shape"}${where}): ${shown}; is baseUrl an opencode server of a supported version?`,
  );
}

export async function createSession(http: OpencodeHttp, title: string | undefined, signal?: AbortSignal): Promise<string> {
  const answer = await http.call("POST", "/session", { body: title === undefined ? {} : { title }, signal });
  return expectAnswer(SessionAnswer, answer, http, "POST /session").id;
}

export async function getSession(http: OpencodeHttp, sessionId: string, signal?: AbortSignal): Promise<string> {
  const answer = await http.call("GET", `/session/${encodeURIComponent(sessionId)}`, { sessionId, signal });
  return expectAnswer(SessionAnswer, answer, http, `GET /session/${sessionId}`).id;
}

/** The message a session is reverted to (`revert` set, no prompt since), if it is. */
export async function revertedAt(http: OpencodeHttp, sessionId: string, signal?: AbortSignal): Promise<string | undefined> {
  const answer = await http.call("GET", `/session/${encodeURIComponent(sessionId)}`, { sessionId, signal });
  const session = expectAnswer(z.looseObject({ id: z.string().min(1), revert: z.looseObject({ messageID: z.string() }).nullish() }), answer, http, `GET /session/${sessionId}`);
  return session.revert?.messageID;
}

export async function promptAsync(http: OpencodeHttp, sessionId: string, body: PromptBody, signal?: AbortSignal): Promise<void> {
  await http.call("POST", `/session/${encodeURIComponent(sessionId)}/prompt_async`, { body, sessionId, signal });
}

/**
 * Runs a configured slash command as a turn. opencode answers only once the turn is over (or
 * aborted), so the request waits as long as the turn: its events, not its answer, tell the turn.
 */
export async function runCommand(http: OpencodeHttp, sessionId: string, messageId: string, turn: CommandTurn, signal?: AbortSignal): Promise<void> {
  const { endpoint: _endpoint, ...rest } = turn;
  await http.call("POST", `/session/${encodeURIComponent(sessionId)}/command`, { body: { messageID: messageId, ...rest }, sessionId, signal, waitsForTurn: true });
}

/** Compacts the session (opencode's summary of it), as a turn; answered once the compaction is done. */
export async function summarizeSession(http: OpencodeHttp, sessionId: string, turn: SummarizeTurn, signal?: AbortSignal): Promise<void> {
  const { providerID, modelID } = turn;
  await http.call("POST", `/session/${encodeURIComponent(sessionId)}/summarize`, { body: { providerID, modelID }, sessionId, signal, waitsForTurn: true });
}

/** The slash commands the server knows (configured, built in, from MCP servers and skills). */
export async function listCommands(http: OpencodeHttp, signal?: AbortSignal): Promise<string[]> {
  const answer = await http.call("GET", "/command", { signal });
  return expectAnswer(z.array(z.looseObject({ name: z.string().min(1) })), answer, http, "GET /command").map((command) => command.name);
}

export const SessionListed = z.looseObject({
  id: z.string().min(1),
  title: z.string().optional(),
  parentID: z.string().optional(),
  directory: z.string().optional(),
  time: z.looseObject({ created: z.number().optional(), updated: z.number().optional() }).optional(),
});
export type SessionListed = z.infer<typeof SessionListed>;

/** The server's sessions (of the directory the target names, when it names one). */
export async function listSessions(http: OpencodeHttp, signal?: AbortSignal): Promise<SessionListed[]> {
  return expectAnswer(z.array(SessionListed), await http.call("GET", "/session", { signal }), http, "GET /session");
}

/** A new session with the messages strictly before `messageId` (all of them when left out); its id. */
export async function forkSession(http: OpencodeHttp, sessionId: string, messageId: string | undefined, signal?: AbortSignal): Promise<string> {
  const body = messageId === undefined ? {} : { messageID: messageId };
  const answer = await http.call("POST", `/session/${encodeURIComponent(sessionId)}/fork`, { body, sessionId, signal });
  return expectAnswer(SessionAnswer, answer, http, "POST /session/{id}/fork").id;
}

/** Undoes the session from `messageId` on (its messages go at the next prompt); unrevertSession takes it back. */
export async function revertSession(http: OpencodeHttp, sessionId: string, messageId: string, signal?: AbortSignal): Promise<void> {
  const answer = await http.call("POST", `/session/${encodeURIComponent(sessionId)}/revert`, { body: { messageID: messageId }, sessionId, signal });
  expectAnswer(SessionAnswer, answer, http, "POST /session/{id}/revert");
}

export async function unrevertSession(http: OpencodeHttp, sessionId: string, signal?: AbortSignal): Promise<void> {
  const answer = await http.call("POST", `/session/${encodeURIComponent(sessionId)}/unrevert`, { sessionId, signal });
  expectAnswer(SessionAnswer, answer, http, "POST /session/{id}/unrevert");
}

export async function abortSession(http: OpencodeHttp, sessionId: string, signal?: AbortSignal): Promise<void> {
  await http.call("POST", `/session/${encodeURIComponent(sessionId)}/abort`, { sessionId, signal });
}

/** Where an ask is answered: v1 asks under `/permission` and `/question`, v2 asks under their session in `/api`. */
function askPath(kind: "permission" | "question", request: { id: string; sessionID: string; api?: "v2" }): string {
  const ask = `/${kind}/${encodeURIComponent(request.id)}`;
  return request.api === "v2" ? `/api/session/${encodeURIComponent(request.sessionID)}${ask}` : ask;
}

export async function replyPermission(
  http: OpencodeHttp,
  request: PermissionRequest,
  body: PermissionReplyBody,
  signal?: AbortSignal,
): Promise<void> {
  // 404: the ask was already answered (by another client, or settled by a reject): nothing to do.
  await http.call("POST", `${askPath("permission", request)}/reply`, { body, signal, missingIsFine: true });
}

export async function replyQuestion(http: OpencodeHttp, request: QuestionRequest, answers: string[][], signal?: AbortSignal): Promise<void> {
  await http.call("POST", `${askPath("question", request)}/reply`, { body: { answers }, signal, missingIsFine: true });
}

export async function rejectQuestion(http: OpencodeHttp, request: QuestionRequest, signal?: AbortSignal): Promise<void> {
  await http.call("POST", `${askPath("question", request)}/reject`, { signal, missingIsFine: true });
}

/** The stored truth of a session: every message with its parts. */
export async function listMessages(http: OpencodeHttp, sessionId: string, signal?: AbortSignal): Promise<unknown[]> {
  const answer = await http.call("GET", `/session/${encodeURIComponent(sessionId)}/message`, { sessionId, signal });
  return expectAnswer(z.array(z.unknown()), answer, http, "GET /session/{id}/message");
}

/** Whether a session is idle: `GET /session/status` lists only sessions that are busy or retrying. */
export async function isSessionIdle(http: OpencodeHttp, sessionId: string, signal?: AbortSignal): Promise<boolean> {
  const answer = await http.call("GET", "/session/status", { signal });
  return expectAnswer(z.record(z.string(), z.unknown()), answer ?? {}, http, "GET /session/status")[sessionId] === undefined;
}

/** The sessions the session's subagents run in. */
export async function listChildren(http: OpencodeHttp, sessionId: string, signal?: AbortSignal): Promise<string[]> {
  const answer = await http.call("GET", `/session/${encodeURIComponent(sessionId)}/children`, { sessionId, signal });
  return expectAnswer(z.array(SessionAnswer), answer, http, "GET /session/{id}/children").map((child) => child.id);
}

/** Permission asks waiting for an answer, on every session of the instance. */
export async function listPermissions(http: OpencodeHttp, signal?: AbortSignal): Promise<unknown[]> {
  return expectAnswer(z.array(z.unknown()), await http.call("GET", "/permission", { signal }), http, "GET /permission");
}

const AsksV2Answer = z.looseObject({ data: z.array(z.unknown()) });

/**
 * The v2 asks waiting in one session (1.18's `/doc`: `GET /api/session/{id}/permission` and
 * `/question`, each `{data: [...]}` in the event's shape; the v1 lists are one bare array for the
 * whole instance). A server without them (1.15 answers its web app's page) has none: any failure is
 * no v2 asks, since the v1 lists and the messages read alongside fail loudly for a server that is down.
 */
export async function listAsksV2(http: OpencodeHttp, sessionId: string, signal?: AbortSignal): Promise<{ permissions: unknown[]; questions: unknown[] }> {
  const list = async (kind: "permission" | "question") => {
    try {
      const answer = await http.call("GET", `/api/session/${encodeURIComponent(sessionId)}/${kind}`, { signal, missingIsFine: true });
      return AsksV2Answer.safeParse(answer).data?.data ?? [];
    } catch {
      return [];
    }
  };
  const [permissions, questions] = await Promise.all([list("permission"), list("question")]);
  return { permissions, questions };
}

/** Question asks waiting for an answer, on every session of the instance. */
export async function listQuestions(http: OpencodeHttp, signal?: AbortSignal): Promise<unknown[]> {
  return expectAnswer(z.array(z.unknown()), await http.call("GET", "/question", { signal }), http, "GET /question");
}
