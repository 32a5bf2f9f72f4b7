/**
 * `opencode-turns run [options] <prompt...>`: one turn, shown as it streams (or as JSON lines),
 * against a running opencode or one started for it.
 */
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Writable } from "node:stream";
import { format } from "node:util";
import { lookup } from "mrmime";
import { OpenCodeAdapter, type Sink } from "../host/adapter.js";
import type { Attachment } from "../host/prompt.js";
import { writeOrWait } from "../contract/backpressure.js";
import { type TurnResult, Vocabulary } from "../contract/replies.js";
import { TurnError } from "../contract/turn-error.js";
import { OpencodeStartError } from "../embedded/server.js";
import { EXIT, generalUsage, packageVersion, parseCommandLine, UsageError, type Command, type CommandIO } from "./command.js";
import { connect, connectionOptions, connectionUsage, type ServerConnection } from "./connection.js";
import { HumanOutput, wantsColour } from "./human-output.js";
import { onInterrupt } from "./interrupt.js";
import { Progress } from "./progress.js";
import { observeOptions, observeUsage, startObservers, type Observers } from "./observe.js";
import { openWebhook, sinkOptions, sinkUsage } from "./sink-options.js";
import { askOnTerminal } from "./terminal-ask.js";

const options = {
  ...connectionOptions,
  ...observeOptions,
  ...sinkOptions,
  "trace-id": { type: "string" },
  attach: { type: "string", multiple: true },
  json: { type: "boolean" },
  result: { type: "boolean" },
  vocabulary: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

const usage = `Usage: opencode-turns run [options] <prompt...>

Runs one opencode turn and shows it as it streams. The prompt is the arguments, or standard input
when it is not a terminal. Without --url, opencode is started here for the turn and stopped after.

Output:
  --json                    one reply object per line on stdout, nothing else (diagnostics on stderr)
  --result                  after the turn, its result as the last line on stdout: one JSON object
                            with trace_id, session_id, outcome, content or error and code, usage,
                            duration_ms (e.g. \`run --json --result ... | tail -n 1 | jq -r .session_id\`)
  --vocabulary core|full    the replies to make: the six core kinds (default), or also todos, steps,
                            live tool output, diffs, subagent work, asks, retries (docs/vocabulary.md)
  --trace-id ID             the trace id of the turn's replies (default: a new UUID)
  --attach FILE             attach a file (repeatable; the type comes from its extension)
${connectionUsage}
${observeUsage}
${sinkUsage}
${generalUsage}

Exit status: 0 when the turn ends with its answer, 1 when it ends with an error, 2 for a usage
error, 130 when interrupted (Ctrl-C cancels the turn on the server; a second Ctrl-C quits at once).

Examples:
  opencode-turns run --demo "Explain this repository"
  opencode-turns run --url http://127.0.0.1:4096 --model anthropic/claude-sonnet-4-5 "Fix the failing test"
  git diff | opencode-turns run --json --permissions reject`;

export const runCommand: Command = { name: "run", summary: "run one turn and show it as it streams", usage, run };

async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommandLine(args, options, true);
  if (values.help) {
    io.stdout.write(`${usage}\n`);
    return EXIT.ok;
  }
  if (values.version) {
    io.stdout.write(`${packageVersion()}\n`);
    return EXIT.ok;
  }
  const prompt = positionals.length > 0 ? positionals.join(" ") : io.stdin.isTTY ? "" : await readAll(io.stdin);
  if (!prompt.trim()) throw new UsageError("Give a prompt: as arguments, or on standard input.");
  const attachments = await Promise.all((values.attach ?? []).map(readAttachment));
  const traceId = values["trace-id"] ?? randomUUID();
  const vocabulary = Vocabulary.safeParse(values.vocabulary ?? "core");
  if (!vocabulary.success) throw new UsageError(`--vocabulary is core or full, not ${JSON.stringify(values.vocabulary)}.`);

  const diagnostic = (line: string) => io.stderr.write(`opencode-turns: ${line}\n`);
  const log = values.verbose ? diagnostic : undefined;
  const cancel = new AbortController();
  // Whoever reads stdout went away (`| head`): stop the turn on the server rather than crash.
  let readerGone = false;
  const onOutputError = () => {
    readerGone = true;
    cancel.abort();
  };
  io.stdout.on("error", onOutputError);
  const human = values.json ? undefined : new HumanOutput(io.stdout, io.stderr, wantsColour(io.stdout, io.env));
  const progress = new Progress(io.stderr, io.stderr.isTTY === true && !values.verbose, (text) => (wantsColour(io.stderr, io.env) ? `\u001b[2m${text}\u001b[22m` : text));
  const json: Sink = (reply) => (readerGone ? undefined : writeLine(io.stdout, JSON.stringify(reply)));
  const webhook = openWebhook(values, diagnostic);
  const printed: Sink = human?.sink ?? json;
  const shown: Sink = (reply) => {
    progress.end();
    return printed(reply);
  };
  const sink: Sink = webhook
    ? async (reply) => {
        await shown(reply);
        await webhook.deliver(reply);
      }
    : shown;

  // The notice starts on a line of its own, and what streams after it starts a block of its own.
  const stopListening = onInterrupt(() => cancel.abort(), (line) => {
    progress.end();
    if (human) human.notice(`opencode-turns: ${line}`);
    else diagnostic(line);
  });
  let connection: ServerConnection | undefined;
  let observers: Observers | undefined;
  try {
    observers = await startObservers(values, diagnostic, cancel.signal);
    if (cancel.signal.aborted) return EXIT.interrupted;
    const canAsk = values.permissions === "ask" && io.stdin.isTTY === true && io.stderr.isTTY === true;
    try {
      connection = await connect(values, {
        env: io.env,
        ...(canAsk ? { ask: askOnTerminal(io.stdin, io.stderr, human ? () => human.pause() : () => () => {}, cancel.signal) } : {}),
        ...(log ? { log } : {}),
        progress: (stage) => progress.say(stage),
      });
    } catch (error) {
      if (!(error instanceof OpencodeStartError) && !(error instanceof TurnError)) throw error;
      // The turn could not run: it still ends in an error reply, so --json readers see how it ended.
      const reply = { kind: "error", trace_id: traceId, error: error.message, code: error instanceof TurnError ? error.code : "unreachable" } as const;
      progress.end();
      io.stderr.write(`Error: ${error.message}\n`);
      if (!human) await sink(reply);
      return EXIT.failed;
    }
    if (cancel.signal.aborted) return EXIT.interrupted;
    progress.say(`Connected to opencode at ${connection.config.baseUrl}; waiting for the model…`);

    const adapter = new OpenCodeAdapter(connection.config, sink, {
      logger: { warn: (...args: unknown[]) => diagnostic(format(...args)) },
      ...(observers.inspect ? { inspect: observers.inspect } : {}),
    });
    let result: TurnResult;
    try {
      result = await adapter.prompt(prompt, traceId, { attachments, signal: cancel.signal, vocabulary: vocabulary.data });
    } finally {
      await adapter.close();
    }
    const observed = await observers.close(diagnostic);
    progress.end();
    if (!readerGone) human?.finish(result, cancel.signal.aborted);
    if (values.result && !readerGone) await writeLine(io.stdout, JSON.stringify(result));
    log?.(`result ${JSON.stringify(result)}`);
    if (readerGone || !observed) return EXIT.failed;
    if (cancel.signal.aborted) return EXIT.interrupted;
    return result.outcome === "final" ? EXIT.ok : EXIT.failed;
  } finally {
    await observers?.close(diagnostic);
    await webhook?.close();
    progress.end();
    await connection?.stop();
    stopListening();
    io.stdout.off("error", onOutputError);
  }
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

/** One line, waiting for the stream to drain when it asks to (a slow reader of --json), or to fail. */
function writeLine(stream: NodeJS.WritableStream & Writable, line: string): void | Promise<void> {
  const written = writeOrWait(stream, `${line}\n`);
  return written === true ? undefined : written.then(() => undefined);
}
