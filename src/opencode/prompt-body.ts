// What opencode takes in `POST /session/{id}/prompt_async`: the wire shape of a prompt.

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

/** The whole body of `prompt_async`: the prompt and the id the turn gives its user message. */
export type PromptBody = TurnPrompt & { messageID: string };
