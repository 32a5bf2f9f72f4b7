/**
 * Watches one turn's progress, not the socket's: a stream can stay open, heartbeats and all, while
 * nothing comes for the turn's session (opencode's most reported server bug). When nothing has come
 * for `quietMs`, `onQuiet` asks the server; the wait starts again once it has answered. While the
 * stream is paused (`StreamPause`) nothing is silence: the quiet is counted from the resume. Its timer
 * does not keep the process alive (the connection does, while it is wanted); `stop()` ends it.
 */
export class ProgressWatch {
  #heardAt = performance.now();
  #timer: NodeJS.Timeout;
  #stopped = false;

  constructor(
    private readonly quietMs: number,
    private readonly onQuiet: (heardAt: number) => Promise<void>,
    private readonly pause?: StreamPause,
  ) {
    this.#timer = setTimeout(this.#fire, quietMs).unref();
  }

  /** When something last came for the turn (`performance.now()`). */
  get heardAt(): number {
    return this.#heardAt;
  }

  /** Something came for the turn: cheap, it only notes when (this runs once per batch). */
  heard(): void {
    this.#heardAt = performance.now();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  readonly #fire = (): void => {
    if (this.#stopped) return;
    if (this.pause?.held) return this.#arm(this.quietMs);
    const since = Math.max(this.#heardAt, this.pause?.resumedAt ?? 0);
    const quietFor = performance.now() - since;
    if (quietFor < this.quietMs) {
      this.#arm(this.quietMs - quietFor);
      return;
    }
    void this.onQuiet(since)
      .catch(() => undefined)
      .finally(() => {
        this.heard();
        this.#arm(this.quietMs);
      });
  };

  #arm(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(this.#fire, ms).unref();
  }
}

/**
 * Holds on reading the hub's `/event` stream: while one is held (and not lifted) the hub reads no
 * further, so TCP backpressure reaches opencode and it slows down. A reply sink that is behind holds
 * it (the bridge's stdout); a paused period is not the session's silence, and a stopping turn lifts it.
 */
export class StreamPause {
  #holds = 0;
  #liftedUntil = 0;
  /** When reading last resumed (`performance.now()`): silence is counted from here, not from before the pause. */
  #resumedAt = 0;
  #waiters: Array<() => void> = [];

  get held(): boolean {
    return this.#holds > 0 && performance.now() >= this.#liftedUntil;
  }

  get resumedAt(): number {
    return this.#resumedAt;
  }

  /** Holds the stream until the returned function is called (calling it again does nothing). */
  hold(): () => void {
    this.#holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#holds === 0) this.#resume();
    };
  }

  /**
   * Reads on for `ms` whatever holds it: a stopping turn needs the abort's end from the stream, and
   * must not wait out its grace behind a host that does not read. Reading stops again after `ms`.
   */
  lift(ms: number): void {
    this.#liftedUntil = Math.max(this.#liftedUntil, performance.now() + ms);
    this.#resume();
  }

  /** `chunks`, read no further while held (or until `signal` aborts); `watchdog` starts afresh when reading goes on. */
  async *gate<T>(chunks: AsyncIterable<T>, signal: AbortSignal, watchdog: { refresh(): unknown }): AsyncGenerator<T> {
    for await (const chunk of chunks) {
      yield chunk;
      if (!this.held) continue;
      await this.released(signal);
      watchdog.refresh();
    }
  }

  /** Resolves once reading may go on, or at once when `signal` aborts (a cut or closed stream never waits). */
  async released(signal: AbortSignal): Promise<void> {
    while (this.held && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          signal.removeEventListener("abort", wake);
          this.#waiters = this.#waiters.filter((waiter) => waiter !== wake);
          resolve();
        };
        this.#waiters.push(wake);
        signal.addEventListener("abort", wake, { once: true });
      });
    }
  }

  #resume(): void {
    this.#resumedAt = performance.now();
    for (const wake of this.#waiters.slice()) wake();
  }
}
