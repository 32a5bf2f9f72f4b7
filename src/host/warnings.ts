/** Where warnings go; a logger that throws or has no `warn` is not allowed to break a turn. */
export type Warn = (message: string) => void;

/** A warn that never throws and never shows a secret, whatever logger the host gave. */
export function safeWarn(logger: unknown, redact: (text: string) => string): Warn {
  return (message) => {
    try {
      (logger as Pick<Console, "warn">).warn(redact(message));
    } catch {
      // A broken logger loses the warning; the turn and the host's process go on.
    }
  };
}
