/**
 * What `run` is doing while nothing else shows (starting opencode, connected, waiting for the
 * model): one line on stderr with the time so far, rewritten in place, and gone once the turn's
 * first reply shows. Only when stderr is a terminal: a pipe or a file gets none of it.
 */
export class Progress {
  private text: string | undefined;
  private done = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly started = Date.now();

  constructor(
    private readonly err: NodeJS.WriteStream,
    private readonly enabled: boolean,
    private readonly dim: (text: string) => string,
  ) {}

  /** Shows `text` in place of the line before. */
  say(text: string): void {
    if (!this.enabled || this.done) return;
    this.text = text;
    this.draw();
    // The seconds go on counting, so a slow start does not look like a hang.
    this.timer ??= setInterval(() => this.draw(), 500).unref();
  }

  /** Removes the line for good: the turn shows itself from now on. */
  end(): void {
    this.done = true;
    clearInterval(this.timer);
    if (this.text === undefined) return;
    this.err.write("\r\u001b[K");
    this.text = undefined;
  }

  private draw(): void {
    this.err.write(`\r\u001b[K${this.dim(`${this.text} ${((Date.now() - this.started) / 1000).toFixed(0)} s`)}`);
  }
}
