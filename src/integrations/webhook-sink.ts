import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Pool, request } from "../opencode/undici.js";
import { backoffDelay } from "../contract/backoff.js";
import type { Reply } from "../contract/replies.js";

export interface WebhookOptions {
  /** Where each reply is POSTed as its JSON body. */
  url: string;
  /** Sent with every POST, e.g. `authorization`. Never logged. */
  headers?: Record<string, string>;
  /** Tries per reply, the first included. Default 5. */
  attempts?: number;
  /** Wait before the second try; it doubles for each further one, up to 8 s. Default 250 ms. */
  backoffMs?: number;
  /** A receiver that has not answered within this is treated like a dropped connection. Default 10 s. */
  timeoutMs?: number;
  /** Where an undeliverable reply is reported. */
  logger?: Pick<Console, "warn">;
}

const MAX_BACKOFF_MS = 8_000;

/** One POST's outcome: done, or worth another try, or not. */
type Attempt = { ok: true } | { ok: false; retry: boolean; reason: string };

/**
 * Delivers replies to an HTTP endpoint, one at a time and in the order given. Connection errors,
 * timeouts and 5xx answers are retried with backoff, a bounded number of times; a 4xx is not. A
 * reply that cannot be delivered is reported and dropped: `deliver` never rejects, so the turn goes on.
 * Every try of one reply carries the same `idempotency-key`, so a receiver can drop a repeat of a
 * reply it took but could not acknowledge.
 */
export class WebhookSink {
  readonly delivered = { ok: 0, failed: 0 };
  private readonly pool: Pool;
  private readonly path: string;
  /** For messages: the URL without its query (which may carry a token). */
  private readonly where: string;
  private readonly headers: Record<string, string>;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private readonly logger: Pick<Console, "warn">;
  private readonly stop = new AbortController();
  private tail: Promise<void> = Promise.resolve();

  constructor(options: WebhookOptions) {
    const url = new URL(options.url);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError(`The sink URL must be http(s), not ${url.protocol}`);
    if (url.username || url.password) throw new TypeError("Give the sink's credentials as a header (--sink-header), not in its URL.");
    this.where = `${url.origin}${url.pathname}`;
    this.path = `${url.pathname}${url.search}`;
    this.attempts = options.attempts ?? 5;
    this.backoffMs = options.backoffMs ?? 250;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.logger = options.logger ?? console;
    this.headers = { ...lowerCaseKeys(options.headers ?? {}), "content-type": "application/json" };
    this.pool = new Pool(url.origin, { connect: { timeout: this.timeoutMs } });
  }

  /** A sink: resolves once the reply is delivered or given up, after every reply given before it. */
  readonly deliver = (reply: Reply): Promise<void> => {
    const turn = this.tail.then(() => this.send(reply));
    this.tail = turn;
    return turn;
  };

  /** Waits for the replies given so far, then closes the connections. */
  async close(): Promise<void> {
    await this.tail;
    this.stop.abort();
    await this.pool.close();
  }

  private async send(reply: Reply): Promise<void> {
    const body = JSON.stringify(reply);
    const headers = { ...this.headers, "idempotency-key": randomUUID() };
    let attempt: Attempt = { ok: false, retry: true, reason: "not tried" };
    for (let tries = 0; tries < this.attempts && !attempt.ok && attempt.retry; tries++) {
      if (tries > 0) {
        const wait = backoffDelay({ firstMs: this.backoffMs, maxMs: MAX_BACKOFF_MS }, tries - 1);
        await sleep(wait, undefined, { signal: this.stop.signal }).catch(() => undefined);
      }
      attempt = await this.post(body, headers);
    }
    if (attempt.ok) {
      this.delivered.ok++;
      return;
    }
    this.delivered.failed++;
    this.logger.warn(
      `opencode-turns: the ${reply.kind} reply of trace ${reply.trace_id} could not be delivered to ${this.where} (${attempt.reason}); the turn goes on without it.`,
    );
  }

  private async post(body: string, headers: Record<string, string>): Promise<Attempt> {
    try {
      const response = await request(this.pool, {
        method: "POST",
        path: this.path,
        headers,
        body,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      // The status is the acknowledgement: a body that fails after a 2xx must not send the reply again.
      await response.body.dump().catch(() => undefined);
      const status = response.statusCode;
      if (status >= 200 && status < 300) return { ok: true };
      return { ok: false, retry: status >= 500, reason: `HTTP ${status}` };
    } catch (error) {
      const code = (error as { code?: string }).code;
      return { ok: false, retry: true, reason: code ?? (error instanceof Error ? error.message : String(error)) };
    }
  }
}

/** `Name: value` (as `--sink-header` takes it) to a header pair; undefined when there is no name. */
export function parseHeader(text: string): [string, string] | undefined {
  const colon = text.indexOf(":");
  if (colon <= 0) return undefined;
  const name = text.slice(0, colon).trim();
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) return undefined;
  return [name.toLowerCase(), text.slice(colon + 1).trim()];
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}
