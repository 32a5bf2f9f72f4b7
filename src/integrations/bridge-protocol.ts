import { z } from "zod";
import { SessionId } from "../host/config.js";
import { PermissionDecision, QuestionDecision } from "../contract/decisions.js";
import { PermissionAsked, QuestionAsked } from "../opencode/events.js";
import { Attachment } from "../host/prompt.js";
import { ErrorCode, Reply, TurnResult, Vocabulary } from "../contract/replies.js";
import { SessionOpOutput, SessionOpsRequests, TurnChoiceFields } from "./bridge-session-ops.js";

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
    vocabulary: Vocabulary.optional().describe("This turn's replies: the six core kinds, or the full vocabulary (default: the bridge's)."),
    ...TurnChoiceFields,
  })
  .describe("Runs a turn. Turns of one session run one after another, in the order given.");
export type PromptRequest = z.infer<typeof PromptRequest>;

export const SessionRequest = z
  .strictObject({
    id: RequestId,
    op: z.literal("session"),
    session: SessionKey.optional(),
    session_id: SessionId.optional().describe("An existing opencode session to bind the key to; without it, the key's session, or a new one."),
  })
  .describe("Makes sure the key has an opencode session (checked, or created) and answers its id.");
export type SessionRequest = z.infer<typeof SessionRequest>;

export const ReleaseRequest = z
  .strictObject({ id: RequestId, op: z.literal("release"), session: SessionKey })
  .describe(
    "Forgets the key once its queued turns have ended: its adapter is closed and the next request with the key starts a new opencode session.",
  );

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
export type AnswerRequest = z.infer<typeof AnswerRequest>;

export const CloseRequest = z
  .strictObject({ id: RequestId, op: z.literal("close") })
  .describe("Ends every turn at once (with a `closed` error reply and its result) and then the bridge.");

export const BridgeRequest = z.discriminatedUnion("op", [PromptRequest, SessionRequest, ReleaseRequest, CancelRequest, AnswerRequest, CloseRequest, ...SessionOpsRequests]);
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
  z.strictObject({ id: RequestId, released: z.literal(true) }).describe("The answer to `release`: the key is forgotten."),
  z.strictObject({ id: RequestId, closed: z.literal(true) }).describe("The answer to `close`: every turn has ended; the bridge exits."),
  z
    .strictObject({ id: RequestId.optional(), ask_id: AskId.optional(), error: z.string(), code: ErrorCode.optional() })
    .describe("A request that was refused (not UTF-8, not JSON, invalid, unknown id) or failed; the bridge goes on."),
  ...SessionOpOutput.options,
]);
export type BridgeOutput = z.infer<typeof BridgeOutput>;

/** One line of the host's input as a request, or the error line that refuses it (not JSON, not a valid request). */
export function parseRequest(line: string): BridgeRequest | { id?: string; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { error: "The line is not JSON." };
  }
  const parsed = BridgeRequest.safeParse(raw);
  if (parsed.success) return parsed.data;
  const id = (raw as { id?: unknown } | null)?.id;
  const issues = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(request)"}: ${issue.message}`).join("; ");
  return { ...(typeof id === "string" && id.length > 0 ? { id } : {}), error: `Invalid request: ${issues}` };
}

/** The protocol as JSON Schema, from the schemas above. */
export function describeProtocol(): { requests: unknown; outputs: unknown } {
  return {
    requests: z.toJSONSchema(BridgeRequest, { io: "input" }),
    outputs: z.toJSONSchema(BridgeOutput, { io: "output" }),
  };
}
