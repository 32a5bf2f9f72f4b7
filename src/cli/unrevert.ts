/** `opencode-turns unrevert SESSION`: brings back what `revert` undid, if no prompt came since. */
import { answerHelpOrVersion, parseCommandLine, UsageError, type Command, type CommandIO } from "./command.js";
import { operate, operationOptions, operationUsage } from "./session-operation.js";

const usage = `Usage: opencode-turns unrevert [options] SESSION

Brings back the messages (and files) of SESSION (ses...) that \`opencode-turns revert\` undid, as
long as no prompt came after the revert.
${operationUsage}`;

export const unrevertCommand: Command = { name: "unrevert", summary: "bring back what revert undid", usage, run };

async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommandLine(args, operationOptions, true);
  const answered = answerHelpOrVersion(values, usage, io);
  if (answered !== undefined) return answered;
  if (positionals.length !== 1) throw new UsageError("Give one session id (ses...).");
  return operate(values, io, positionals[0], (adapter) => adapter.unrevert());
}
