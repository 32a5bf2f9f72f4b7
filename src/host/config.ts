import { z } from "zod";
import { PermissionReply, type PermissionDecision } from "../contract/decisions.js";
import type { PermissionRequest, QuestionRequest } from "../opencode/events.js";
import { Vocabulary } from "../contract/replies.js";
import { acquireHub } from "../opencode/shared-hub.js";


/** `T`, or any string: what an `async () => "once"` returns once TypeScript widens it (checked when it is returned). */
type Widened<T extends string> = T | (string & {});

/**
 * What a permission policy returns: a PermissionDecision. Its strings are typed wide so that a
 * policy written naturally (`async () => "once"`) typechecks; a value that is not a decision is
 * found when it is returned, warned about, and rejects the ask.
 */
export type PermissionAnswer = Widened<PermissionDecision & string> | { reply: Widened<PermissionReply>; message?: string };
/** What a question policy returns: a QuestionDecision, typed wide as PermissionAnswer is. */
export type QuestionAnswer = Widened<"reject"> | string[][];
export type PermissionPolicy = (request: PermissionRequest) => PermissionAnswer | Promise<PermissionAnswer>;
export type QuestionPolicy = (request: QuestionRequest) => QuestionAnswer | Promise<QuestionAnswer>;

/** An opencode session id, as the config, the command line and the bridge protocol take it. */
export const SessionId = z.string().startsWith("ses", { error: "expected an opencode session id (ses...)" });

const callback = <T>(what: string) =>
  z.custom<T>((value) => typeof value === "function", { message: `expected ${what} or a function` });

/** setTimeout's range: a longer delay fires after 1 ms instead (a 30-day deadline would end every turn at once). */
export const MAX_TIMER_MS = 2 ** 31 - 1;
const milliseconds = () =>
  z.number().int().positive().max(MAX_TIMER_MS, { error: `at most ${MAX_TIMER_MS} ms (about 24.8 days), the range of a timer` });

/**
 * The URL schemes an attachment may use unless the host widens them. opencode itself reads what a
 * `file:` URL names (any file or directory on its machine) into the prompt, and drops an `http(s):`
 * one without a word; only `data:` carries the host's own bytes.
 */
export const DEFAULT_ATTACHMENT_SCHEMES = ["data"] as const;

/**
 * The attachment types sent unless the host widens them: what opencode turns into text (text/*) or
 * hands to a model as an image or a PDF. A type the provider cannot take (application/zip, /json,
 * /octet-stream...) fails that turn and every later turn of the session, because it stays in the history.
 */
export const DEFAULT_ATTACHMENT_TYPES = ["text/*", "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"] as const;

const mimePattern = z.string().regex(/^([\w.+-]+\/([\w.+-]+|\*)|\*\/\*)$/, { error: "expected a MIME type (text/plain), a family (text/*) or */*" });

export const AdapterConfig = z
  .strictObject({
    baseUrl: z.url({ protocol: /^https?$/, error: "expected an http(s) URL such as http://127.0.0.1:4096" }),
    username: z.string().min(1).optional(),
    password: z.string().optional(),
    directory: z.string().min(1).optional(),
    sessionId: SessionId.optional(),
    sessionTitle: z.string().optional(),
    providerID: z.string().min(1).optional(),
    modelID: z.string().min(1).optional(),
    agent: z.string().min(1).optional(),
    system: z.string().optional(),
    // Ten seconds: far above what a local or LAN server needs to answer, short enough that a host
    // learns of a dead server before its user gives up.
    connectTimeoutMs: milliseconds().default(10_000),
    // opencode beats every 10 s: three missed beats is a dead stream, not a slow one.
    heartbeatTimeoutMs: milliseconds().default(30_000),
    // The stored messages read after a gap can be a whole session's history: a minute leaves room
    // for that on a busy server and still ends an answer that drips forever.
    bodyTimeoutMs: milliseconds().default(60_000),
    turnTimeoutMs: milliseconds().optional(),
    // opencode retries a failing provider forever; three retries ride out a blip, not an outage.
    maxProviderRetries: z.number().int().nonnegative().default(3),
    permissions: z
      .union([PermissionReply, callback<PermissionPolicy>('"once", "always", "reject"')])
      .default("reject"),
    questions: z.union([z.literal("reject"), callback<QuestionPolicy>('"reject"')]).default("reject"),
    attachmentSchemes: z
      .array(z.enum(["data", "file", "http", "https"]))
      .default([...DEFAULT_ATTACHMENT_SCHEMES]),
    attachmentTypes: z.array(mimePattern).default([...DEFAULT_ATTACHMENT_TYPES]),
    // The six core reply kinds, or those and everything else opencode says (docs/vocabulary.md).
    vocabulary: Vocabulary.default("core"),
  })
  .refine((c) => (c.providerID === undefined) === (c.modelID === undefined), {
    message: "give both providerID and modelID, or neither (the server's default model)",
    path: ["providerID"],
  });

export type AdapterConfigInput = z.input<typeof AdapterConfig>;
export type ResolvedConfig = z.output<typeof AdapterConfig> & { username: string; password: string | undefined };

/** One bad field of a config: where it is (`providerID`, `permissions`, or `(config)` for the whole) and what is wrong. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    /** Every bad field, so a host can point at each one (the message lists them too). */
    readonly issues: readonly ConfigIssue[],
  ) {
    super(`Invalid opencode-turns config:\n${issues.map((issue) => `- ${issue.path}: ${issue.message}`).join("\n")}`);
  }
}

/**
 * Validates a config; the only place in the library that throws. The password never appears in the
 * text. Credentials in `baseUrl` (`http://user:pw@host`) are taken as the username and password and
 * removed from the URL, so the URL can be shown. Username and password given nowhere are read from
 * OPENCODE_SERVER_USERNAME and OPENCODE_SERVER_PASSWORD.
 */
export function resolveConfig(input: unknown, env: Record<string, string | undefined> = process.env): ResolvedConfig {
  const parsed = AdapterConfig.safeParse(input);
  const issues: ConfigIssue[] = parsed.success
    ? []
    : parsed.error.issues.map((issue) => ({ path: issue.path.join(".") || "(config)", message: issue.message }));
  const url = parsed.success ? new URL(parsed.data.baseUrl) : undefined;
  const inUrl = url !== undefined && (url.username !== "" || url.password !== "");
  const given = input as { username?: unknown; password?: unknown };
  if (inUrl && (given.username !== undefined || given.password !== undefined)) {
    issues.push({ path: "baseUrl", message: "holds credentials and so does username or password; give them in one place" });
  }
  if (!parsed.success || issues.length > 0) throw new ConfigError(issues);
  const config = parsed.data;
  let { username, password } = config;
  if (inUrl) {
    if (url.username !== "") username = decoded(url.username);
    if (url.password !== "") password = decoded(url.password);
    url.username = "";
    url.password = "";
  }
  return {
    ...config,
    baseUrl: url!.href.replace(/\/+$/, ""),
    username: username ?? (env.OPENCODE_SERVER_USERNAME || "opencode"),
    password: password ?? env.OPENCODE_SERVER_PASSWORD,
  };
}

/** The URL's percent-encoding undone; a malformed escape is kept as written. */
function decoded(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    return component;
  }
}

/** The process's shared `/event` hub for this config's server, directory and credentials; release the lease when done. */
export function acquireHubFor(config: ResolvedConfig): ReturnType<typeof acquireHub> {
  const { baseUrl, username, password, directory, connectTimeoutMs, bodyTimeoutMs, heartbeatTimeoutMs } = config;
  return acquireHub({ baseUrl, username, password, directory, connectTimeoutMs, bodyTimeoutMs }, { heartbeatTimeoutMs });
}
