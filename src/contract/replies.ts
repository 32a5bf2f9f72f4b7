import { z } from "zod";
import { PermissionReply, QuestionDecision } from "./decisions.js";

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

/** Which replies a host gets: the six core kinds (the default), or those and everything else opencode says. */
export const Vocabulary = z.enum(["core", "full"]);
export type Vocabulary = z.infer<typeof Vocabulary>;

/** The core vocabulary: the six kinds every host gets (config `vocabulary: "core"`, the default). */
export const CoreReply = z.discriminatedUnion("kind", [
  DeltaReply,
  ReasoningReply,
  ToolCallReply,
  ToolResultReply,
  FinalReply,
  ErrorReply,
]);
export type CoreReply = z.infer<typeof CoreReply>;
export type ErrorReply = z.infer<typeof ErrorReply>;

// The full vocabulary (config `vocabulary: "full"`): the core kinds, a richer `tool_result`, and
// what else opencode says during a turn. docs/vocabulary.md describes every field.

const count = z.number().int().nonnegative();

export const Todo = z.strictObject({ content: z.string(), status: z.string(), priority: z.string() });
export type Todo = z.infer<typeof Todo>;
export const TodoReply = z.strictObject({ kind: z.literal("todo"), trace_id: traceId, todos: z.array(Todo) });

export const Tokens = z.strictObject({
  input: z.number(),
  output: z.number(),
  reasoning: z.number(),
  cache: z.strictObject({ read: z.number(), write: z.number() }),
});
export type Tokens = z.infer<typeof Tokens>;
export const StepReply = z.strictObject({
  kind: z.literal("step"),
  trace_id: traceId,
  index: count,
  finish_reason: z.string(),
  tokens: Tokens,
  cost: z.number(),
});

export const ToolUpdateReply = z.strictObject({
  kind: z.literal("tool_update"),
  trace_id: traceId,
  call_id: z.string().min(1),
  tool: z.string().min(1),
  title: z.string().optional(),
  /** The tool's whole output so far (bash streams it), not the part new since the last update. */
  output: z.string().optional(),
});

export const FileChange = z.strictObject({ path: z.string().min(1), additions: count, deletions: count, patch: z.string() });
export type FileChange = z.infer<typeof FileChange>;
/** `tool_result` as the full vocabulary gives it: the core fields, the tool's title, and the files it changed. */
export const FullToolResultReply = z.strictObject({
  ...ToolResultReply.shape,
  title: z.string().optional(),
  files: z.array(FileChange).optional(),
});

export const AskReply = z.discriminatedUnion("type", [
  z.strictObject({
    kind: z.literal("ask"),
    trace_id: traceId,
    ask_id: z.string().min(1),
    type: z.literal("permission"),
    request: z.record(z.string(), z.unknown()),
    decision: PermissionReply,
  }),
  z.strictObject({
    kind: z.literal("ask"),
    trace_id: traceId,
    ask_id: z.string().min(1),
    type: z.literal("question"),
    request: z.record(z.string(), z.unknown()),
    decision: QuestionDecision,
  }),
]);

export const RetryReply = z.strictObject({ kind: z.literal("retry"), trace_id: traceId, attempt: count, message: z.string() });
export const CompactionReply = z.strictObject({ kind: z.literal("compaction"), trace_id: traceId });

/** A reply of a child session (the task tool's subagent), nested under the parent's task call. */
export const SubagentReply = z.strictObject({
  kind: z.literal("subagent"),
  trace_id: traceId,
  call_id: z.string().min(1),
  session_id: z.string().min(1),
  get reply(): z.ZodType<Reply> {
    return Reply;
  },
});

/** Every reply of either vocabulary; a core host only ever gets the `CoreReply` kinds. */
export const Reply = z.discriminatedUnion("kind", [
  DeltaReply,
  ReasoningReply,
  ToolCallReply,
  FullToolResultReply,
  FinalReply,
  ErrorReply,
  TodoReply,
  StepReply,
  ToolUpdateReply,
  SubagentReply,
  AskReply,
  RetryReply,
  CompactionReply,
]);
export type Reply =
  | CoreReply
  | z.infer<typeof FullToolResultReply>
  | z.infer<typeof TodoReply>
  | z.infer<typeof StepReply>
  | z.infer<typeof ToolUpdateReply>
  | { kind: "subagent"; trace_id: string; call_id: string; session_id: string; reply: Reply }
  | z.infer<typeof AskReply>
  | z.infer<typeof RetryReply>
  | z.infer<typeof CompactionReply>;
/** The reply kinds of the full vocabulary beyond the core six. */
export const FULL_ONLY_KINDS = ["todo", "step", "tool_update", "subagent", "ask", "retry", "compaction"] as const;

export const ModelChange = z.strictObject({
  providerID: z.string(),
  modelID: z.string(),
  source: z.enum(["model.switched", "session.updated"]),
  at: z.number(),
});
export type ModelChange = z.infer<typeof ModelChange>;

export const Usage = z.strictObject({ tokens: Tokens, cost: z.number() });
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
