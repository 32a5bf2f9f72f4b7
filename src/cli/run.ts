/**
 * `opencode-turns run [options] <prompt...>`: one turn, shown as it streams (or as JSON lines),
 * against a running opencode or one started for it.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { lookup } from "mrmime";
import type { Attachment } from "../host/prompt.js";
import { answerHelpOrVersion, generalUsage, parseCommandLine, UsageError, type Command, type CommandIO } from "./command.js";
import { connectionUsage } from "./connection.js";
import { observeUsage } from "./observe.js";
import { sinkUsage } from "./sink-options.js";
import { choiceOptions, choicesUsage, turnChoices } from "./turn-choices.js";
import { runTurn, turnExitUsage, turnOptions, turnOutputUsage } from "./turn-command.js";

const options = {
  ...turnOptions,
  ...choiceOptions,
  attach: { type: "string", multiple: true },
} as const;

const usage = `Usage: opencode-turns run [options] <prompt...>

Runs one opencode turn and shows it as it streams. The prompt is the arguments, or standard input
when it is not a terminal. Without --url, opencode is started here for the turn and stopped after.

Output:
${turnOutputUsage}
  --attach FILE             attach a file (repeatable; the type comes from its extension)
${connectionUsage}
${choicesUsage}
${observeUsage}
${sinkUsage}
${generalUsage}

${turnExitUsage}

Examples:
  opencode-turns run --demo "Explain this repository"
  opencode-turns run --url http://127.0.0.1:4096 --model anthropic/claude-sonnet-4-5 "Fix the failing test"
  opencode-turns run --tool bash=off --format schema.json --result "Which files define the API?"
  git diff | opencode-turns run --json --permissions reject`;

export const runCommand: Command = { name: "run", summary: "run one turn and show it as it streams", usage, run };

async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommandLine(args, options, true);
  const answered = answerHelpOrVersion(values, usage, io);
  if (answered !== undefined) return answered;
  const prompt = positionals.length > 0 ? positionals.join(" ") : io.stdin.isTTY ? "" : await readAll(io.stdin);
  if (!prompt.trim()) throw new UsageError("Give a prompt: as arguments, or on standard input.");
  const attachments = await Promise.all((values.attach ?? []).map(readAttachment));
  const choices = turnChoices(values);
  return runTurn(values, io, (adapter, traceId, turn) => adapter.prompt(prompt, traceId, { ...turn, ...choices, attachments }));
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString("utf8");
}

async function readAttachment(file: string): Promise<Attachment> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (error) {
    throw new UsageError(`--attach ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`);
  }
  return { mime: lookup(file) ?? "application/octet-stream", data: data.toString("base64"), filename: path.basename(file) };
}
