/**
 * `opencode-turns history SESSION [--json]`: a session's stored turns, each shown as `run` showed it
 * (the user's message, then its replies), or with --json one reply object per line; every reply's
 * `trace_id` is the id of its turn's user message.
 */
import { createColors } from "picocolors";
import { answerHelpOrVersion, parseCommandLine, UsageError, type Command, type CommandIO } from "./command.js";
import { HumanOutput, wantsColour } from "./human-output.js";
import { operate, operationOptions, operationUsage } from "./session-operation.js";
import { vocabularyOf } from "./turn-command.js";

const options = {
  ...operationOptions,
  json: { type: "boolean" },
  vocabulary: { type: "string" },
} as const;

const usage = `Usage: opencode-turns history [options] SESSION

Shows the stored turns of an opencode session (ses...), each as \`run\` showed it: what was asked,
then the answer, its reasoning and its tools. A stored text comes whole, not in the pieces it
streamed in.

Options:
  --json                    one reply object per line on stdout (trace_id = the turn's user message id)
  --vocabulary core|full    the replies to show: the six core kinds (default), or also what the
                            stored parts tell (todos, steps, tool titles and diffs, compactions,
                            each subagent's work under its task; docs/session-operations.md)
${operationUsage}`;

export const historyCommand: Command = { name: "history", summary: "show a session's turns as run showed them", usage, run };

async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommandLine(args, options, true);
  const answered = answerHelpOrVersion(values, usage, io);
  if (answered !== undefined) return answered;
  if (positionals.length !== 1) throw new UsageError("Give one session id (ses...).");
  const vocabulary = vocabularyOf(values);
  return operate(values, io, positionals[0], async (adapter) => {
    const turns = await adapter.history({ vocabulary });
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
  });
}
