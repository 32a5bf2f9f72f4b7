/**
 * Starting and stopping an embedded `opencode serve`: a free loopback port we choose, a generated
 * password, and a process that is gone when `stop()` resolves, when this process exits, and when it
 * dies without running any handler.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import which from "which";
import { listenOnLoopback } from "../contract/loopback.js";
import { isolatedEnv } from "./isolated-home.js";
import { guardProcess } from "./process-guard.js";

export interface StartOpencodeOptions {
  /** The opencode binary. Default: env `OPENCODE_BIN`, the installed `opencode-ai` package, `opencode` on PATH. */
  bin?: string;
  /** The server's working directory, its default project. Default: `process.cwd()`, or a new temp dir when `isolated`. */
  directory?: string;
  /** opencode config (the `opencode.json` shape), given to the server as `OPENCODE_CONFIG_CONTENT`. */
  config?: Record<string, unknown>;
  /**
   * Give the server its own HOME and XDG dirs in a temp dir that `stop()` removes, and run it `--pure`:
   * none of the user's config, credentials, plugins or sessions. Default false: the user's opencode,
   * with its providers and sessions.
   */
  isolated?: boolean;
  /**
   * With `isolated`: give opencode an empty models.dev catalog instead of the one bundled in it, for a
   * config that defines every provider and model it uses (the demo's, a test's scripted model).
   * Reading the bundled catalog is most of a fresh server's first turn: 5.2 to 5.7 s of its CPU
   * against 1.8 s with an empty one on 1.18 (2.4 to 2.6 against 1.8 s on 1.15). Without the catalog
   * opencode knows no provider the config does not define.
   */
  emptyModelCatalog?: boolean;
  /** Basic-auth user. Default `opencode`. */
  username?: string;
  /** Basic-auth password. Default: 32 random hex digits. */
  password?: string;
  /** Extra environment variables for the server. */
  env?: Record<string, string>;
  /** Pass `--print-logs --log-level LEVEL`: the server's log then shows in `output()`. */
  logLevel?: "DEBUG" | "INFO" | "WARN" | "ERROR";
  /** How long to wait until it listens. Default 30 s. */
  startTimeoutMs?: number;
  /** The loopback port to listen on. Default: one that is free. */
  port?: number;
}

export interface OpencodeProcess {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  username: string;
  password: string;
  /** The server's working directory. */
  directory: string;
  /** The binary that runs. */
  bin: string;
  pid: number;
  /** The server's stdout and stderr so far (the last 256 KiB). */
  output(): string;
  /** Stops the server (SIGTERM, SIGKILL after 3 s), waits until it is gone, removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** Why an embedded opencode could not be started; the message says what to do. */
export class OpencodeStartError extends Error {
  override readonly name = "OpencodeStartError";
  constructor(
    message: string,
    /** `not_found`: no opencode binary, or no such directory; `exited`: it ended before it listened; `timeout`: it stayed silent. */
    readonly reason: "not_found" | "exited" | "timeout",
  ) {
    super(message);
  }
}

/**
 * Starts `opencode serve` on a free loopback port with a generated password and resolves once it
 * listens. Rejects with `OpencodeStartError` when there is no binary, or it exits or stays silent.
 */
export async function startOpencode(options: StartOpencodeOptions = {}): Promise<OpencodeProcess> {
  if (options.emptyModelCatalog && !options.isolated) throw new TypeError("emptyModelCatalog is for an isolated server: give isolated: true as well");
  const bin = findOpencode(options.bin);
  // The port is free when chosen and taken by opencode a moment later; another process can take it
  // in between, and opencode then exits at once with "ServeError". Only that is retried.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(bin, options);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof PortTaken)) throw error;
    }
  }
}

/** The opencode binary: the one given, env `OPENCODE_BIN`, the installed `opencode-ai` package, or `opencode` on PATH. */
export function findOpencode(bin?: string, env: Record<string, string | undefined> = process.env): string {
  const given = bin ?? env.OPENCODE_BIN;
  if (given) {
    if (!existsSync(given)) throw new OpencodeStartError(`The opencode binary ${given} does not exist.`, "not_found");
    return given;
  }
  const installed = installedPackageBinary();
  if (installed !== undefined) return installed;
  const onPath = which.sync("opencode", { nothrow: true, path: env.PATH });
  if (onPath) return onPath;
  throw new OpencodeStartError(
    "opencode is not installed. Install it next to opencode-turns with `npm install opencode-ai` " +
      "(or see https://opencode.ai/docs for other ways), or give the path of its binary in OPENCODE_BIN.",
    "not_found",
  );
}

function installedPackageBinary(): string | undefined {
  let manifest: string;
  try {
    manifest = createRequire(import.meta.url).resolve("opencode-ai/package.json");
  } catch {
    return undefined;
  }
  const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { bin?: string | Record<string, string> };
  const relative = typeof pkg.bin === "string" ? pkg.bin : pkg.bin?.opencode;
  if (relative === undefined) return undefined;
  const file = path.resolve(path.dirname(manifest), relative);
  // The package's install script puts the binary there; without it (scripts disabled) it is absent.
  return existsSync(file) ? file : undefined;
}

/** A loopback port that was free a moment ago (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.unref();
  const port = await listenOnLoopback(server);
  await new Promise((closed) => server.close(closed));
  if (!port) throw new Error("the system gave no free port");
  return port;
}

/** opencode lost the port we chose to another process (its "ServeError"); the only failure retried. */
class PortTaken extends OpencodeStartError {
  constructor(output: string) {
    super(`opencode could not listen on the port chosen for it (another process took it):\n${output}`, "exited");
  }
}

const OUTPUT_LIMIT = 256 * 1024;

async function launch(bin: string, options: StartOpencodeOptions): Promise<OpencodeProcess> {
  const username = options.username ?? "opencode";
  const password = options.password ?? randomBytes(16).toString("hex");
  if (options.directory !== undefined && !existsSync(options.directory)) {
    throw new OpencodeStartError(`The directory ${options.directory} does not exist.`, "not_found");
  }
  const root = options.isolated ? await mkdtemp(path.join(os.tmpdir(), "opencode-turns-")) : undefined;
  try {
    return await spawnServer(bin, options, root, { username, password });
  } catch (error) {
    if (root !== undefined) await rm(root, { recursive: true, force: true });
    throw error;
  }
}

async function spawnServer(
  bin: string,
  options: StartOpencodeOptions,
  root: string | undefined,
  { username, password }: { username: string; password: string },
): Promise<OpencodeProcess> {
  const env = root === undefined ? inheritedEnv() : await isolatedEnv(root, options.emptyModelCatalog ?? false);
  const directory = options.directory ?? (root === undefined ? process.cwd() : path.join(root, "work"));
  if (root !== undefined) await mkdir(directory, { recursive: true });
  Object.assign(env, {
    OPENCODE_SERVER_USERNAME: username,
    OPENCODE_SERVER_PASSWORD: password,
    OPENCODE_DISABLE_AUTOUPDATE: "1",
    ...(options.config ? { OPENCODE_CONFIG_CONTENT: JSON.stringify(options.config) } : {}),
    ...options.env,
  });

  const port = options.port ?? (await freePort());
  const args = ["serve", "--port", String(port), "--hostname", "127.0.0.1"];
  if (options.isolated) args.push("--pure");
  if (options.logLevel) args.push("--print-logs", "--log-level", options.logLevel);

  const posix = process.platform !== "win32";
  const child = spawn(bin, args, { cwd: directory, env, stdio: ["ignore", "pipe", "pipe"], detached: posix });
  const guard = guardProcess(child, root);

  let out = "";
  const collect = (chunk: Buffer) => {
    out += chunk.toString("utf8");
    if (out.length > OUTPUT_LIMIT) out = out.slice(-OUTPUT_LIMIT);
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);

  try {
    const url = await listening(child, () => out, options.startTimeoutMs ?? 30_000);
    return { url, username, password, directory, bin, pid: child.pid!, output: () => out, stop: guard.stop };
  } catch (error) {
    await guard.stop();
    throw error;
  }
}

/** The user's environment, less the server credentials this module sets. */
function inheritedEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && key !== "OPENCODE_SERVER_PASSWORD" && key !== "OPENCODE_SERVER_USERNAME") env[key] = value;
  }
  return env;
}

/** Resolves with the URL from opencode's "listening" line; rejects if it exits or stays silent first. */
function listening(child: ChildProcess, output: () => string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    const onData = (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      const match = /opencode server listening on (http:\/\/\S+)/.exec(stdout);
      if (match) settle(() => resolve(match[1]!.replace(/\/+$/, "")));
    };
    // "close", not "exit": by then all of its output has been read.
    const onClose = (code: number | null, signal: string | null) => {
      const text = output();
      const error = /ServeError/.test(text)
        ? new PortTaken(text)
        : new OpencodeStartError(`opencode exited before it listened (code ${code}, signal ${signal}): ${said(text)}`, "exited");
      settle(() => reject(error));
    };
    const onError = (error: Error) =>
      settle(() => reject(new OpencodeStartError(`opencode could not be started: ${error.message}`, "exited")));
    const timer = setTimeout(
      () => settle(() => reject(new OpencodeStartError(`opencode did not listen within ${timeoutMs} ms: ${said(output())}`, "timeout"))),
      timeoutMs,
    );
    function settle(finish: () => void) {
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      child.off("close", onClose);
      child.off("error", onError);
      finish();
    }
    child.stdout!.on("data", onData);
    child.once("close", onClose);
    child.once("error", onError);
  });
}

const TAIL_LINES = 20;

/** The end of what the process printed, or that it printed nothing. */
function said(output: string): string {
  const lines = output.trimEnd().split("\n");
  if (lines.join("").trim() === "") return "it printed nothing.";
  const tail = lines.slice(-TAIL_LINES).join("\n");
  return `${lines.length > TAIL_LINES ? "the end of what it printed" : "it printed"}:\n${tail}`;
}
