import { asHostCall } from "./host-calls.js";
import type { Reply } from "../contract/replies.js";
import { reasonOf } from "../contract/turn-error.js";
import type { Warn } from "./warnings.js";

/** Receives every reply, one call each, in order; a returned promise is awaited before the next. */
export type Sink = (reply: Reply) => void | Promise<void>;

/**
 * Hands an adapter's replies to the sink one at a time, in order, awaiting each; a throwing sink is
 * logged. One queue per adapter, so replies of consecutive turns never reach the sink at once.
 */
export class ReplyQueue {
  private readonly items: Reply[] = [];
  private next = 0;
  private active = false;
  private draining: Promise<void> = Promise.resolve();

  constructor(
    private readonly sink: Sink,
    private readonly warn: Warn,
    owner: object,
  ) {
    this.#owner = owner;
  }

  /** Whose host calls the sink calls are (see host-calls.ts); private, so the adapter serializes without a cycle. */
  readonly #owner: object;

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
        const reply = this.items[this.next]!;
        // Delivered replies are not kept: a long-lived adapter's queue stays as small as its backlog.
        this.items[this.next++] = undefined as never;
        try {
          const pending = asHostCall(this.#owner, this.sink, reply);
          if (pending !== undefined) await pending;
        } catch (error) {
          this.warn(`opencode-turns: the sink threw on a ${reply.kind} reply; the turn goes on: ${reasonOf(error)}`);
        }
      }
      this.items.length = 0;
      this.next = 0;
    } finally {
      this.active = false;
    }
  }
}
