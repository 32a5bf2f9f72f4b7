/**
 * Start a real, isolated `opencode serve` for end-to-end tests (the library's `startOpencode`),
 * wired to a scripted model (see `scripted-model.ts`). Everything it writes lives in one temp dir
 * that `stop()` removes.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { modelProviderConfig } from "../src/embedded/model-server.js";
import { isolatedDirs } from "../src/embedded/isolated-home.js";
import { startOpencode, type OpencodeProcess } from "../src/embedded/server.js";
import { OpenCodeAdapter } from "../src/host/adapter.js";

export { freePort } from "../src/embedded/server.js";

export type OpencodeVersion = "1.18.33" | "1.15.13";
export const OPENCODE_VERSIONS: readonly OpencodeVersion[] = ["1.18.33", "1.15.13"];

/** Provider and model ids the server is configured with. */
export const PROVIDER_ID = "scripted";
export const MODEL_ID = "scripted-model";
export const OTHER_MODEL_ID = "other-model";

const BINARIES: Record<OpencodeVersion, URL> = {
  "1.18.33": new URL("../node_modules/opencode-ai/bin/opencode.exe", import.meta.url),
  "1.15.13": new URL("../node_modules/opencode-ai-1-15/bin/opencode.exe", import.meta.url),
};

export function opencodeBinary(version: OpencodeVersion): string {
  return fileURLToPath(BINARIES[version]);
}

export interface StartTestOpencodeOptions {
  /** Default "1.18.33". */
  version?: OpencodeVersion;
  /** Base URL of the OpenAI-compatible model, e.g. `ScriptedModel.url`. */
  modelUrl: string;
  /** Basic-auth password (`OPENCODE_SERVER_PASSWORD`). Default: random. */
  password?: string;
  /** opencode config `permission` block, e.g. `{ bash: "ask" }`. */
  permission?: Record<string, unknown>;
  /** Deep-merged over the generated config (plain objects merge, everything else replaces). */
  extraConfig?: Record<string, unknown>;
  /** Extra environment variables for the server process. */
  env?: Record<string, string>;
  /** Pass `--print-logs --log-level LEVEL` (logs then show in `output()`). */
  logLevel?: "DEBUG" | "INFO" | "WARN" | "ERROR";
  /** How long to wait for the "listening" line. Default 30 s. */
  startTimeoutMs?: number;
}

export interface OpencodeServer {
  /** e.g. `http://127.0.0.1:PORT` (no trailing slash). */
  url: string;
  password: string;
  username: "opencode";
  /** The server's working directory (its default project directory). */
  directory: string;
  version: OpencodeVersion;
  /** The process group of the server running now (it changes with `restart()`). */
  pid: number;
  /** `{ authorization: "Basic ..." }` for this server. */
  headers: Record<string, string>;
  /** Milliseconds from spawn to the "listening" line. */
  startupMs: number;
  /** Collected stdout+stderr (tail). */
  output(): string;
  /** SIGKILL of the whole process group, as a crash: nothing is flushed or closed. Resolves once it is gone. */
  crash(): Promise<void>;
  /**
   * Starts opencode again after `crash()`, as a supervisor would: the same port, password, config,
   * project directory, HOME and XDG dirs (so the same stored sessions). Resolves once it listens.
   */
  restart(): Promise<void>;
  /** SIGTERM, then SIGKILL after a grace period; awaits exit; removes the temp dirs. Idempotent. */
  stop(): Promise<void>;
}

/** `{ authorization: "Basic base64(user:password)" }`. */
export function basicAuthHeaders(password: string, username = "opencode"): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}` };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

/** The opencode config for a server wired to the scripted model. */
export function scriptedConfig(options: Pick<StartTestOpencodeOptions, "modelUrl" | "permission" | "extraConfig">) {
  const config: Record<string, unknown> = {
    $schema: "https://opencode.ai/config.json",
    autoupdate: false,
    share: "disabled",
    provider: {
      [PROVIDER_ID]: modelProviderConfig(options.modelUrl, "Scripted", { [MODEL_ID]: "Scripted Model", [OTHER_MODEL_ID]: "Other Model" }),
    },
    model: `${PROVIDER_ID}/${MODEL_ID}`,
    small_model: `${PROVIDER_ID}/${MODEL_ID}`,
  };
  if (options.permission) config.permission = options.permission;
  return options.extraConfig ? deepMerge(config, options.extraConfig) : config;
}

export async function startTestOpencode(options: StartTestOpencodeOptions): Promise<OpencodeServer> {
  const version = options.version ?? "1.18.33";
  const started = performance.now();
  const launch = (more: { password?: string; port?: number; directory?: string; env?: Record<string, string> }) =>
    startOpencode({
      bin: opencodeBinary(version),
      isolated: true,
      // The config defines the scripted provider whole (models, limits, variants). The tests that are
      // about the providers opencode knows of itself (test/e2e/no-provider.test.ts) start theirs with the catalog.
      emptyModelCatalog: true,
      config: scriptedConfig(options),
      ...(options.password ? { password: options.password } : {}),
      ...(options.logLevel ? { logLevel: options.logLevel } : {}),
      ...(options.startTimeoutMs ? { startTimeoutMs: options.startTimeoutMs } : {}),
      ...more,
      env: { ...options.env, ...more.env },
    });
  const first = await launch({});
  // The first start's temp dir holds the data; a restarted server gets its own (empty) one but is
  // pointed at the first's HOME and XDG dirs. The first's is removed last, by stop().
  const dirs = isolatedDirs(path.dirname(first.directory));
  const port = Number(new URL(first.url).port);
  let current: OpencodeProcess = first;
  const server: OpencodeServer = {
    url: first.url,
    password: first.password,
    username: "opencode",
    directory: first.directory,
    version,
    pid: first.pid,
    headers: basicAuthHeaders(first.password),
    startupMs: Math.round(performance.now() - started),
    output: () => current.output(),
    crash: async () => {
      try {
        process.kill(-current.pid, "SIGKILL");
      } catch {
        // already gone
      }
      // stop() of a killed process only waits for its exit (and removes a restarted one's empty temp dir).
      if (current !== first) await current.stop();
      else while (isAlive(first.pid)) await new Promise((resolve) => setTimeout(resolve, 10));
    },
    restart: async () => {
      current = await launch({ password: first.password, port, directory: first.directory, env: dirs });
      server.pid = current.pid;
    },
    stop: async () => {
      await current.stop();
      await first.stop();
    },
  };
  return server;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs one turn on `server` and closes its adapter: the first turn on a fresh server is slow
 * (seconds), and a test that measures a turn must not be measuring that one.
 */
export async function warmUp(server: OpencodeServer): Promise<void> {
  const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, () => undefined);
  await adapter.prompt("say hello");
  await adapter.close();
}
