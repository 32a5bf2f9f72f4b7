/**
 * `opencode-turns summarize SESSION`: opencode compacts the session (writes a summary of it that
 * stands in for the messages before), run as a turn whose answer is the summary, shown as `run` does.
 */
import { answerHelpOrVersion, generalUsage, parseCommandLine, UsageError, type Command, type CommandIO } from "./command.js";
import { connectionUsage, withSession } from "./connection.js";
import { observeUsage } from "./observe.js";
import { sinkUsage } from "./sink-options.js";
import { runTurn, turnExitUsage, turnOptions, turnOutputUsage } from "./turn-command.js";

const usage = `Usage: opencode-turns summarize [options] --model PROVIDER/MODEL SESSION

Compacts the session SESSION (ses...): opencode has the model given by --model write a summary of
it, which stands in for the messages before it from then on. Shown as \`run\` shows a turn: the
summary is its answer.

Output:
${turnOutputUsage}
${connectionUsage}
${observeUsage}
${sinkUsage}
${generalUsage}

${turnExitUsage}`;

export const summarizeCommand: Command = { name: "summarize", summary: "compact a session, as a turn whose answer is the summary", usage, run };

async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommandLine(args, turnOptions, true);
  const answered = answerHelpOrVersion(values, usage, io);
  if (answered !== undefined) return answered;
  if (positionals.length !== 1) throw new UsageError("Give one session id (ses...).");
  // opencode's summarize endpoint takes the model that writes the summary; it has no default of its own.
  if (values.model === undefined && !values.demo) throw new UsageError("Give --model PROVIDER/MODEL: the model that writes the summary.");
  return runTurn(withSession(values, positionals[0]!), io, (adapter, traceId, turn) => adapter.summarize(traceId, turn));
}
