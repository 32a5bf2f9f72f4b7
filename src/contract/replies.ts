import { z } from "zod";

// The host contract (README, "The host contract"). Strict: other programs parse these exact keys.

export const ErrorCode = z.enum([
  "unauthorized",
  "unreachable",
  "session_not_found",
  "bad_request",
  "provider_error",
  "aborted",
  "timeout",
  "stream_lost",
  "closed",
  "internal",
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

const traceId = z.string().min(1);

export const DeltaReply = z.strictObject({ kind: z.literal("delta"), trace_id: traceId, content: z.string() });
export const ReasoningReply = z.strictObject({ kind: z.literal("reasoning"), trace_id: traceId, content: z.string() });
export const ToolCallReply = z.strictObject({
  kind: z.literal("tool_call"),
  trace_id: traceId,
  tool: z.string().min(1),
  args: z.record(z.string(), z.unknown()),
  call_id: z.string().min(1),
});
export const ToolResultReply = z.strictObject({
  kind: z.literal("tool_result"),
  trace_id: traceId,
  tool: z.string().min(1),
  result: z.unknown(),
  success: z.boolean(),
  call_id: z.string().min(1),
});
export const FinalReply = z.strictObject({
  kind: z.literal("final"),
  trace_id: traceId,
  content: z.string(),
  /** The object the model answered with, for a prompt given a `format` (a JSON Schema). */
  structured: z.unknown().optional(),
});
export const ErrorReply = z.strictObject({
  kind: z.literal("error"),
  trace_id: traceId,
  error: z.string().min(1),
  code: ErrorCode,
});

export const Reply = z.discriminatedUnion("kind", [
  DeltaReply,
  ReasoningReply,
  ToolCallReply,
  ToolResultReply,
  FinalReply,
  ErrorReply,
]);
export type Reply = z.infer<typeof Reply>;
export type ErrorReply = z.infer<typeof ErrorReply>;

export const ModelChange = z.strictObject({
  providerID: z.string(),
  modelID: z.string(),
  source: z.enum(["model.switched", "session.updated"]),
  at: z.number(),
});
export type ModelChange = z.infer<typeof ModelChange>;

export const Usage = z.strictObject({
  tokens: z.strictObject({
    input: z.number(),
    output: z.number(),
    reasoning: z.number(),
    cache: z.strictObject({ read: z.number(), write: z.number() }),
  }),
  cost: z.number(),
});
export type Usage = z.infer<typeof Usage>;

const TurnBase = {
  trace_id: traceId,
  session_id: z.string().optional(),
  usage: Usage.optional(),
  model_changes: z.array(ModelChange),
  duration_ms: z.number(),
};

export const TurnResult = z.discriminatedUnion("outcome", [
  z.strictObject({ ...TurnBase, outcome: z.literal("final"), content: z.string(), structured: z.unknown().optional() }),
  z.strictObject({ ...TurnBase, outcome: z.literal("error"), error: z.string(), code: ErrorCode }),
]);
export type TurnResult = z.infer<typeof TurnResult>;
