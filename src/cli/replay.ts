/**
 * `opencode-turns replay FILE [--json]`: runs a recording made with `run --record` through the turn
 * machine and its codec, offline, and shows the replies; says when they differ from the recorded ones.
 */
import { isDeepStrictEqual } from "node:util";
import { recordedReplies, RecordingError, replay } from "../observe/recording.js";
import type { Reply } from "../contract/replies.js";
import { answerHelpOrVersion, EXIT, generalUsage, parseCommandLine, UsageError, type Command, type CommandIO } from "./command.js";
import { HumanOutput, wantsColour } from "./human-output.js";

const options = {
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

const usage = `Usage: opencode-turns replay [options] FILE

Runs a recording made with \`opencode-turns run --record FILE\` through this version's turn machine
and codec, offline (no server, no network), and shows the replies as \`run\` does.

Output:
  --json                    one reply object per line on stdout, nothing else
${generalUsage}

Exit status: 0 when the replies are the recorded ones, 1 when they differ (this version behaves
differently from the one that recorded) or the file cannot be read, 2 for a usage error.`;

export const replayCommand: Command = { name: "replay", summary: "reproduce a recorded turn offline", usage, run };

async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommandLine(args, options, true);
  const answered = answerHelpOrVersion(values, usage, io);
  if (answered !== undefined) return answered;
  if (positionals.length !== 1) throw new UsageError("Give one recording file.");
  const file = positionals[0]!;
  const human = values.json ? undefined : new HumanOutput(io.stdout, io.stderr, wantsColour(io.stdout, io.env));
  const replies: Reply[] = [];
  try {
    for await (const reply of replay(file)) {
      replies.push(reply);
      if (human) human.sink(reply);
      else io.stdout.write(`${JSON.stringify(reply)}\n`);
      if (human && reply.kind === "error") io.stderr.write(`Error (${reply.code}): ${reply.error}\n`);
    }
    const recorded = await recordedReplies(file);
    const differs = recorded.findIndex((reply, i) => !isDeepStrictEqual(reply, replies[i]));
    const count = `${replies.length} repl${replies.length === 1 ? "y" : "ies"}`;
    if (differs === -1 && recorded.length === replies.length) {
      if (human) io.stderr.write(`— replayed ${count}, the same as recorded\n`);
      return EXIT.ok;
    }
    const at = differs === -1 ? Math.min(recorded.length, replies.length) : differs;
    const shown = (reply: Reply | undefined) => (reply === undefined ? "(none)" : JSON.stringify(reply));
    io.stderr.write(
      `opencode-turns: the replay differs from the recording at reply ${at + 1} (${replies.length} replayed, ${recorded.length} recorded): this version behaves differently from the one that recorded.\n` +
        `  recorded: ${shown(recorded[at])}\n  replayed: ${shown(replies[at])}\n`,
    );
    return EXIT.failed;
  } catch (error) {
    if (error instanceof RecordingError) {
      io.stderr.write(`opencode-turns: ${error.message}\n`);
      return EXIT.failed;
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "EISDIR" || code === "EACCES") {
      io.stderr.write(`opencode-turns: ${file}: cannot read it (${code}).\n`);
      return EXIT.failed;
    }
    throw error;
  }
}

