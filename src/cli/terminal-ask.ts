/** `--permissions ask`: each permission ask of opencode is put to the person at the terminal. */
import { createInterface } from "node:readline/promises";
import type { PermissionPolicy } from "../host/config.js";
import type { PermissionDecision } from "../contract/decisions.js";
import type { PermissionRequest } from "../opencode/events.js";

const ANSWERS: Record<string, PermissionDecision> = {
  o: "once",
  once: "once",
  y: "once",
  yes: "once",
  a: "always",
  always: "always",
};

function describe(request: PermissionRequest): string {
  const patterns = request.patterns.length > 0 ? `: ${request.patterns.join(", ")}` : "";
  return `opencode asks to use ${request.permission}${patterns}`;
}

/**
 * A permission policy that asks on `input`/`output` (a terminal), one ask at a time. `pause` is
 * called before asking (to stop a spinner) and returns what resumes it. Anything but once/always is
 * a reject, which opencode tells the model so it can go on without the tool. `signal` (the turn's
 * cancel) withdraws an open question.
 */
export function askOnTerminal(
  input: NodeJS.ReadStream,
  output: NodeJS.WriteStream,
  pause: () => () => void,
  signal: AbortSignal,
): PermissionPolicy {
  let previous: Promise<unknown> = Promise.resolve();
  return (request) => {
    const asking = previous.then(async (): Promise<PermissionDecision> => {
      const resume = pause();
      const terminal = createInterface({ input, output, terminal: true });
      // The terminal is raw while it reads, so Ctrl-C arrives here and not as a signal: pass it on.
      terminal.on("SIGINT", () => process.kill(process.pid, "SIGINT"));
      try {
        const answer = await terminal.question(`${describe(request)}. Allow [o]nce, [a]lways, or [r]eject? `, { signal });
        const decision = ANSWERS[answer.trim().toLowerCase()];
        return decision ?? { reply: "reject", message: "The person at the terminal did not allow this tool call. Continue without it." };
      } finally {
        terminal.close();
        resume();
      }
    });
    previous = asking.catch(() => undefined);
    return asking;
  };
}
