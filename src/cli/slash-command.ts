/**
 * `opencode-turns command SESSION NAME [ARGS...]`: a slash command configured in opencode, run as a
 * turn on a session and shown as `run` shows a turn.
 */
import { answerHelpOrVersion, generalUsage, parseCommandLine, UsageError, type Command, type CommandIO } from "./command.js";
import { connectionUsage, withSession } from "./connection.js";
import { observeUsage } from "./observe.js";
import { sinkUsage } from "./sink-options.js";
import { turnChoices, variantOption, variantUsage } from "./turn-choices.js";
import { runTurn, turnExitUsage, turnOptions, turnOutputUsage } from "./turn-command.js";

const options = { ...turnOptions, ...variantOption } as const;

const usage = `Usage: opencode-turns command [options] SESSION NAME [ARGS...]

Runs the slash command NAME (as configured in opencode: its \`command\` config or .opencode/command/,
without the slash) on the session SESSION (ses...), with ARGS as its arguments, and shows the turn as
\`run\` does.

Output:
${turnOutputUsage}
${connectionUsage}
${variantUsage}
${observeUsage}
${sinkUsage}
${generalUsage}

${turnExitUsage}

Example:
  opencode-turns command --url http://127.0.0.1:4096 ses_4f2a review src/app.ts`;

export const slashCommand: Command = { name: "command", summary: "run a slash command on a session as a turn", usage, run };

async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommandLine(args, options, true);
  const answered = answerHelpOrVersion(values, usage, io);
  if (answered !== undefined) return answered;
  const [session, name, ...rest] = positionals;
  if (session === undefined || name === undefined) throw new UsageError("Give the session (ses...) and the command's name, then its arguments if any.");
  const choices = turnChoices(values);
  return runTurn(withSession(values, session), io, (adapter, traceId, turn) => adapter.command(name, rest.join(" "), traceId, { ...turn, ...choices }));
}
