interface Unstarted {
  cancelled: boolean;
  ended: Promise<unknown>;
}

/**
 * The order of an adapter's turns and what its close() cuts short. Turns run one at a time in call
 * order; once closed, nothing waits any more for a turn ahead or a sink that never settles.
 */
export class TurnQueue {
  private tail: Promise<unknown> = Promise.resolve();
  /** Waits close() cuts short. */
  private readonly closeWaiters = new Set<() => void>();
  /** Turns queued or running whose replies are not all handed over: a refusal's reply goes after theirs. */
  private ahead = 0;
  private isClosed = false;
  /** Turns queued whose run has not begun, oldest first. */
  private readonly unstarted = new Set<Unstarted>();

  get closed(): boolean {
    return this.isClosed;
  }

  /** No turn is queued or running. */
  get idle(): boolean {
    return this.ahead === 0;
  }

  /** Runs `job` after everything queued before it (or once closed); what comes after waits for it, not for its failure. */
  enqueue<T>(job: () => Promise<T>, { counted = false }: { counted?: boolean } = {}): Promise<T> {
    if (counted) this.ahead++;
    const run = this.untilClosed(this.tail).then(job);
    const settled = counted ? run.finally(() => this.ahead--) : run;
    this.tail = settled.catch(() => undefined);
    return settled;
  }

  /**
   * Queues a turn that may be cancelled before it begins: `run` is told whether cancelNext() came
   * between the call and the turn's start (a turn begins on a later tick than its prompt()).
   */
  enqueueTurn<T>(run: (cancelled: boolean) => Promise<T>): Promise<T> {
    const pending: Unstarted = { cancelled: false, ended: Promise.resolve() };
    this.unstarted.add(pending);
    const ended = this.enqueue(() => {
      this.unstarted.delete(pending);
      return run(pending.cancelled);
    }, { counted: true });
    pending.ended = ended;
    return ended;
  }

  /** Cancels the oldest turn queued but not yet begun, if any; resolves once it has ended. */
  async cancelNext(): Promise<void> {
    const next = this.unstarted.values().next().value;
    if (next === undefined) return;
    next.cancelled = true;
    await next.ended;
  }

  /** Calls `wake` on close(); returns what forgets it. */
  onClose(wake: () => void): () => void {
    this.closeWaiters.add(wake);
    return () => this.closeWaiters.delete(wake);
  }

  /**
   * Settles with `wait` (its rejection is swallowed: the turns ahead never reject), or once close()
   * is called. Not Promise.race with a promise that settles at close: each race would leave a
   * reaction on it, and with it the turn, for the adapter's whole life.
   */
  untilClosed(wait: Promise<unknown>): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = () => {
        this.closeWaiters.delete(wake);
        resolve();
      };
      this.closeWaiters.add(wake);
      wait.then(wake, wake);
    });
  }

  /** From now on nothing waits: every wait cut short now, and every later one at once. */
  close(): void {
    this.isClosed = true;
    for (const wake of this.closeWaiters) wake();
    this.closeWaiters.clear();
  }
}
