import { randomBytes } from "node:crypto";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
let lastMs = 0;
let counter = 0;

/**
 * A user-message id that opencode accepts and orders like its own: `msg_`, then the low 48 bits of
 * `ms × 4096 + counter` as 12 hex digits (time-ordered, like opencode's), then 14 random base62.
 */
export function newMessageId(now: number = Date.now()): string {
  if (now !== lastMs) {
    lastMs = now;
    counter = 0;
  }
  counter++;
  const stamp = ((BigInt(now) * 0x1000n + BigInt(counter)) & 0xffff_ffff_ffffn).toString(16).padStart(12, "0");
  let random = "";
  for (const byte of randomBytes(14)) random += BASE62[byte % 62];
  return `msg_${stamp}${random}`;
}
