/**
 * Turns on one opencode session must not overlap: a prompt sent while the session is busy is folded
 * into the running turn, and one of the two turns then ends with nothing. An adapter runs its own
 * turns one at a time; this serializes the turns of every adapter in the process that drives the same
 * session, first come, first served. Across processes nothing can (see the README).
 */

/** The claim that was taken last on each session: the next one waits for it. */
const lastClaims = new Map<string, Promise<void>>();
const RESOLVED = Promise.resolve();

export interface SessionClaim {
  /** Settles when every earlier claim on the session has been released. */
  readonly ready: Promise<void>;
  /** No claim on the session was held when this one was taken: its turn has come already, nothing to wait for. */
  readonly free: boolean;
  /** Resolves true once the claim's turn has come, false if `signal` is aborted first. */
  wait(signal: AbortSignal): Promise<boolean>;
  /** Lets the next claim go; also before `ready`, for a turn that gave up waiting. Idempotent. */
  release(): void;
}

/** Queues for the session `sessionId` of the server `origin`. */
export function claimSession(origin: string, sessionId: string): SessionClaim {
  const key = `${origin} ${sessionId}`;
  const ahead = lastClaims.get(key);
  const ready = ahead ?? RESOLVED;
  let letGo!: () => void;
  const released = new Promise<void>((resolve) => (letGo = resolve));
  // A claim released before its turn came still holds the next one until the claims ahead are gone.
  const done = ahead === undefined ? released : ahead.then(() => released);
  lastClaims.set(key, done);
  // The last claim of a session, once released, leaves nothing behind.
  void done.then(() => {
    if (lastClaims.get(key) === done) lastClaims.delete(key);
  });
  const wait = (signal: AbortSignal) =>
    new Promise<boolean>((resolve) => {
      if (signal.aborted) return resolve(false);
      const giveUp = () => resolve(false);
      signal.addEventListener("abort", giveUp, { once: true });
      void ready.then(() => {
        signal.removeEventListener("abort", giveUp);
        resolve(!signal.aborted);
      });
    });
  return { ready, free: ahead === undefined, wait, release: letGo };
}
