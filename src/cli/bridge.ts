/**
 * `opencode-turns bridge [options]`: the NDJSON protocol of `src/integrations/bridge.ts` over stdin and stdout,
 * for hosts in any language (the Python adapter in `python/` speaks it).
 */
import { format } from "node:util";
import { DEFAULT_ASK_TIMEOUT_MS, DEFAULT_IDLE_KEY_MS, describeProtocol, runBridge } from "../integrations/bridge.js";
import { PermissionMode, QuestionMode } from "../contract/decisions.js";
import { Vocabulary } from "../contract/replies.js";
import { TurnError } from "../contract/turn-error.js";
import { OpencodeStartError } from "../embedded/server.js";
import { answerHelpOrVersion, EXIT, generalUsage, parseCommandLine, UsageError, type Command, type CommandIO } from "./command.js";
import { connect, connectionOptions, connectionUsage, type ServerConnection } from "./connection.js";
import { onInterrupt } from "./interrupt.js";
import { openWebhook, sinkOptions, sinkUsage } from "./sink-options.js";

const options = {
  ...connectionOptions,
  ...sinkOptions,
  questions: { type: "string" },
  vocabulary: { type: "string" },
  "ask-timeout": { type: "string" },
  "key-idle": { type: "string" },
  "connect-timeout": { type: "string" },
  "heartbeat-timeout": { type: "string" },
  describe: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

const usage = `Usage: opencode-turns bridge [options]

Serves turns over standard input and output, one JSON object per line each way, for a host in
any language. In: {"id","op":"prompt","text","trace_id"?,"attachments"?,"session"?,"vocabulary"?},
{"id","op":"session","session"?,"session_id"?}, {"id","op":"release","session"},
{"op":"cancel","id"}, {"op":"answer","ask_id","decision"}, {"id","op":"close"}. Out: {"id","reply"}
per reply, in order, then {"id","result"}; {"id","ask"} with --permissions ask or --questions ask;
{"id","session_id"}; {"id","released":true}; {"id","closed":true}; {"id"?,"error"}. Nothing else
goes to stdout; diagnostics go to stderr. The whole protocol: docs/bridge.md, or --describe.
Standard input ending lets the turns asked for finish, then exits 0 (so \`echo '{...}' | bridge\`
answers); {"op":"close"}, SIGINT/SIGTERM, or stdout closing end every turn at once.

Bridge:
  --describe                print the protocol as JSON Schema and exit
  --permissions MODE        once | always | reject | ask (default reject); ask sends each
                            permission ask to the host as {"id","ask"} and waits for its answer
  --questions MODE          reject | ask (default reject), the same for opencode's questions
  --vocabulary core|full    the replies of every turn (default core; a prompt's "vocabulary" wins)
  --ask-timeout SECONDS     an ask not answered within this is rejected (default ${DEFAULT_ASK_TIMEOUT_MS / 1000})
  --key-idle SECONDS        a session key idle this long has its adapter closed; the key keeps
                            its opencode session (default ${DEFAULT_IDLE_KEY_MS / 1000})
  --connect-timeout SECONDS connecting and each answer of opencode (default 10)
  --heartbeat-timeout SECONDS
                            an event stream silent this long is lost (default 30)
${sinkUsage}
${connectionUsage.replace(/\n {2}--permissions MODE[^\n]*\n[^\n]*\n/, "\n")}
${generalUsage}`;

export const bridgeCommand: Command = { name: "bridge", summary: "serve turns as JSON lines over stdin and stdout", usage, run };

async function run(args: string[], io: CommandIO): Promise<number> {
  const { values } = parseCommandLine(args, options, false);
  const answered = answerHelpOrVersion(values, usage, io);
  if (answered !== undefined) return answered;
  if (values.describe) {
    io.stdout.write(`${JSON.stringify(describeProtocol(), null, 2)}\n`);
    return EXIT.ok;
  }
  const permissions = oneOf("--permissions", values.permissions ?? "reject", PermissionMode.options);
  const questions = oneOf("--questions", values.questions ?? "reject", QuestionMode.options);
  const vocabulary = oneOf("--vocabulary", values.vocabulary ?? "core", Vocabulary.options);
  const askTimeoutMs = milliseconds("--ask-timeout", values["ask-timeout"]) ?? DEFAULT_ASK_TIMEOUT_MS;
  const idleKeyMs = milliseconds("--key-idle", values["key-idle"]) ?? DEFAULT_IDLE_KEY_MS;
  const connectTimeoutMs = milliseconds("--connect-timeout", values["connect-timeout"]);
  const heartbeatTimeoutMs = milliseconds("--heartbeat-timeout", values["heartbeat-timeout"]);

  const diagnostic = (line: string) => io.stderr.write(`opencode-turns bridge: ${line}\n`);
  const webhook = openWebhook(values, diagnostic);
  const stop = new AbortController();
  const stopListening = onInterrupt(() => stop.abort(), diagnostic);
  let connection: ServerConnection | undefined;
  try {
    try {
      // The bridge decides asks itself; the connection takes every other option.
      connection = await connect({ ...values, permissions: undefined }, { env: io.env, demoAsks: values.permissions !== undefined, ...(values.verbose ? { log: diagnostic } : {}) });
    } catch (error) {
      if (!(error instanceof OpencodeStartError) && !(error instanceof TurnError)) throw error;
      diagnostic(`Error: ${error.message}`);
      return EXIT.failed;
    }
    await runBridge({
      input: io.stdin,
      output: io.stdout,
      config: {
        ...connection.config,
        vocabulary,
        ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
        ...(heartbeatTimeoutMs !== undefined ? { heartbeatTimeoutMs } : {}),
      },
      permissions,
      questions,
      askTimeoutMs,
      idleKeyMs,
      ...(webhook ? { sink: webhook.deliver } : {}),
      logger: { warn: (...args: unknown[]) => diagnostic(format(...args)) },
      signal: stop.signal,
    });
    return EXIT.ok;
  } finally {
    await webhook?.close();
    await connection?.stop();
    stopListening();
  }
}


function oneOf<T extends string>(option: string, value: string, modes: readonly T[]): T {
  if (!modes.includes(value as T)) throw new UsageError(`${option} ${value}: expected one of ${modes.join(", ")}.`);
  return value as T;
}

function milliseconds(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`${option} ${value}: expected a number of seconds above 0.`);
  return Math.max(1, Math.round(seconds * 1000));
}
