import type { Reply } from "./replies.js";

/** Receives every reply, one call each, in order; a returned promise is awaited before the next. */
export type Sink = (reply: Reply) => void | Promise<void>;

/** Hands replies to the sink one at a time, in order, awaiting each; a throwing sink is logged. */
export class ReplyQueue {
  private readonly items: Reply[] = [];
  private next = 0;
  private active = false;
  private draining: Promise<void> = Promise.resolve();

  constructor(
    private readonly sink: Sink,
    private readonly logger: Pick<Console, "warn">,
  ) {}

  push(replies: readonly Reply[]): void {
    if (replies.length === 0) return;
    for (const reply of replies) this.items.push(reply);
    if (this.active) return;
    // A synchronous sink drains the queue before drain() returns: `active` is the truth, not the promise.
    this.active = true;
    this.draining = this.drain();
  }

  /** Resolves once every reply pushed so far has been handed to the sink (and its promise settled). */
  async drained(): Promise<void> {
    while (this.active) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (this.next < this.items.length) {
        const reply = this.items[this.next++]!;
        try {
          const pending = this.sink(reply);
          if (pending !== undefined) await pending;
        } catch (error) {
          this.logger.warn(`opencode-turns: the sink threw on a ${reply.kind} reply; the turn goes on: ${(error as Error)?.message ?? error}`);
        }
      }
    } finally {
      this.active = false;
    }
  }
}
