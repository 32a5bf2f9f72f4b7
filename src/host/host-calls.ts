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
 * Runs `call(arg)` as a host call made for `owner`; it counts as one until it returns, or until the
 * promise it returns settles. Synchronous all the way for a call that returns no promise. It runs
 * once per reply, so it makes no closure on that path: the sink's own function and its argument go
 * to AsyncLocalStorage as they are.
 */
export function asHostCall<A, T>(owner: object, call: (arg: A) => T, arg: A): T {
  const marker: HostCall = { owner, settled: false };
  let result: T;
  try {
    result = hostCalls.run(marker, call, arg);
  } catch (error) {
    marker.settled = true;
    throw error;
  }
  if (typeof (result as { then?: unknown } | null)?.then === "function") {
    const settle = () => {
      marker.settled = true;
    };
    (result as PromiseLike<unknown>).then(settle, settle);
  } else {
    marker.settled = true;
  }
  return result;
}

/** Whether the caller runs inside a host call made for `owner` that has not settled yet. */
export function insideHostCall(owner: object): boolean {
  const call = hostCalls.getStore();
  return call !== undefined && call.owner === owner && !call.settled;
}

/** Why a call made from inside the adapter's own sink or policy is refused: awaited there, it would wait for itself. */
export function calledFromInside(what: string): string {
  return `${what} was called from inside this adapter's sink or policy, where it would wait for itself; call it after that call has returned.`;
}
