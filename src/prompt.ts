import { z } from "zod";

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

/** The part opencode 1.18 accepts for a file; the `{media_type, data}` shape gets a 400. */
export interface FilePart {
  type: "file";
  mime: string;
  url: string;
  filename?: string;
}

export type PromptPart = { type: "text"; text: string } | FilePart;

/** What `prompt_async` is sent for one turn, less the `messageID` the turn makes up. */
export interface TurnPrompt {
  parts: PromptPart[];
  model?: { providerID: string; modelID: string };
  agent?: string;
  system?: string;
}

export function toFilePart(attachment: Attachment): FilePart {
  const url = attachment.url ?? `data:${attachment.mime};base64,${attachment.data}`;
  return { type: "file", mime: attachment.mime, url, ...(attachment.filename ? { filename: attachment.filename } : {}) };
}
