/** What every subcommand of `opencode-turns` is: `src/cli/main.ts` lists them, one file each in `src/cli/`. */
import { createRequire } from "node:module";
import { parseArgs, type ParseArgsConfig } from "node:util";

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
  /** The command's `--help` text. */
  usage: string;
  /** Runs the command with the arguments after its name; resolves with the exit code. */
  run(args: string[], io: CommandIO): Promise<number>;
}

/** A command line that cannot be run: the message and a pointer to `--help` go to stderr, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Exit codes shared by the commands. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** This package's version, from its package.json (found by the package's own name). */
export function packageVersion(): string {
  return (createRequire(import.meta.url)("opencode-turns/package.json") as { version: string }).version;
}

/**
 * `--help` and `--version`, which every command takes: prints the command's usage or the version and
 * gives the exit code, or gives undefined when neither was asked for and the command goes on.
 */
export function answerHelpOrVersion(values: { help?: boolean | undefined; version?: boolean | undefined }, usage: string, io: CommandIO): number | undefined {
  if (values.help) io.stdout.write(`${usage}\n`);
  else if (values.version) io.stdout.write(`${packageVersion()}\n`);
  else return undefined;
  return EXIT.ok;
}

/** The options every command takes; the last group of each command's `--help`. */
export const generalUsage = `General:
  -h, --help                this text
  --version                 the version of opencode-turns`;

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * `parseArgs`, strict, with its errors said as a person would read them: the option at fault and
 * what is wrong with it, without Node's advice about `--`.
 */
export function parseCommandLine<T extends Options, P extends boolean>(
  args: string[],
  options: T,
  allowPositionals: P,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: P; strict: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError(usageMessage(error as Error & { code?: string }));
  }
}

function usageMessage(error: Error & { code?: string }): string {
  const quoted = /'([^']+)'/.exec(error.message)?.[1] ?? "";
  const option = quoted.replace(/ <value>$/, "").replace(/^-\w, /, "");
  switch (error.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `Unknown option ${option}.`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `Unexpected argument ${JSON.stringify(option)}: this command takes options only.`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return /argument missing/.test(error.message) ? `${option} needs a value.` : `${option} takes no value.`;
    default:
      return error.message;
  }
}
