/** What the scripted model reads of an OpenAI-compatible chat request, and the opencode provider config that points at it. */

export interface ChatMessage {
  role?: string;
  content?: unknown;
  tool_call_id?: string;
}

export interface ChatRequest {
  model?: string;
  stream?: boolean;
  messages?: ChatMessage[];
  tools?: { type?: string; function?: { name?: string } }[];
}

/** Text of a message's `content`, which may be a string or an array of content parts. */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => {
        if (typeof part === "string") return part;
        if (part && typeof part === "object" && typeof (part as { text?: unknown }).text === "string") {
          return (part as { text: string }).text;
        }
        return "";
      })
      .join("");
  }
  return "";
}

/**
 * opencode's title generation request. Both 1.15.13 and 1.18.33 send the `title` agent's system
 * prompt ("You are a title generator. You output ONLY a thread title. ...") and, unlike real
 * turns, offer no tools. The system prompt is the marker; "no tools at all" is a fallback only
 * when the system prompt also talks about a title.
 */
export function isTitleRequest(req: ChatRequest): boolean {
  const system = (req.messages ?? [])
    .filter((m) => m.role === "system")
    .map((m) => contentText(m.content))
    .join("\n");
  if (/title generator/i.test(system)) return true;
  const noTools = !req.tools || req.tools.length === 0;
  return noTools && /\btitle\b/i.test(system);
}


/** `text` in `n` pieces of about equal length, never inside a character. */
export function chunksOf(text: string, n: number): string[] {
  const chars = Array.from(text);
  const size = Math.ceil(chars.length / n);
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(""));
  return out;
}


/** The trailing run of tool results (one per call of the previous step), when the last message is one. */
export function toolResults(request: ChatRequest): string[] | undefined {
  const messages = request.messages ?? [];
  if (messages[messages.length - 1]?.role !== "tool") return undefined;
  const results: string[] = [];
  for (let i = messages.length - 1; i >= 0 && messages[i]?.role === "tool"; i--) {
    results.unshift(contentText(messages[i]?.content));
  }
  return results;
}

/** Text of the last user message. */
export function lastUserText(request: ChatRequest): string {
  return contentText([...(request.messages ?? [])].reverse().find((m) => m.role === "user")?.content);
}

/** The opencode provider block for a model server: `provider: { [id]: modelProviderConfig(...) }`. */
export function modelProviderConfig(url: string, name: string, models: Record<string, string>): Record<string, unknown> {
  const model = (title: string) => ({
    name: title,
    tool_call: true,
    reasoning: true,
    attachment: true,
    limit: { context: 128_000, output: 8_192 },
  });
  return {
    npm: "@ai-sdk/openai-compatible",
    name,
    options: { baseURL: url, apiKey: "x" },
    models: Object.fromEntries(Object.entries(models).map(([id, title]) => [id, model(title)])),
  };
}
