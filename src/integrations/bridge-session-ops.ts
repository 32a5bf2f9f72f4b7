import { z } from "zod";
import type { OpenCodeAdapter } from "../host/adapter.js";
import { Attachment, TurnChoices } from "../host/prompt.js";
import { SessionSummary } from "../host/session-operations.js";
import { ErrorCode, Reply, type TurnResult, Vocabulary } from "../contract/replies.js";
import { asTurnError } from "../contract/turn-error.js";

// The bridge's session operations: the requests beyond `prompt`, and the lines that answer them.
// A command and a summarize run as turns (replies, asks and a result, as a prompt); the others
// answer with one line.

const RequestId = z.string().min(1);
const SessionKey = z.string().min(1).describe("The adapter (one opencode session) to use, as for `prompt`.");
const TraceId = z.string().min(1).optional().describe("Carried by every reply of the turn; generated when absent.");
const MessageId = z.string().regex(/^msg_/).describe("A message id of the session, as `history` gives them.");

/** A turn's own choices, added to `prompt`. */
export const TurnChoiceFields = TurnChoices.shape;
/** What of them a slash command takes: opencode's command endpoint has no system, tools or format. */
const CommandChoiceFields = TurnChoices.omit({ system: true, tools: true, format: true }).shape;

export const CommandRequest = z
  .strictObject({
    id: RequestId,
    op: z.literal("command"),
    name: z.string().min(1).describe("A slash command configured in opencode, without the slash."),
    arguments: z.string().optional(),
    trace_id: TraceId,
    attachments: z.array(Attachment).optional(),
    session: SessionKey.optional(),
    ...CommandChoiceFields,
  })
  .describe("Runs a slash command as a turn: replies, asks and a result, as a prompt.");

export const SummarizeRequest = z
  .strictObject({ id: RequestId, op: z.literal("summarize"), trace_id: TraceId, session: SessionKey.optional(), model: TurnChoiceFields.model })
  .describe("Compacts the session as a turn whose answer is opencode's summary.");

export const HistoryRequest = z
  .strictObject({
    id: RequestId,
    op: z.literal("history"),
    session: SessionKey.optional(),
    vocabulary: Vocabulary.optional().describe("The replies to replay: the six core kinds, or the full vocabulary with subagents nested (default: the bridge's)."),
  })
  .describe("The session's stored turns, each as its replies.");
export const ForkRequest = z
  .strictObject({ id: RequestId, op: z.literal("fork"), session: SessionKey.optional(), message_id: MessageId.optional() })
  .describe("A new session with the messages before message_id (all when absent); answers its session_id.");
export const RevertRequest = z
  .strictObject({ id: RequestId, op: z.literal("revert"), session: SessionKey.optional(), message_id: MessageId })
  .describe("Undoes the session from message_id on.");
export const UnrevertRequest = z.strictObject({ id: RequestId, op: z.literal("unrevert"), session: SessionKey.optional() }).describe("Takes back a revert.");
export const SessionsRequest = z.strictObject({ id: RequestId, op: z.literal("sessions") }).describe("Lists the server's sessions.");

export const TurnOpRequest = z.discriminatedUnion("op", [CommandRequest, SummarizeRequest]);
export type TurnOpRequest = z.infer<typeof TurnOpRequest>;
export const SessionOpRequest = z.discriminatedUnion("op", [HistoryRequest, ForkRequest, RevertRequest, UnrevertRequest, SessionsRequest]);
export type SessionOpRequest = z.infer<typeof SessionOpRequest>;
/** Every request this file adds to the bridge's protocol. */
export const SessionOpsRequests = [CommandRequest, SummarizeRequest, HistoryRequest, ForkRequest, RevertRequest, UnrevertRequest, SessionsRequest] as const;

export const SessionOpOutput = z.union([
  z
    .strictObject({ id: RequestId, history: z.array(z.strictObject({ message_id: z.string(), text: z.string(), replies: z.array(Reply) })) })
    .describe("The answer to `history`: the session's turns, oldest first."),
  z.strictObject({ id: RequestId, sessions: z.array(SessionSummary) }).describe("The answer to `sessions`."),
  z.strictObject({ id: RequestId, forked: z.string() }).describe("The answer to `fork`: the new session's id."),
  z.strictObject({ id: RequestId, done: z.literal(true) }).describe("The answer to `revert` and `unrevert`."),
  z.strictObject({ id: RequestId, error: z.string(), code: ErrorCode }).describe("A session operation that failed."),
]);
export type SessionOpOutput = z.infer<typeof SessionOpOutput>;

/** Starts the turn of a `command` or `summarize` request on the key's adapter. */
export function startTurnOp(adapter: OpenCodeAdapter, request: TurnOpRequest, signal: AbortSignal): Promise<TurnResult> {
  if (request.op === "summarize") return adapter.summarize(request.trace_id, { signal, ...(request.model ? { model: request.model } : {}) });
  const { id: _id, op: _op, name, arguments: args, trace_id, session: _session, ...options } = request;
  return adapter.command(name, args ?? "", trace_id, { ...options, signal });
}

/** Runs a one-line session operation; its failure is the answer, never thrown. */
export async function runSessionOp(adapter: OpenCodeAdapter, request: SessionOpRequest): Promise<SessionOpOutput> {
  const id = request.id;
  try {
    switch (request.op) {
      case "history":
        return { id, history: (await adapter.history(request.vocabulary ? { vocabulary: request.vocabulary } : {})).map((turn) => ({ message_id: turn.messageId, text: turn.text, replies: [...turn.replies] })) };
      case "sessions":
        return { id, sessions: await adapter.sessions() };
      case "fork":
        return { id, forked: await adapter.fork(request.message_id) };
      case "revert":
        await adapter.revert(request.message_id);
        return { id, done: true };
      case "unrevert":
        await adapter.unrevert();
        return { id, done: true };
    }
  } catch (error) {
    const failure = asTurnError(error);
    return { id, error: failure.message, code: failure.code };
  }
}
