import { type ResolvedConfig } from "./config.js";
import { DEFAULT_REJECT_MESSAGE, type PermissionDecision, type PermissionReplyBody, type QuestionDecision } from "../contract/decisions.js";
import type { PermissionRequest, QuestionRequest } from "../opencode/events.js";
import type { Warn } from "./warnings.js";
import { reasonOf } from "../contract/turn-error.js";

// The host's answers to opencode's asks. A policy that throws rejects the ask: an unanswered ask
// would hang the turn.

export async function decidePermission(
  policy: ResolvedConfig["permissions"],
  request: PermissionRequest,
  warn: Warn,
): Promise<PermissionReplyBody> {
  let decision: PermissionDecision;
  try {
    decision = typeof policy === "function" ? await policy(request) : policy;
  } catch (error) {
    warn(`opencode-turns: the permission policy threw; rejecting the ask: ${reasonOf(error)}`);
    decision = "reject";
  }
  // A bare reject carries a message so the model is told and continues; without one opencode stops the turn.
  if (decision === "reject") return { reply: "reject", message: DEFAULT_REJECT_MESSAGE };
  return typeof decision === "string" ? { reply: decision } : decision;
}

export async function decideQuestion(
  policy: ResolvedConfig["questions"],
  request: QuestionRequest,
  warn: Warn,
): Promise<QuestionDecision> {
  if (policy === "reject") return "reject";
  try {
    return await policy(request);
  } catch (error) {
    warn(`opencode-turns: the question policy threw; rejecting the question: ${reasonOf(error)}`);
    return "reject";
  }
}
