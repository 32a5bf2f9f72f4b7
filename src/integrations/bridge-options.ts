import type { Readable, Writable } from "node:stream";
import type { Sink } from "../host/adapter.js";
import type { AdapterConfigInput } from "../host/config.js";
import type { PermissionMode, QuestionMode } from "../contract/decisions.js";

export interface BridgeOptions {
  input: Readable;
  output: Writable;
  /** The config of every adapter; its `sessionId` binds the default session. The policies are the bridge's own. */
  config: Omit<AdapterConfigInput, "permissions" | "questions">;
  /** `ask` sends each permission ask (question) to the host and waits for its answer. Default `reject`. */
  permissions?: PermissionMode;
  questions?: QuestionMode;
  /** An ask not answered within this is rejected, so a turn never waits on a host that forgot it. */
  askTimeoutMs?: number;
  /** A key with nothing queued this long has its adapter closed; it keeps its session. Default 5 min. */
  idleKeyMs?: number;
  /**
   * Past this many characters of replies waiting for a host that does not read stdout, the bridge
   * stops reading opencode's stream until less than a quarter of it waits. Default 1 Mi.
   */
  outputHighWaterChars?: number;
  /** Every reply also goes here, in order and awaited (the webhook). */
  sink?: Sink;
  logger?: Pick<Console, "warn">; // warnings (a throwing sink, an ask that timed out); never stdout
  /** Aborting it ends every turn at once, as `close` does (the CLI's SIGINT and SIGTERM). */
  signal?: AbortSignal;
}

export const DEFAULT_ASK_TIMEOUT_MS = 60_000;
export const DEFAULT_IDLE_KEY_MS = 5 * 60_000;
/** Past this many characters of replies waiting for stdout the bridge stops reading opencode's stream. */
export const DEFAULT_OUTPUT_HIGH_WATER_CHARS = 1 << 20;
