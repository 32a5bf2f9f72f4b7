/**
 * `opencode-turns history SESSION [--json]`: a session's stored turns, each shown as `run` showed it
 * (the user's message, then its replies), or with --json one reply object per line; every reply's
 * `trace_id` is the id of its turn's user message.
 */
import { parseArgs } from "node:util";
import { createColors } from "picocolors";
import { OpenCodeAdapter } from "../host/adapter.js";
import { asTurnError } from "../contract/turn-error.js";
import { EXIT, UsageError, type Command, type CommandIO } from "./command.js";
import { connect, connectionOptions, connectionUsage, type ServerConnection } from "./connection.js";
import { HumanOutput, wantsColour } from "./human-output.js";

const options = {
  ...connectionOptions,
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const usage = `Usage: opencode-turns history [options] SESSION

Shows the stored turns of an opencode session (ses...), each as \`run\` showed it: what was asked,
then the answer, its reasoning and its tools. A stored text comes whole, not in the pieces it
streamed in.

Options:
  --json                    one reply object per line on stdout (trace_id = the turn's user message id)
  -h, --help                this text
${connectionUsage}`;

export const historyCommand: Command = { name: "history", summary: "show a session's turns as run showed them", usage, run };

async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse(args);
  if (values.help) {
    io.stdout.write(`${usage}\n`);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError("Give one session id (ses...).");
  const diagnostic = (line: string) => io.stderr.write(`opencode-turns: ${line}\n`);
  let connection: ServerConnection | undefined;
  let adapter: OpenCodeAdapter | undefined;
  try {
    connection = await connect({ ...values, session: positionals[0] }, { env: io.env, ...(values.verbose ? { log: diagnostic } : {}) });
    adapter = new OpenCodeAdapter(connection.config, () => undefined);
    const turns = await adapter.history();
    const colour = wantsColour(io.stdout, io.env);
    const paint = createColors(colour);
    for (const turn of turns) {
      if (values.json) {
        for (const reply of turn.replies) io.stdout.write(`${JSON.stringify(reply)}\n`);
        continue;
      }
      io.stdout.write(`${paint.bold("> ")}${turn.text}\n`);
      const human = new HumanOutput(io.stdout, io.stderr, colour);
      for (const reply of turn.replies) {
        human.sink(reply);
        if (reply.kind === "error") io.stderr.write(`${paint.red("Error:")} ${reply.error}\n`);
      }
      io.stdout.write("\n");
    }
    return EXIT.ok;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const failure = asTurnError(error);
    diagnostic(`${failure.message} (${failure.code})`);
    return EXIT.failed;
  } finally {
    await adapter?.close();
    await connection?.stop();
  }
}

function parse(args: string[]) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
