import { z } from "zod";

// The shapes of the host's decisions, defined once: the config, the policies and the bridge protocol
// (whose `--describe` prints them) all use these schemas and the types inferred from them.

/** What opencode is told for a permission ask. */
export const PermissionReply = z.enum(["once", "always", "reject"]);
export type PermissionReply = z.infer<typeof PermissionReply>;
/** A reply with its message: what is posted to `/permission/{id}/reply`, and one form of a decision. */
export const PermissionReplyBody = z.strictObject({
  reply: PermissionReply,
  message: z.string().optional().describe("With reject: told to the model, which continues."),
});
export type PermissionReplyBody = z.infer<typeof PermissionReplyBody>;
/** The answer to a permission ask; a `message` with `reject` is fed back to the model, which continues. */
export const PermissionDecision = z.union([PermissionReply, PermissionReplyBody]);
export type PermissionDecision = z.infer<typeof PermissionDecision>;
/** One answer (a list of chosen labels) per question, or "reject". */
export const QuestionDecision = z.union([
  z.literal("reject"),
  z.array(z.array(z.string())).describe("One list of chosen option labels per question."),
]);
export type QuestionDecision = z.infer<typeof QuestionDecision>;

/** How the command line and the bridge answer asks: a fixed decision, or `ask` someone (the terminal, the host). */
export const PermissionMode = z.enum([...PermissionReply.options, "ask"]);
export type PermissionMode = z.infer<typeof PermissionMode>;
export const QuestionMode = z.enum(["reject", "ask"]);
export type QuestionMode = z.infer<typeof QuestionMode>;

export const DEFAULT_REJECT_MESSAGE =
  "This tool call was not allowed by the host's permission policy. Continue without it.";
