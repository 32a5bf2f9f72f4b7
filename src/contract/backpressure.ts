import type { Writable } from "node:stream";

/**
 * Writes `data`, honouring backpressure: `true` at once when the stream took it, else a promise that
 * settles once it drains (`true`), or errors, is destroyed or `signal` aborts (`false`). The common
 * case makes no promise: a long answer writes many lines.
 */
export function writeOrWait(stream: Pick<Writable, "write" | "once" | "off" | "destroyed">, data: string | Uint8Array, signal?: AbortSignal): true | Promise<boolean> {
  if (signal?.aborted || stream.destroyed) return Promise.resolve(false);
  if (stream.write(data)) return true;
  return new Promise((resolve) => {
    const finish = (ok: boolean) => {
      stream.off("drain", onDrain);
      stream.off("error", onError);
      signal?.removeEventListener("abort", onAbort);
      resolve(ok && !signal?.aborted);
    };
    const onDrain = () => finish(true);
    const onError = () => finish(false);
    const onAbort = () => finish(false);
    stream.once("drain", onDrain);
    stream.once("error", onError);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
