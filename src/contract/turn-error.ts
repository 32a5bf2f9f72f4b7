import type { ErrorCode } from "./replies.js";

/** A failure with the contract's error code and a sentence a person can act on. */
export class TurnError extends Error {
  override readonly name = "TurnError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The HTTP status opencode answered with, when the failure is its answer (not a connection that failed). */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** What a host hears when opencode has no model provider at all (its `ProviderNoProvidersError`). */
export const NO_PROVIDER =
  "opencode has no model provider configured, so it cannot answer. Configure one (`opencode auth login`, " +
  "a provider's API key in the environment such as ANTHROPIC_API_KEY, or a `provider` in opencode.json; " +
  "see https://opencode.ai/docs/providers), or try the offline demo model (`--demo` on the command line, `startDemo()` in the library).";

export function asTurnError(error: unknown): TurnError {
  if (error instanceof TurnError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new TurnError("internal", `Unexpected failure: ${message}`);
}

/** What went wrong, as text, whatever was thrown (null, an object whose `message` getter throws...). */
export function reasonOf(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return "an unprintable value was thrown";
  }
}
