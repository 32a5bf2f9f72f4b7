/**
 * The connection options every command that talks to opencode takes (`run`, `bridge`), and
 * `connect()`: from those options to an adapter config, starting an embedded opencode (or the
 * offline demo) when no `--url` is given.
 */
import type { ParseArgsConfig } from "node:util";
import { ConfigError, resolveConfig, SessionId, type AdapterConfigInput, type PermissionPolicy } from "../host/config.js";
import { PermissionMode } from "../contract/decisions.js";
import { startDemo } from "../embedded/demo.js";
import { providerProblem } from "../embedded/providers.js";
import { startOpencode } from "../embedded/server.js";
import { UsageError } from "./command.js";

/** The options that say which server to use, in `node:util` `parseArgs` form: every command that talks to opencode takes them. */
export const serverOptions = {
  url: { type: "string" },
  username: { type: "string" },
  password: { type: "string" },
  directory: { type: "string" },
  "opencode-bin": { type: "string" },
  demo: { type: "boolean" },
  verbose: { type: "boolean" },
} as const satisfies NonNullable<ParseArgsConfig["options"]>;

/** The server options and a turn's settings; spread them into the options of a command that runs turns. */
export const connectionOptions = {
  ...serverOptions,
  session: { type: "string" },
  model: { type: "string" },
  agent: { type: "string" },
  system: { type: "string" },
  permissions: { type: "string" },
  timeout: { type: "string" },
} as const satisfies NonNullable<ParseArgsConfig["options"]>;

const serverLines = `Connection:
  --url URL                 a running opencode server (env OPENCODE_URL); without it,
                            opencode-turns starts \`opencode serve\` itself and stops it after
  --username NAME           its Basic-auth user (env OPENCODE_SERVER_USERNAME, default opencode)
  --password SECRET         its password (env OPENCODE_SERVER_PASSWORD)
  --opencode-bin PATH       the opencode binary to start (env OPENCODE_BIN; default: the installed
                            opencode-ai package, then \`opencode\` on PATH)
  --demo                    start opencode with a built-in offline model, in a temporary
                            directory (no API key, no network); with --permissions, its bash
                            call is asked about, and the mode decides
  --directory DIR           the project directory (default: the server's, or here when started here)`;

/** The `--help` lines of the server options, for a command that runs no turn. */
export const serverUsage = `${serverLines}
  --verbose                 diagnostics on stderr`;

/** The `--help` lines of the connection options. */
export const connectionUsage = `${serverLines}
Turn:
  --session ID              continue this session (ses...) instead of starting a new one
  --model PROVIDER/MODEL    e.g. anthropic/claude-sonnet-4-5 (default: opencode's configured model)
  --agent NAME              the opencode agent, e.g. build or plan
  --system TEXT             extra system prompt
  --permissions MODE        once | always | reject | ask: how to answer opencode's permission asks
                            (default reject; ask asks here, and is reject with no terminal)
  --timeout SECONDS         stop the turn after this long
  --verbose                 diagnostics on stderr`;

/** The values `parseArgs` gives for `connectionOptions`. */
export interface ConnectionValues {
  url?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  directory?: string | undefined;
  session?: string | undefined;
  model?: string | undefined;
  agent?: string | undefined;
  system?: string | undefined;
  permissions?: string | undefined;
  timeout?: string | undefined;
  "opencode-bin"?: string | undefined;
  demo?: boolean | undefined;
  verbose?: boolean | undefined;
}

export interface ConnectOptions {
  /** Where OPENCODE_URL, OPENCODE_SERVER_USERNAME, OPENCODE_SERVER_PASSWORD and OPENCODE_BIN are read. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** The policy for `--permissions ask`. Without one nobody can be asked, and `ask` is `reject`. */
  ask?: PermissionPolicy;
  /** Diagnostics, one line each (shown with `--verbose`). */
  log?: (line: string) => void;
  /** With --demo: opencode asks before the demo's bash call. Default: when --permissions is given. */
  demoAsks?: boolean;
  /** What is happening now, for a person waiting: a few words, e.g. "Starting opencode…". */
  progress?: (stage: string) => void;
}

export interface ServerConnection {
  /** The config for `new OpenCodeAdapter(config, sink)`: server, credentials and turn settings. */
  config: AdapterConfigInput;
  /** What serves the turns: the server at `--url`, one started here, or the offline demo. */
  server: "remote" | "embedded" | "demo";
  /** Stops the server started here (and the demo model), if any; nothing for `remote`. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Checks the options, then connects: to `--url`, or to an opencode started here (`--demo`: with the
 * offline model). Throws `UsageError` for an invalid option before starting anything,
 * `OpencodeStartError` when opencode cannot be started, and a `TurnError` (`provider_error`) when
 * opencode has no provider, or not the model given by `--model`.
 */
export async function connect(values: ConnectionValues, options: ConnectOptions = {}): Promise<ServerConnection> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const progress = options.progress ?? (() => {});
  const url = values.url ?? env.OPENCODE_URL;
  const username = values.username ?? env.OPENCODE_SERVER_USERNAME;
  const password = values.password ?? env.OPENCODE_SERVER_PASSWORD;
  const bin = values["opencode-bin"] ?? env.OPENCODE_BIN;
  if (values.demo && values.url) throw new UsageError("--demo starts its own opencode: leave out --url.");
  if (values.demo && values.directory) throw new UsageError("--demo runs in a temporary directory of its own: leave out --directory.");
  const turn = turnSettings(values, options.ask);

  if (url && !values.demo) {
    const config: AdapterConfigInput = {
      baseUrl: url,
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      ...(values.directory ? { directory: values.directory } : {}),
      ...turn,
    };
    checkConfig(config);
    log(`using the opencode server at ${url}`);
    progress("Asking opencode for its providers…");
    const problem = await providerProblem(config).catch(() => undefined);
    if (problem) throw problem;
    return { server: "remote", config, stop: async () => {} };
  }

  if (values.demo) {
    log("starting opencode with the offline demo model");
    progress("Starting opencode with the offline demo model…");
    // A permission mode given: the demo's bash call is asked about, so the mode is seen deciding it.
    const demo = await startDemo({ ...(bin ? { bin } : {}), bash: (options.demoAsks ?? values.permissions !== undefined) ? "ask" : "allow" });
    log(`opencode ${demo.bin} listening on ${demo.url} (pid ${demo.pid}) in ${demo.directory}`);
    return {
      server: "demo",
      config: {
        baseUrl: demo.url,
        username: demo.username,
        password: demo.password,
        providerID: demo.providerID,
        modelID: demo.modelID,
        ...turn,
      },
      stop: demo.stop,
    };
  }

  log(`starting opencode serve in ${values.directory ?? process.cwd()}`);
  progress("Starting opencode…");
  const server = await startOpencode({
    ...(bin ? { bin } : {}),
    ...(values.directory ? { directory: values.directory } : {}),
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
  });
  log(`opencode ${server.bin} listening on ${server.url} (pid ${server.pid})`);
  const config = { baseUrl: server.url, username: server.username, password: server.password, ...turn };
  progress("Asking opencode for its providers…");
  const problem = await providerProblem(config).catch(() => undefined);
  if (problem) {
    await server.stop();
    throw problem;
  }
  return { server: "embedded", config, stop: server.stop };
}

/** The options with the session a command takes as its argument; `--session` as well is a usage error, not a silent choice of one. */
export function withSession<T extends ConnectionValues>(values: T, session: string): T {
  if (values.session !== undefined) throw new UsageError("The session is this command's argument: leave out --session.");
  return { ...values, session };
}

/** The option (or variable) behind each config field, for saying which one is wrong. */
const OPTION_OF: Record<string, string> = {
  baseUrl: "--url (or OPENCODE_URL)",
  username: "--username (or OPENCODE_SERVER_USERNAME)",
  password: "--password (or OPENCODE_SERVER_PASSWORD)",
  directory: "--directory",
  agent: "--agent",
};

/** A config the adapter would refuse is a usage error, named by its options. */
function checkConfig(config: AdapterConfigInput): void {
  try {
    resolveConfig(config, {});
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new UsageError(error.issues.map((issue) => `${OPTION_OF[issue.path] ?? issue.path}: ${issue.message}`).join("\n"));
  }
}

/** The turn's settings from the options; every value is checked here, before anything starts. */
function turnSettings(values: ConnectionValues, ask: PermissionPolicy | undefined): Partial<AdapterConfigInput> {
  const settings: Partial<AdapterConfigInput> = {};
  if (values.session !== undefined) {
    if (!SessionId.safeParse(values.session).success) throw new UsageError(`--session ${values.session}: an opencode session id starts with "ses".`);
    settings.sessionId = values.session;
  }
  if (values.model !== undefined) {
    const slash = values.model.indexOf("/");
    if (slash <= 0 || slash === values.model.length - 1) {
      throw new UsageError(`--model ${values.model}: give it as PROVIDER/MODEL, e.g. anthropic/claude-sonnet-4-5.`);
    }
    settings.providerID = values.model.slice(0, slash);
    settings.modelID = values.model.slice(slash + 1);
  }
  if (values.agent !== undefined) settings.agent = values.agent;
  if (values.system !== undefined) settings.system = values.system;
  if (values.permissions !== undefined) {
    const mode = PermissionMode.safeParse(values.permissions);
    if (!mode.success) throw new UsageError(`--permissions ${values.permissions}: expected one of ${PermissionMode.options.join(", ")}.`);
    settings.permissions = mode.data === "ask" ? (ask ?? "reject") : mode.data;
  }
  if (values.timeout !== undefined) {
    const seconds = Number(values.timeout);
    if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`--timeout ${values.timeout}: expected a number of seconds above 0.`);
    settings.turnTimeoutMs = Math.max(1, Math.round(seconds * 1000));
  }
  return settings;
}
