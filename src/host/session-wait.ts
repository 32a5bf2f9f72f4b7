import type { Failure } from "../codec/state.js";
import type { SessionClaim } from "./session-claims.js";

/**
 * A turn waiting for another adapter's turn on the same session (at most one per adapter, as its
 * turns never overlap): cancel() and close() make it give up, as do the turn's signal and deadline.
 */
export class SessionWait {
  private waiting: { controller: AbortController; ended: Promise<void> } | undefined;

  constructor(private readonly isClosed: () => boolean) {}

  /**
   * Waits until the claim's turn has come; says why the turn does not start if the wait was given
   * up first: cancel(), the turn's signal, close(), or its deadline (which counts the wait).
   */
  async wait(claim: SessionClaim, signal: AbortSignal | undefined, timeoutMs: number | undefined): Promise<Failure | undefined> {
    const controller = new AbortController();
    let markEnded!: () => void;
    this.waiting = { controller, ended: new Promise<void>((resolve) => (markEnded = resolve)) };
    const giveUp = () => controller.abort();
    let timedOut = false;
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            controller.abort();
          }, timeoutMs);
    try {
      signal?.addEventListener("abort", giveUp, { once: true });
    } catch {
      // A signal that only looks like one is checked once the wait is over.
    }
    try {
      const came = await claim.wait(controller.signal);
      if (this.isClosed()) return { code: "closed", error: "The adapter was closed before the turn started." };
      if (timedOut) return { code: "timeout", error: `The turn waited past its deadline of ${timeoutMs} ms for another turn on its session, and did not start.` };
      if (!came || signal?.aborted) return { code: "aborted", error: "The turn was cancelled before it started." };
      return undefined;
    } finally {
      clearTimeout(timer);
      this.waiting = undefined;
      markEnded();
      try {
        signal?.removeEventListener("abort", giveUp);
      } catch {
        // It holds only giveUp, which does nothing now.
      }
    }
  }

  /** Makes the waiting turn, if any, give up; resolves once it has, with whether there was one. */
  async cancel(): Promise<boolean> {
    const waiting = this.waiting;
    if (waiting === undefined) return false;
    waiting.controller.abort();
    await waiting.ended;
    return true;
  }
}
