import { z } from "zod";
import type { FilePart } from "../opencode/prompt-body.js";

/** A file for the prompt: inline base64 `data` or a `url`, never both. */
export const Attachment = z
  .strictObject({
    mime: z.string().regex(/^[\w.+-]+\/[\w.+-]+$/, { error: "expected a MIME type such as text/plain" }),
    data: z.base64({ error: "expected base64 data" }).optional(),
    url: z.string().min(1).optional(),
    filename: z.string().min(1).optional(),
  })
  .refine((a) => (a.data === undefined) !== (a.url === undefined), { message: "give either data (base64) or url" });
export type Attachment = z.infer<typeof Attachment>;

export function toFilePart(attachment: Attachment): FilePart {
  const url = attachment.url ?? `data:${attachment.mime};base64,${attachment.data}`;
  return { type: "file", mime: attachment.mime, url, ...(attachment.filename ? { filename: attachment.filename } : {}) };
}

/** Which attachments a host lets through: URL schemes and MIME types (`text/*` stands for a family, two stars for any type). */
export interface AttachmentPolicy {
  readonly schemes: readonly string[];
  readonly types: readonly string[];
}

/**
 * Why an attachment may not be sent, or undefined if it may. Checked before anything reaches
 * opencode: a `file:` URL makes it read a file of its own machine into the prompt, and a type the
 * model cannot take breaks the session for good.
 */
export function attachmentRefusal(attachment: Attachment, policy: AttachmentPolicy): string | undefined {
  const types = [attachment.mime];
  if (attachment.url !== undefined) {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(attachment.url)?.[1]?.toLowerCase();
    if (scheme === undefined) return "url is not an absolute URL";
    if (!policy.schemes.includes(scheme)) {
      return `url scheme "${scheme}:" is not allowed (allowed: ${policy.schemes.map((s) => `${s}:`).join(", ")}; see the attachmentSchemes option)`;
    }
    // A data URL says its own type, which opencode may go by: both must be allowed.
    const inner = scheme === "data" ? /^data:([^;,]*)/i.exec(attachment.url)?.[1] : undefined;
    if (inner !== undefined) types.push(inner === "" ? "text/plain" : inner);
  }
  const refused = types.find((type) => !policy.types.some((allowed) => typeMatches(type.toLowerCase(), allowed.toLowerCase())));
  if (refused !== undefined) return `type ${refused} is not allowed (allowed: ${policy.types.join(", ")}; see the attachmentTypes option)`;
  return undefined;
}

function typeMatches(type: string, allowed: string): boolean {
  if (allowed === "*/*") return true;
  return allowed.endsWith("/*") ? type.startsWith(allowed.slice(0, -1)) : type === allowed;
}

/** Built once: a zod schema is costly to build, and a tiny turn paid for it every time. */
const Attachments = z.array(Attachment);

const name = z.string().min(1);

/** What a turn may choose for itself, over the adapter's configuration. */
export const TurnChoices = z.strictObject({
  model: z.strictObject({ providerID: name, modelID: name }).optional(),
  agent: name.optional(),
  /** A variant of the model (its reasoning effort, say), as the provider names it. */
  variant: name.optional(),
  system: z.string().optional(),
  /** Tools enabled (true) or disabled (false) by name, for this turn only. */
  tools: z.record(name, z.boolean()).optional(),
  /** A JSON Schema: the model answers with an object of it, on the result and `final` as `structured`. */
  format: z.record(z.string(), z.unknown()).optional(),
});
export type TurnChoices = z.infer<typeof TurnChoices>;

/** What a turn takes from `prompt()`'s options once they are checked. */
export interface CheckedPromptOptions {
  attachments: Attachment[];
  signal: AbortSignal | undefined;
  choices: TurnChoices;
}

const CHOICE_KEYS = Object.keys(TurnChoices.shape) as Array<keyof TurnChoices>;

/**
 * Checks `prompt()`'s options before anything is sent: a refusal is a sentence for a `bad_request`.
 * A `signal` must behave like an AbortSignal (an AbortController, say, does not): a turn must not
 * fail half-started on a listener it cannot add.
 */
export function checkPromptOptions(options: unknown, policy: AttachmentPolicy): CheckedPromptOptions | { refusal: string } {
  if (options === undefined || options === null) return { attachments: [], signal: undefined, choices: {} };
  if (typeof options !== "object") return { refusal: `The prompt options must be an object ({ attachments?, signal?, ${CHOICE_KEYS.join("?, ")}? }).` };
  const { attachments, signal } = options as { attachments?: unknown; signal?: unknown };
  // Only the turn's choices are checked here: other keys are other layers' options.
  let given: Record<string, unknown> | undefined;
  for (const key of CHOICE_KEYS) {
    const value = (options as Record<string, unknown>)[key];
    if (value !== undefined) (given ??= {})[key] = value;
  }
  if (signal !== undefined && !isAbortSignal(signal)) {
    return { refusal: "options.signal is not an AbortSignal; pass controller.signal, not the controller." };
  }
  // What is left out needs no schema run: most turns give no attachments and no choices of their own.
  const parsed = attachments === undefined || attachments === null ? { success: true as const, data: [] } : Attachments.safeParse(attachments);
  if (!parsed.success) {
    return { refusal: `Invalid attachments: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}` };
  }
  for (const [index, attachment] of parsed.data.entries()) {
    const refusal = attachmentRefusal(attachment, policy);
    if (refusal !== undefined) return { refusal: `Attachment ${index} was not sent: its ${refusal}.` };
  }
  const choices = given === undefined ? { success: true as const, data: {} } : TurnChoices.safeParse(given);
  if (!choices.success) {
    return { refusal: `Invalid prompt options: ${choices.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}` };
  }
  return { attachments: parsed.data, signal: signal as AbortSignal | undefined, choices: choices.data };
}

function isAbortSignal(value: unknown): value is AbortSignal {
  const candidate = value as Partial<AbortSignal> | null;
  return (
    typeof candidate === "object" &&
    candidate !== null &&
    typeof candidate.aborted === "boolean" &&
    typeof candidate.addEventListener === "function" &&
    typeof candidate.removeEventListener === "function"
  );
}

/** Why `prompt(text, traceId)` cannot be sent as given, or undefined: a JavaScript host can pass anything. */
export function promptArgumentsRefusal(text: unknown, traceId: unknown): string | undefined {
  if (traceId !== undefined && typeof traceId !== "string") return `traceId must be a string, not ${describeValue(traceId)}.`;
  if (typeof text !== "string") return `The prompt text must be a string, not ${describeValue(text)}.`;
  return undefined;
}

/** What a wrong argument was, in a few words: `null`, `a number (5)`, `an object`. */
function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "number" || typeof value === "boolean") return `a ${typeof value} (${String(value)})`;
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}
