import type { EventHub } from "../opencode/event-hub.js";
import * as api from "../opencode/api.js";
import { messageUpdatedOf, partUpdatedOf } from "../opencode/quick-events.js";
import type { TurnPrompt } from "../opencode/prompt-body.js";
import { TurnError } from "../contract/turn-error.js";

// The body of the machine's `sendPrompt` actor: a prompt, a slash command or a compaction, each to its endpoint.

export interface SendPromptInput {
  sessionId: string;
  messageId: string;
  prompt: TurnPrompt;
}

/**
 * Sends the turn's prompt. `prompt_async` answers at once. A command and a compaction are answered
 * only when their turn is over, while the turn needs its asks answered meanwhile: their request is
 * counted as sent once opencode has taken it (its user message, or an error, is on the stream), and
 * then left to finish on its own; its answer tells nothing the turn's events do not.
 */
export async function sendTurnPrompt(hub: EventHub, { sessionId, messageId, prompt }: SendPromptInput, signal: AbortSignal): Promise<void> {
  if (prompt.endpoint !== "command" && prompt.endpoint !== "summarize") {
    const { endpoint: _endpoint, ...body } = prompt;
    return api.promptAsync(hub.http, sessionId, { messageID: messageId, ...body }, signal);
  }
  const endpoint = prompt.endpoint;
  if (prompt.endpoint === "command") {
    // opencode answers an unknown command with a bare 500: the name is checked first, to say so.
    const known = await api.listCommands(hub.http, signal);
    if (!known.includes(prompt.command)) {
      throw new TurnError("bad_request", `opencode has no slash command "${prompt.command}" (it has: ${known.join(", ") || "none"}); commands are configured in opencode.json under "command".`);
    }
  }
  // Not the actor's signal: the actor stops once the request is taken, and the request must go on.
  const request = new AbortController();
  const answered =
    prompt.endpoint === "command"
      ? api.runCommand(hub.http, sessionId, messageId, prompt, request.signal)
      : api.summarizeSession(hub.http, sessionId, prompt, request.signal);
  // Once taken, a failure of the request is the turn's events' to tell (or the abort's).
  answered.catch(() => undefined);
  let unsubscribe = () => {};
  const taken = new Promise<void>((resolve) => {
    unsubscribe = hub.subscribe(sessionId, {
      events: (events) => events.some((event) => takes(event, sessionId, messageId, endpoint)) && resolve(),
      lost: () => undefined,
    });
  });
  const cancel = () => request.abort();
  signal.addEventListener("abort", cancel, { once: true });
  try {
    await Promise.race([answered, taken]);
  } finally {
    unsubscribe();
    signal.removeEventListener("abort", cancel);
  }
}

/** Whether an event shows that opencode has taken the turn: its user message, or its refusal. */
function takes(event: unknown, sessionId: string, messageId: string, endpoint: "command" | "summarize"): boolean {
  const type = (event as { type?: unknown } | null)?.type;
  if (type === "session.error") return (event as { properties?: { sessionID?: unknown } }).properties?.sessionID === sessionId;
  if (endpoint === "command") {
    return messageUpdatedOf(event)?.properties.info.id === messageId;
  }
  // A compaction's user message is opencode's own: the one that carries the compaction part.
  const part = partUpdatedOf(event)?.properties.part;
  return part?.sessionID === sessionId && part.type === "compaction";
}
