/**
 * What the commands that run a turn (`run`, `command`, `summarize`) share: their options and
 * `--help` lines, and `runTurn()`, which connects, starts the turn and shows it as it streams (or as
 * JSON lines), with permissions, Ctrl-C, observers and the webhook.
 */
import { randomUUID } from "node:crypto";
import type { Writable } from "node:stream";
import { format } from "node:util";
import { OpenCodeAdapter, type PromptOptions, type Sink } from "../host/adapter.js";
import { writeOrWait } from "../contract/backpressure.js";
import { type TurnResult, Vocabulary } from "../contract/replies.js";
import { TurnError } from "../contract/turn-error.js";
import { OpencodeStartError } from "../embedded/server.js";
import { EXIT, UsageError, type CommandIO } from "./command.js";
import { connect, connectionOptions, type ConnectionValues, type ServerConnection } from "./connection.js";
import { HumanOutput, wantsColour } from "./human-output.js";
import { onInterrupt } from "./interrupt.js";
import { Progress } from "./progress.js";
import { observeOptions, startObservers, type ObserveValues, type Observers } from "./observe.js";
import { openWebhook, sinkOptions, type SinkValues } from "./sink-options.js";
import { askOnTerminal } from "./terminal-ask.js";

export const turnOptions = {
  ...connectionOptions,
  ...observeOptions,
  ...sinkOptions,
  "trace-id": { type: "string" },
  json: { type: "boolean" },
  result: { type: "boolean" },
  vocabulary: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

/** The Output lines of a turn command's `--help`, after its own first lines. */
export const turnOutputUsage = `  --json                    one reply object per line on stdout, nothing else (diagnostics on stderr)
  --result                  after the turn, its result as the last line on stdout: one JSON object
                            with trace_id, session_id, outcome, content or error and code, usage,
                            duration_ms (e.g. \`run --json --result ... | tail -n 1 | jq -r .session_id\`)
  --vocabulary core|full    the replies to make: the six core kinds (default), or also todos, steps,
                            live tool output, diffs, subagent work, asks, retries (docs/vocabulary.md)
  --trace-id ID             the trace id of the turn's replies (default: a new UUID)`;

export const turnExitUsage = `Exit status: 0 when the turn ends with its answer, 1 when it ends with an error, 2 for a usage
error, 130 when interrupted (Ctrl-C cancels the turn on the server; a second Ctrl-C quits at once).`;

export interface TurnValues extends ConnectionValues, ObserveValues, SinkValues {
  "trace-id"?: string | undefined;
  json?: boolean | undefined;
  result?: boolean | undefined;
  vocabulary?: string | undefined;
}

/** Starts the turn on the adapter, with the options `runTurn` gives it (signal, vocabulary) and the command's own. */
export type TurnStarter = (adapter: OpenCodeAdapter, traceId: string, options: PromptOptions) => Promise<TurnResult>;

/** Checks `--vocabulary` before anything starts; a wrong one is a usage error. */
export function vocabularyOf(values: { vocabulary?: string | undefined }): Vocabulary {
  const vocabulary = Vocabulary.safeParse(values.vocabulary ?? "core");
  if (!vocabulary.success) throw new UsageError(`--vocabulary is core or full, not ${JSON.stringify(values.vocabulary)}.`);
  return vocabulary.data;
}

/** Runs one turn as the options say and shows it; resolves with the exit code. */
export async function runTurn(values: TurnValues, io: CommandIO, start: TurnStarter): Promise<number> {
  const traceId = values["trace-id"] ?? randomUUID();
  const vocabulary = vocabularyOf(values);
  const human = values.json ? undefined : new HumanOutput(io.stdout, io.stderr, wantsColour(io.stdout, io.env));
  const diagnostic = (line: string) => (human ? human.diagnostic(`opencode-turns: ${line}\n`) : io.stderr.write(`opencode-turns: ${line}\n`));
  const log = values.verbose ? diagnostic : undefined;
  const cancel = new AbortController();
  // Whoever reads stdout went away (`| head`): stop the turn on the server rather than crash.
  let readerGone = false;
  const onOutputError = () => {
    readerGone = true;
    cancel.abort();
  };
  io.stdout.on("error", onOutputError);
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
      result = await start(adapter, traceId, { signal: cancel.signal, vocabulary });
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

/** One line, waiting for the stream to drain when it asks to (a slow reader of --json), or to fail. */
function writeLine(stream: NodeJS.WritableStream & Writable, line: string): void | Promise<void> {
  const written = writeOrWait(stream, `${line}\n`);
  return written === true ? undefined : written.then(() => undefined);
}
