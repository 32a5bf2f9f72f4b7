// The one retry timing policy: every retry loop of the library (reopening a lost stream, delivering
// a reply to a webhook) waits this long between tries. Pure: the loops own their sleeps.

/** How long to wait between tries: `firstMs` before the first retry, doubling, never over `maxMs`. */
export interface Backoff {
  readonly firstMs: number;
  readonly maxMs: number;
}

/** The wait before retry number `retry` (0 for the first retry). */
export function backoffDelay({ firstMs, maxMs }: Backoff, retry: number): number {
  return Math.min(firstMs * 2 ** retry, maxMs);
}
