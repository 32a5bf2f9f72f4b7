import type { Reply } from "./replies.js";

/** What stands in for a credential in any text that leaves the library. */
export const REDACTED = "[redacted]";

/**
 * Every form the server password can take in text: as given, percent-encoded (a URL), and as the
 * Basic token it travels in. A server or proxy that echoes the request back in an error body would
 * otherwise hand it to the host's logs.
 */
export function credentialForms(username: string, password: string | undefined): string[] {
  if (password === undefined || password === "") return [];
  const pair = `${username}:${password}`;
  const token = Buffer.from(pair).toString("base64");
  return [...new Set([token, token.replace(/=+$/, ""), pair, password, encodeURIComponent(password)])];
}

/** Replaces each of `secrets` (longest first, so a token is not half-replaced) in `text`. */
export function redactor(secrets: readonly string[]): (text: string) => string {
  const ordered = [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  if (ordered.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const secret of ordered) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  };
}

/**
 * A reply with the server password taken out of the texts the library writes or passes on as data:
 * errors, tool arguments, results, titles, live output and diffs (a tool can print the server's
 * environment), ask requests and retry messages, and the same inside a subagent's replies. Answer text is
 * left as the model wrote it: a secret split across deltas could not be found in each, and redacting
 * some would break `final` = the deltas.
 */
export function withoutSecrets(reply: Reply, redact: (text: string) => string): Reply {
  switch (reply.kind) {
    case "error":
      return { ...reply, error: redact(reply.error) };
    case "tool_call":
      return { ...reply, args: redactDeep(reply.args, redact) as Record<string, unknown> };
    case "tool_result": {
      const redacted = { ...reply, result: redactDeep(reply.result, redact) };
      // The full vocabulary's title and diffs are tool output too.
      if ("title" in redacted && redacted.title !== undefined) redacted.title = redact(redacted.title);
      if ("files" in redacted && redacted.files !== undefined) redacted.files = redactDeep(redacted.files, redact) as typeof redacted.files;
      return redacted;
    }
    case "tool_update":
      return { ...reply, ...(reply.title === undefined ? {} : { title: redact(reply.title) }), ...(reply.output === undefined ? {} : { output: redact(reply.output) }) };
    case "ask":
      return { ...reply, request: redactDeep(reply.request, redact) as Record<string, unknown> };
    case "retry":
      return { ...reply, message: redact(reply.message) };
    case "subagent":
      return { ...reply, reply: withoutSecrets(reply.reply, redact) };
    default:
      return reply;
  }
}

function redactDeep(value: unknown, redact: (text: string) => string): unknown {
  if (typeof value === "string") return redact(value);
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, redact));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactDeep(item, redact)]));
  }
  return value;
}
