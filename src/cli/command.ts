/** What every subcommand of `opencode-turns` is: `src/cli/main.ts` lists them, one file each in `src/cli/`. */
import { createRequire } from "node:module";

export interface CommandIO {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

export interface Command {
  /** The word after `opencode-turns`. */
  name: string;
  /** One line for the list of commands. */
  summary: string;
  /** The command's `--help` text, also printed after a usage error. */
  usage: string;
  /** Runs the command with the arguments after its name; resolves with the exit code. */
  run(args: string[], io: CommandIO): Promise<number>;
}

/** A command line that cannot be run: the message and the usage go to stderr, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Exit codes shared by the commands. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** This package's version, from its package.json (found by the package's own name). */
export function packageVersion(): string {
  return (createRequire(import.meta.url)("opencode-turns/package.json") as { version: string }).version;
}
