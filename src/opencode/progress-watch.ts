/**
 * Watches one turn's progress, not the socket's: a stream can stay open, heartbeats and all, while
 * nothing comes for the turn's session (opencode's most reported server bug). When nothing has come
 * for `quietMs`, `onQuiet` asks the server; the wait starts again once it has answered. Its timer
 * does not keep the process alive (the connection does, while it is wanted); `stop()` ends it.
 */
export class ProgressWatch {
  #heardAt = performance.now();
  #timer: NodeJS.Timeout;
  #stopped = false;

  constructor(
    private readonly quietMs: number,
    private readonly onQuiet: (heardAt: number) => Promise<void>,
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
    const quietFor = performance.now() - this.#heardAt;
    if (quietFor < this.quietMs) {
      this.#arm(this.quietMs - quietFor);
      return;
    }
    void this.onQuiet(this.#heardAt)
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
