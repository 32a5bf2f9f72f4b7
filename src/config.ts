import { z } from "zod";
import type { PermissionRequest, QuestionRequest } from "./events.js";

export type PermissionReply = "once" | "always" | "reject";
/** The answer to a permission ask; a `message` with `reject` is fed back to the model, which continues. */
export type PermissionDecision = PermissionReply | { reply: PermissionReply; message?: string };
export type PermissionPolicy = (request: PermissionRequest) => PermissionDecision | Promise<PermissionDecision>;
/** One answer (a list of chosen labels) per question, or "reject". */
export type QuestionDecision = string[][] | "reject";
export type QuestionPolicy = (request: QuestionRequest) => QuestionDecision | Promise<QuestionDecision>;

const callback = <T>(what: string) =>
  z.custom<T>((value) => typeof value === "function", { message: `expected ${what} or a function` });

export const DEFAULT_REJECT_MESSAGE =
  "This tool call was not allowed by the host's permission policy. Continue without it.";

export const AdapterConfig = z
  .strictObject({
    baseUrl: z.url({ protocol: /^https?$/, error: "expected an http(s) URL such as http://127.0.0.1:4096" }),
    username: z.string().min(1).optional(),
    password: z.string().optional(),
    directory: z.string().min(1).optional(),
    sessionId: z.string().startsWith("ses", { error: "expected an opencode session id (ses...)" }).optional(),
    sessionTitle: z.string().optional(),
    providerID: z.string().min(1).optional(),
    modelID: z.string().min(1).optional(),
    agent: z.string().min(1).optional(),
    system: z.string().optional(),
    // Ten seconds: far above what a local or LAN server needs to answer, short enough that a host
    // learns of a dead server before its user gives up.
    connectTimeoutMs: z.number().int().positive().default(10_000),
    // opencode beats every 10 s: three missed beats is a dead stream, not a slow one.
    heartbeatTimeoutMs: z.number().int().positive().default(30_000),
    turnTimeoutMs: z.number().int().positive().optional(),
    // opencode retries a failing provider forever; three retries ride out a blip, not an outage.
    maxProviderRetries: z.number().int().nonnegative().default(3),
    permissions: z
      .union([z.enum(["once", "always", "reject"]), callback<PermissionPolicy>('"once", "always", "reject"')])
      .default("reject"),
    questions: z.union([z.literal("reject"), callback<QuestionPolicy>('"reject"')]).default("reject"),
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
 * text. Username and password not given are read from OPENCODE_SERVER_USERNAME and OPENCODE_SERVER_PASSWORD.
 */
export function resolveConfig(input: unknown, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const parsed = AdapterConfig.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => ({ path: issue.path.join(".") || "(config)", message: issue.message })));
  }
  const config = parsed.data;
  return {
    ...config,
    baseUrl: config.baseUrl.replace(/\/+$/, ""),
    username: config.username ?? (env.OPENCODE_SERVER_USERNAME || "opencode"),
    password: config.password ?? env.OPENCODE_SERVER_PASSWORD,
  };
}
