import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Calls into the host's code (the sink, a permission or question policy) while a turn waits for
 * them. A turn started from inside one would wait for the call, and the call for the turn: this
 * lets an adapter see that (through AsyncLocalStorage, so also from the call's async chain).
 */
interface HostCall {
  readonly owner: object;
  settled: boolean;
}
const hostCalls = new AsyncLocalStorage<HostCall>();

/**
 * Runs `call` as a host call made for `owner`; it counts as one until it returns, or until the
 * promise it returns settles. Synchronous all the way for a call that returns no promise.
 */
export function asHostCall<T>(owner: object, call: () => T): T {
  const marker: HostCall = { owner, settled: false };
  const settle = () => {
    marker.settled = true;
  };
  let result: T;
  try {
    result = hostCalls.run(marker, call);
  } catch (error) {
    settle();
    throw error;
  }
  if (typeof (result as { then?: unknown } | null)?.then === "function") (result as PromiseLike<unknown>).then(settle, settle);
  else settle();
  return result;
}

/** Whether the caller runs inside a host call made for `owner` that has not settled yet. */
export function insideHostCall(owner: object): boolean {
  const call = hostCalls.getStore();
  return call !== undefined && call.owner === owner && !call.settled;
}
