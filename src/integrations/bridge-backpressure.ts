import { acquireHubFor, resolveConfig, type AdapterConfigInput } from "../host/config.js";
import type { Backlog } from "./bridge-lines.js";

/**
 * Holds the `/event` stream of the bridge's server while stdout is behind, so a slow host slows the
 * turn (TCP backpressure to opencode) instead of the bridge holding the answer. Every adapter of the
 * bridge shares that one stream (same server, directory and credentials: the process-wide hub), and
 * stdout is one pipe for all sessions: no session's replies could be written anyway, so pausing the
 * shared reader is right here. A stopping turn still reads its end (`StreamPause.lift`).
 */
export class StreamHold implements Backlog {
  private lease: ReturnType<typeof acquireHubFor> | undefined;
  private release: (() => void) | undefined;

  constructor(
    private readonly config: AdapterConfigInput,
    readonly highWaterChars: number,
  ) {}

  onBehind(behind: boolean): void {
    if (!behind) return this.resume();
    if (this.release !== undefined) return;
    this.lease ??= acquireHubFor(resolveConfig(this.config));
    this.release = this.lease.hub.pause.hold();
  }

  /** Reads on, and lets go of the hub (the last of its users closes it). */
  async close(): Promise<void> {
    this.resume();
    await this.lease?.release();
    this.lease = undefined;
  }

  private resume(): void {
    this.release?.();
    this.release = undefined;
  }
}
