/**
 * A host whose wall clock is off: run as `node --import tsx skewed-host.ts '<json>'` with
 * `{ baseUrl, password, offsetsMs, text, turnTimeoutMs }`. It replaces `Date.now()` and `new Date()`
 * with the real clock plus an offset before the adapter is imported, then runs one turn per offset
 * on one adapter (one session), stepping the clock to each turn's offset just before it. Monotonic
 * time (`performance.now()`) is left alone, as a stepped wall clock leaves it. Prints one JSON line:
 * `{ sessionId, turns: TurnResult[] }`.
 */
import { z } from "zod";

const Args = z.object({
  baseUrl: z.string(),
  password: z.string(),
  offsetsMs: z.array(z.number()),
  text: z.string(),
  turnTimeoutMs: z.number(),
});
const args = Args.parse(JSON.parse(process.argv[2] ?? ""));

const RealDate = Date;
let offsetMs = 0;
class SkewedDate extends RealDate {
  constructor(...given: unknown[]) {
    if (given.length === 0) super(RealDate.now() + offsetMs);
    else super(...(given as [string | number]));
  }
  static override now(): number {
    return RealDate.now() + offsetMs;
  }
}
globalThis.Date = SkewedDate as DateConstructor;

const { OpenCodeAdapter } = await import("../src/host/adapter.js");
const adapter = new OpenCodeAdapter({ baseUrl: args.baseUrl, password: args.password, turnTimeoutMs: args.turnTimeoutMs }, () => undefined);
const turns = [];
for (const offset of args.offsetsMs) {
  offsetMs = offset;
  turns.push(await adapter.prompt(args.text));
}
await adapter.close();
process.stdout.write(`${JSON.stringify({ sessionId: adapter.sessionId, turns })}\n`);
