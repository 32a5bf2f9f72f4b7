import { randomFillSync } from "node:crypto";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** Ids count `ms × 4096 + counter`, modulo 2^48: 12 hex digits. */
const PER_MS = 4096;
const MS_MODULUS = 2 ** 36;
const STAMPS = 2 ** 48;
/** An id's random tail: 14 base-62 digits, one per random byte. */
const RANDOM_DIGITS = 14;

/**
 * Random bytes drawn 256 ids at a time: a `randomBytes` call per id (a Buffer and a call into the
 * system's source each) was most of the 4.5 µs an id took; a slice of this pool is a few copies.
 */
const randomPool = Buffer.alloc(RANDOM_DIGITS * 256);
let poolAt = randomPool.length;

function randomTail(): string {
  if (poolAt + RANDOM_DIGITS > randomPool.length) {
    randomFillSync(randomPool);
    poolAt = 0;
  }
  let tail = "";
  for (let i = 0; i < RANDOM_DIGITS; i++) tail += BASE62[randomPool[poolAt + i]! % 62];
  poolAt += RANDOM_DIGITS;
  return tail;
}

/**
 * Whether stamp `a` comes after stamp `b`. Stamps wrap at 2^48 (every 2.2 years; next on
 * 2028-10-17): across the wrap the smaller stamp is the later one, so "after" is "less than half the
 * range ahead".
 */
function isAfter(a: number, b: number): boolean {
  const ahead = (((a - b) % STAMPS) + STAMPS) % STAMPS;
  return ahead > 0 && ahead < STAMPS / 2;
}

/** The clocks a `ServerClock` reads; injected by tests. */
export interface HostClocks {
  /** Monotonic milliseconds (`performance.now()`): not moved by a step of the wall clock. */
  monotonic(): number;
  /** The host's wall clock (`Date.now()`). */
  wall(): number;
}

const HOST_CLOCKS: HostClocks = { monotonic: () => performance.now(), wall: () => Date.now() };

/**
 * opencode's clock, as the stamps of its event ids tell it, and the user-message ids made on it.
 *
 * opencode orders a session's messages by id, and its ids (events' and messages' alike) start with
 * the low 48 bits of `ms × 4096 + counter` on the server's clock. A user message whose id sorts
 * after opencode's answer to it makes opencode answer again, and one that sorts before the previous
 * answer makes it answer nothing; so our ids follow the server's clock, not the host's, which may be
 * seconds off or stepped between turns. The server's now is its last stamp plus the monotonic time
 * since that stamp arrived: it lags the server by the stream's latency, which keeps our id before
 * the answer opencode makes after receiving it.
 */
export class ServerClock {
  /** The server's millisecond of the last stamp seen, and the monotonic time its first stamp arrived at. */
  private lastMs: number | undefined;
  private lastAt = 0;
  /** The latest stamp seen: every message already on the server is at or before it. */
  private latest: number | undefined;
  /**
   * The stamp of the last id made: ids are strictly increasing. Per server (one clock per hub), not
   * per process: a process-wide order would carry one server's clock onto another's.
   */
  private issued: number | undefined;

  constructor(private readonly clocks: HostClocks = HOST_CLOCKS) {}

  /** Takes a stamp read off an event the server just sent. */
  observe(stamp: number): void {
    if (this.latest === undefined || isAfter(stamp, this.latest)) this.latest = stamp;
    // The first stamp of a server millisecond tells the server's now best (the others only came
    // later); so the clock is read once per server millisecond at most, not once per chunk.
    const ms = Math.floor(stamp / PER_MS);
    if (ms === this.lastMs) return;
    this.lastMs = ms;
    this.lastAt = this.clocks.monotonic();
  }

  /**
   * The server's now as an id stamp (`ms × 4096`, modulo 2^48). Before any stamp is known it is the
   * host's clock: opencode stamps its very first frame (`server.connected`), so only a server that
   * stamps nothing (a stand-in, or a future opencode that moves the id) is left with the host's
   * clock, which is all there is to go by then, and what the ids were made of before.
   */
  now(): number {
    const ms = this.lastMs === undefined ? this.clocks.wall() : this.lastMs + Math.floor(this.clocks.monotonic() - this.lastAt);
    return (ms % MS_MODULUS) * PER_MS;
  }

  /**
   * A new user-message id: `msg_`, 12 hex digits of the stamp, 14 random base62 (opencode's own
   * form). Its stamp is the server's now, but after every stamp seen (the previous turns' messages
   * were made before the events that told of them) and after the last id made.
   * Across the 48-bit wrap it follows the server's stamps down; opencode's own ids stop sorting then
   * too, but a session started after the wrap is whole.
   */
  nextMessageId(): string {
    let next = this.now();
    for (const floor of [this.latest, this.issued]) {
      if (floor !== undefined && !isAfter(next, floor)) next = (floor + 1) % STAMPS;
    }
    this.issued = next;
    return `msg_${this.issued.toString(16).padStart(12, "0")}${randomTail()}`;
  }
}

/** Ids made on the host's clock alone: for callers with no stream to learn the server's from (the benches, a host's own `eventStream`). */
const hostClock = new ServerClock();

/** A user-message id on the host's clock (see `ServerClock.nextMessageId`). */
export function newMessageId(): string {
  return hostClock.nextMessageId();
}
