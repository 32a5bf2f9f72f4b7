#!/usr/bin/env node
/** `opencode-turns <command>`: the package's command line. Each command is one file in `src/cli/`. */
import { EXIT, packageVersion, UsageError, type Command, type CommandIO } from "./command.js";
import { bridgeCommand } from "./bridge.js";
import { historyCommand } from "./history.js";
import { replayCommand } from "./replay.js";
import { forkCommand } from "./fork.js";
import { revertCommand } from "./revert.js";
import { runCommand } from "./run.js";
import { sessionsCommand } from "./sessions.js";
import { slashCommand } from "./slash-command.js";
import { summarizeCommand } from "./summarize.js";
import { unrevertCommand } from "./unrevert.js";

const commands: readonly Command[] = [
  runCommand,
  slashCommand,
  summarizeCommand,
  bridgeCommand,
  replayCommand,
  sessionsCommand,
  historyCommand,
  forkCommand,
  revertCommand,
  unrevertCommand,
];

const usage = `Usage: opencode-turns <command> [options]

Commands:
${commands.map((command) => `  ${command.name.padEnd(10)} ${command.summary}`).join("\n")}

Run \`opencode-turns <command> --help\` for a command's options. Try:
  opencode-turns run --demo "Explain this repository"`;

async function main(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...args] = argv;
  if (name === "--help" || name === "-h" || name === "help") {
    io.stdout.write(`${usage}\n`);
    return EXIT.ok;
  }
  if (name === "--version") {
    io.stdout.write(`${packageVersion()}\n`);
    return EXIT.ok;
  }
  const command = commands.find((candidate) => candidate.name === name);
  if (command === undefined) {
    if (name === undefined) io.stderr.write(`Give a command.\n\n${usage}\n`);
    else io.stderr.write(`Unknown command: ${name}.\nRun \`opencode-turns --help\` for the commands.\n`);
    return EXIT.usage;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    // The error and where the options are: a usage text after it would scroll the error away.
    io.stderr.write(`${error.message}\nRun \`opencode-turns ${command.name} --help\` for its options.\n`);
    return EXIT.usage;
  }
}

const code = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
// Exit once stdout has taken everything (a pipe can be asynchronous), even if a handle lingers.
if (process.stdout.destroyed) process.exit(code);
else process.stdout.write("", () => process.exit(code));
