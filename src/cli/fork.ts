/** `opencode-turns fork SESSION [--message ID]`: a new session with the session's messages (before ID); prints its id. */
import { answerHelpOrVersion, parseCommandLine, UsageError, type Command, type CommandIO } from "./command.js";
import { operate, operationOptions, operationUsage } from "./session-operation.js";

const options = { ...operationOptions, message: { type: "string" } } as const;

const usage = `Usage: opencode-turns fork [options] SESSION

Makes a new session with the messages of SESSION (ses...), all of them or those before --message,
and prints the new session's id (continue it with \`run --session ID\`).

Options:
  --message ID              fork before this message (msg..., as \`history --json\` gives each turn's
                            trace_id); default: the whole session
${operationUsage}`;

export const forkCommand: Command = { name: "fork", summary: "copy a session into a new one; prints its id", usage, run };

async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommandLine(args, options, true);
  const answered = answerHelpOrVersion(values, usage, io);
  if (answered !== undefined) return answered;
  if (positionals.length !== 1) throw new UsageError("Give one session id (ses...).");
  return operate(values, io, positionals[0], async (adapter) => {
    io.stdout.write(`${await adapter.fork(values.message)}\n`);
  });
}
