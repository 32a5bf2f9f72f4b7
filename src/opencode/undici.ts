/**
 * The parts of undici the library uses, imported file by file. undici's index loads all of it
 * (fetch, WebSocket, caches, mocks, interceptors): on Node 20 that is about 120 ms of CPU at every
 * start of the CLI and of each bridge a host starts, against about 40 ms for these three files.
 * They are the same modules the index loads, so a host that imports undici itself shares them.
 * Their types are undici's own (`undici-files.d.ts`).
 */
import type { Dispatcher, Pool as UndiciPool } from "undici";
import PoolFile from "undici/lib/dispatcher/pool.js";
import requestFile from "undici/lib/api/api-request.js";
import errorsFile from "undici/lib/core/errors.js";

export type { Dispatcher };
export type Pool = UndiciPool;
export const Pool = PoolFile;
export const errors = errorsFile;

/** `dispatcher.request(options)`: undici's index puts it on every dispatcher's prototype; without the index, it is called so. */
export function request(dispatcher: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
  return requestFile.call(dispatcher, options);
}
