import { type ResolvedConfig } from "./config.js";
import { DEFAULT_REJECT_MESSAGE, PermissionDecision, QuestionDecision, type PermissionReplyBody } from "../contract/decisions.js";
import type { PermissionRequest, QuestionRequest } from "../opencode/events.js";
import type { Warn } from "./warnings.js";
import { asHostCall } from "./host-calls.js";
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
    // The policy's type admits any string (see PermissionAnswer): what it returned is checked here.
    const answer = typeof policy === "function" ? await policy(request) : policy;
    const checked = PermissionDecision.safeParse(answer);
    if (checked.success) decision = checked.data;
    else {
      warn(`opencode-turns: the permission policy returned ${JSON.stringify(answer)}, not "once", "always", "reject" or { reply, message? }; rejecting the ask.`);
      decision = "reject";
    }
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
    const answer = await policy(request);
    const checked = QuestionDecision.safeParse(answer);
    if (checked.success) return checked.data;
    warn(`opencode-turns: the question policy returned ${JSON.stringify(answer)}, not "reject" or one list of labels per question; rejecting the question.`);
    return "reject";
  } catch (error) {
    warn(`opencode-turns: the question policy threw; rejecting the question: ${reasonOf(error)}`);
    return "reject";
  }
}

/**
 * The config's policies as the turn actors ask them, each call marked as the host's own (so a
 * prompt() made from inside one is refused instead of waiting for itself).
 */
export function hostPolicies(owner: object, { permissions, questions }: Pick<ResolvedConfig, "permissions" | "questions">, warn: Warn) {
  return {
    decidePermission: (request: PermissionRequest) => asHostCall(owner, (asked) => decidePermission(permissions, asked, warn), request),
    decideQuestion: (request: QuestionRequest) => asHostCall(owner, (asked) => decideQuestion(questions, asked, warn), request),
  };
}
