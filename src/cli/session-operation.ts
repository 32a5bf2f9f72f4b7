/**
 * What the commands that read or reshape sessions without a turn (`history`, `sessions`, `fork`,
 * `revert`, `unrevert`) share: their options, and `operate()`, which connects, runs the operation
 * on an adapter and says a failure as `run` does, with what to do about it.
 */
import { OpenCodeAdapter } from "../host/adapter.js";
import { asTurnError } from "../contract/turn-error.js";
import { EXIT, generalUsage, UsageError, type CommandIO } from "./command.js";
import { connect, serverOptions, serverUsage, type ConnectionValues, type ServerConnection } from "./connection.js";
import { ADVICE } from "./human-output.js";

export const operationOptions = {
  ...serverOptions,
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

export const operationUsage = `${serverUsage}
${generalUsage}

Exit status: 0 when it is done, 1 when it fails (the reason and what to do on stderr), 2 for a
usage error.`;

/**
 * Runs `operation` on an adapter of `session` (or of no session) and resolves with the exit code.
 * The adapter redacts the password from what it reports, as it does for a turn.
 */
export async function operate(values: ConnectionValues, io: CommandIO, session: string | undefined, operation: (adapter: OpenCodeAdapter) => Promise<void>): Promise<number> {
  const given = session === undefined ? values : { ...values, session };
  const diagnostic = (line: string) => io.stderr.write(`opencode-turns: ${line}\n`);
  let connection: ServerConnection | undefined;
  let adapter: OpenCodeAdapter | undefined;
  try {
    connection = await connect(given, { env: io.env, ...(values.verbose ? { log: diagnostic } : {}) });
    adapter = new OpenCodeAdapter(connection.config, () => undefined, { logger: { warn: (line: unknown) => diagnostic(String(line)) } });
    await operation(adapter);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const failure = asTurnError(error);
    diagnostic(`${failure.message} (${failure.code})`);
    // The session was this command's argument, not --session: the advice says how to find one.
    io.stderr.write(`${failure.code === "session_not_found" ? "Check the session id (ses...): `opencode-turns sessions` lists them." : ADVICE[failure.code]}\n`);
    return EXIT.failed;
  } finally {
    await adapter?.close();
    await connection?.stop();
  }
}
