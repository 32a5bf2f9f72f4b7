/** `opencode-turns revert SESSION MESSAGE`: undoes the session from MESSAGE on, until `unrevert` or the next prompt. */
import { answerHelpOrVersion, parseCommandLine, UsageError, type Command, type CommandIO } from "./command.js";
import { operate, operationOptions, operationUsage } from "./session-operation.js";

const usage = `Usage: opencode-turns revert [options] SESSION MESSAGE

Reverts the session SESSION (ses...) to before its message MESSAGE (msg..., as \`history --json\`
gives each turn's trace_id): opencode undoes that turn and the ones after it, files included. The
next prompt drops them for good; \`opencode-turns unrevert SESSION\` before it brings them back.
${operationUsage}`;

export const revertCommand: Command = { name: "revert", summary: "undo a session from a message on", usage, run };

async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommandLine(args, operationOptions, true);
  const answered = answerHelpOrVersion(values, usage, io);
  if (answered !== undefined) return answered;
  const [session, message] = positionals;
  if (positionals.length !== 2 || session === undefined || message === undefined) throw new UsageError("Give the session (ses...) and the message to revert from (msg...).");
  return operate(values, io, session, async (adapter) => {
    await adapter.revert(message);
    io.stderr.write(`Reverted ${session} from ${message} on; \`opencode-turns unrevert ${session}\` undoes it until the next prompt.\n`);
  });
}
