/** `opencode-turns sessions [--json]`: the server's sessions, most recently updated first. */
import type { SessionSummary } from "../host/session-operations.js";
import { answerHelpOrVersion, parseCommandLine, UsageError, type Command, type CommandIO } from "./command.js";
import { operate, operationOptions, operationUsage } from "./session-operation.js";

const options = { ...operationOptions, json: { type: "boolean" } } as const;

const usage = `Usage: opencode-turns sessions [options]

Lists the opencode server's sessions (of --directory, when given), most recently updated first:
each one's id, when it was last updated, and its title.

Output:
  --json                    one session per line: {"session_id","title","parent_id"?,"directory"?,
                            "created"?,"updated"?} (times in milliseconds since 1970)
${operationUsage}`;

export const sessionsCommand: Command = { name: "sessions", summary: "list the server's sessions", usage, run };

async function run(args: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommandLine(args, options, true);
  const answered = answerHelpOrVersion(values, usage, io);
  if (answered !== undefined) return answered;
  if (positionals.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(positionals[0])}: sessions takes options only.`);
  return operate(values, io, undefined, async (adapter) => {
    const sessions = (await adapter.sessions()).sort((a, b) => (b.updated ?? 0) - (a.updated ?? 0));
    for (const session of sessions) io.stdout.write(`${values.json ? JSON.stringify(session) : line(session)}\n`);
  });
}

/** `ses_…  2026-12-03 06:50  title`: the time in UTC, as opencode stores it. */
function line(session: SessionSummary): string {
  const updated = session.updated ?? session.created;
  const when = updated === undefined ? "-".padEnd(16) : new Date(updated).toISOString().slice(0, 16).replace("T", " ");
  return `${session.session_id}  ${when}  ${session.title}`;
}
