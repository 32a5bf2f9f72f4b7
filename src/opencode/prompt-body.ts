// What opencode takes to start a turn: the wire shape of a prompt, a slash command or a compaction.

/** The part opencode 1.18 accepts for a file; the `{media_type, data}` shape gets a 400. */
export interface FilePart {
  type: "file";
  mime: string;
  url: string;
  filename?: string;
}

export type PromptPart = { type: "text"; text: string } | FilePart;

/** opencode's structured output: the model answers through a tool whose parameters are `schema`. */
export interface OutputFormat {
  type: "json_schema";
  schema: Record<string, unknown>;
  retryCount?: number;
}

/** A turn started by `POST /session/{id}/prompt_async`, less the `messageID` the turn makes up. */
export interface PromptAsyncTurn {
  /** Which endpoint starts the turn; a prompt when left out. */
  endpoint?: "prompt_async";
  parts: PromptPart[];
  model?: { providerID: string; modelID: string };
  agent?: string;
  system?: string;
  variant?: string;
  /** Tools enabled (true) or disabled (false) by name for this turn. */
  tools?: Record<string, boolean>;
  format?: OutputFormat;
}

/**
 * A turn started by `POST /session/{id}/command`: a slash command configured in opencode. opencode
 * answers it only once the turn is over, so the turn goes on from the moment it is taken.
 */
export interface CommandTurn {
  endpoint: "command";
  command: string;
  arguments: string;
  agent?: string;
  /** `provider/model`: a string here, unlike `prompt_async`'s object. */
  model?: string;
  variant?: string;
  parts?: FilePart[];
}

/**
 * A turn started by `POST /session/{id}/summarize`: opencode compacts the session. It makes the
 * user message itself (the one carrying the `compaction` part), so the turn has no id to give.
 */
export interface SummarizeTurn {
  endpoint: "summarize";
  providerID: string;
  modelID: string;
}

/** What is sent to opencode for one turn. */
export type TurnPrompt = PromptAsyncTurn | CommandTurn | SummarizeTurn;

/** The whole body of `prompt_async`: the prompt and the id the turn gives its user message. */
export type PromptBody = Omit<PromptAsyncTurn, "endpoint"> & { messageID: string };
