// The undici files `undici.ts` imports one by one, typed as undici's index types what they export.
declare module "undici/lib/dispatcher/pool.js" {
  import type { Pool } from "undici";
  const PoolFile: typeof Pool;
  export default PoolFile;
}
declare module "undici/lib/api/api-request.js" {
  import type { Dispatcher } from "undici";
  function requestFile(this: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData>;
  export default requestFile;
}
declare module "undici/lib/core/errors.js" {
  import type { errors } from "undici";
  const errorsFile: typeof errors;
  export default errorsFile;
}
