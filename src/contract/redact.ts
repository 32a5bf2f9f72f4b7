import type { InspectionEvent, Observer } from "xstate";
import type { Reply } from "./replies.js";

/** What stands in for a credential in any text that leaves the library. */
export const REDACTED = "[redacted]";

/**
 * Whether the password, bare, can be taken out of any text without rewriting ordinary words: long
 * enough, and not one word of text. "o", "1" or "opencode" occur in every error message (and
 * `o[redacted]encode` helps nobody); such a password is still taken out of its Basic token, its
 * `user:password` pair and `OPENCODE_SERVER_PASSWORD=`, but not wherever it appears.
 */
export function passwordRedactable(password: string): boolean {
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter((pattern) => pattern.test(password)).length;
  return password.length >= 12 || (password.length >= 8 && classes >= 2);
}

/** The warning for a password `passwordRedactable` refuses (said once, when the adapter is made). */
export const WEAK_PASSWORD_WARNING =
  "opencode-turns: the server password is short or a single plain word, so it cannot be taken out of every text without rewriting ordinary words; it is redacted only in its Basic token, its user:password pair and OPENCODE_SERVER_PASSWORD=. Use a password of 12 or more characters.";

/** A string as it appears inside a JSON string literal (quotes and backslashes escaped). */
const jsonEscaped = (text: string) => JSON.stringify(text).slice(1, -1);

/**
 * Every form the server password can take in text: the Basic token it travels in (padded or not),
 * `user:password`, `OPENCODE_SERVER_PASSWORD=password` (a tool printing the environment), each also
 * as a JSON string holds it (a proxy echoing the request in a JSON error); and, when it can be done
 * without mangling text (`passwordRedactable`), the password itself, percent-encoded and JSON-escaped.
 */
export function credentialForms(username: string, password: string | undefined): string[] {
  if (password === undefined || password === "") return [];
  const pair = `${username}:${password}`;
  const token = Buffer.from(pair).toString("base64");
  const forms = [token, token.replace(/=+$/, ""), pair, `OPENCODE_SERVER_PASSWORD=${password}`];
  if (passwordRedactable(password)) forms.push(password, encodeURIComponent(password));
  const escaped = forms.flatMap((form) => [jsonEscaped(form), jsonEscaped(jsonEscaped(form))]);
  return [...new Set([...forms, ...escaped])];
}

/** Replaces each of `secrets` (longest first, so a token is not half-replaced) in `text`. */
export function redactor(secrets: readonly string[]): (text: string) => string {
  const ordered = [...new Set(secrets)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
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

/**
 * `value` with every string in it redacted: plain objects, arrays, Maps and Sets are copied, an
 * error becomes one of the same name, code and redacted message; other objects (actor references,
 * the codec's call map, which holds tool names only) are kept as they are.
 */
export function redactDeep(value: unknown, redact: (text: string) => string): unknown {
  if (typeof value === "string") return redact(value);
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, redact));
  if (value instanceof Map) return new Map([...value].map(([key, item]) => [key, redactDeep(item, redact)]));
  if (value instanceof Set) return new Set([...value].map((item) => redactDeep(item, redact)));
  if (value instanceof Error) {
    // Of the same class (a TurnError keeps its code and status), with the message redacted.
    const copy = Object.assign(Object.create(Object.getPrototypeOf(value) as object) as Error, value);
    Object.defineProperty(copy, "message", { value: redact(value.message), writable: true, configurable: true });
    if (Object.hasOwn(value, "name")) copy.name = value.name;
    return copy;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactDeep(item, redact)]));
}

/**
 * An XState inspection event as an observer may see it (a recording, an inspection log, the live
 * inspector write it out): the events, the actions' parameters and the snapshot's context, output
 * and error redacted; the actor references and the rest as they were.
 */
export function redactedInspection<T extends { type: string }>(inspection: T, redact: (text: string) => string): T {
  const event = inspection as T & { event?: unknown; action?: { params?: unknown }; snapshot?: Record<string, unknown> };
  switch (inspection.type) {
    case "@xstate.event":
      return { ...inspection, event: redactDeep(event.event, redact) };
    case "@xstate.action":
      return { ...inspection, action: { ...event.action, params: redactDeep(event.action?.params, redact) } };
    case "@xstate.snapshot": {
      const snapshot = event.snapshot ?? {};
      const redacted = { ...snapshot, context: redactDeep(snapshot.context, redact), output: redactDeep(snapshot.output, redact), error: redactDeep(snapshot.error, redact) };
      return { ...inspection, snapshot: redacted, event: redactDeep(event.event, redact) };
    }
    case "@xstate.microstep":
      return { ...inspection, event: redactDeep(event.event, redact) };
    default:
      return inspection;
  }
}

/** An inspection observer (a function or an Observer) that is given every event redacted; undefined for none. */
export function redactedObserver(
  observer: Observer<InspectionEvent> | ((event: InspectionEvent) => void) | undefined,
  redact: (text: string) => string,
): ((event: InspectionEvent) => void) | undefined {
  const observe = typeof observer === "function" ? observer : observer && ((event: InspectionEvent) => observer.next?.(event));
  return observe && ((event: InspectionEvent) => observe(redactedInspection(event, redact)));
}
