/**
 * The CLI's per-turn choices (`run --variant/--tool/--format`) and its session commands (`sessions`,
 * `command`, `summarize`, `fork`, `revert`, `unrevert`), spawned as a user runs them, against real
 * opencode (1.18.33 and 1.15.13: both have each of them) and a scripted model whose request log says
 * what opencode was sent.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Reply, TurnResult } from "../../src/contract/replies.js";
import { isTitleRequest, lastUserText, type ChatRequest, type Script } from "../../src/embedded/model-server.js";
import { runCli } from "../../testkit/cli.js";
import { MODEL_ID, PROVIDER_ID, startTestOpencode, type OpencodeServer, type OpencodeVersion } from "../../testkit/opencode-server.js";
import { startRecordedModel, type ScriptedModel } from "../../testkit/scripted-model.js";

const CITY = { city: "Paris", population: 2100000 };
const SCHEMA = { type: "object", properties: { city: { type: "string" }, population: { type: "number" } }, required: ["city", "population"] };
const SUMMARY = "SUMMARY: the user said hello.";

function respond(req: ChatRequest): { branch: string; script: Script } {
  const tools = (req.tools ?? []).map((tool) => tool.function?.name);
  if (isTitleRequest(req)) return { branch: "title", script: { kind: "stream", text: ["Scripted title"] } };
  // A compaction request offers no tools.
  if (tools.length === 0) return { branch: "compaction", script: { kind: "stream", text: [SUMMARY] } };
  if (tools.includes("StructuredOutput") && !lastUserText(req).includes("answer in prose")) {
    return { branch: "structured", script: { kind: "stream", toolCalls: [{ id: "call_s", name: "StructuredOutput", arguments: JSON.stringify(CITY) }] } };
  }
  return { branch: "text", script: { kind: "stream", text: ["Hello ", "from ", "the ", "model."] } };
}

/** stdout of --json --result: the replies, each checked against the contract, then the result. */
function jsonTurn(stdout: string): { replies: Reply[]; result: TurnResult } {
  const lines = stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as unknown);
  return { replies: lines.slice(0, -1).map((line) => Reply.parse(line)), result: TurnResult.parse(lines.at(-1)) };
}

describe.each(["1.18.33", "1.15.13"] as OpencodeVersion[])("the CLI's session commands and turn choices on opencode %s", (version) => {
  let model: ScriptedModel;
  let server: OpencodeServer;
  let scratch: string;
  const connection = () => ["--url", server.url, "--password", server.password];
  const cli = (...args: string[]) => runCli([...args, ...connection()]);

  /** A new session with one turn per prompt, made by `run`: its id. */
  async function sessionWith(...prompts: string[]): Promise<string> {
    let session: string | undefined;
    for (const prompt of prompts) {
      const run = await cli("run", "--json", "--result", ...(session ? ["--session", session] : []), prompt);
      expect(run.code, run.stderr).toBe(0);
      session = jsonTurn(run.stdout).result.session_id!;
    }
    return session!;
  }

  /** The session's turns as `history --json` gives them: each turn's user text is not in it, so its message id and final. */
  async function turns(session: string): Promise<Array<{ message: string; final: string }>> {
    const history = await cli("history", "--json", session);
    expect(history.code, history.stderr).toBe(0);
    const replies = history.stdout.trimEnd().split("\n").filter(Boolean).map((line) => Reply.parse(JSON.parse(line)));
    return replies.flatMap((reply) => (reply.kind === "final" ? [{ message: reply.trace_id, final: reply.content }] : []));
  }

  beforeAll(async () => {
    model = await startRecordedModel(respond, [MODEL_ID]);
    server = await startTestOpencode({
      version,
      modelUrl: model.url,
      extraConfig: {
        command: { greet: { template: "Please greet $ARGUMENTS warmly.", description: "Greets someone" } },
        provider: { [PROVIDER_ID]: { models: { [MODEL_ID]: { variants: { deep: { reasoningEffort: "high" } } } } } },
      },
    });
    scratch = await mkdtemp(path.join(os.tmpdir(), "cli-session-ops-"));
  });

  afterAll(async () => {
    await server?.stop();
    await model?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it("run --variant, --tool and --format reach opencode: reasoning_effort, no bash, the structured object", async () => {
    let before = model.log.length;
    const variant = await cli("run", "--variant", "deep", "hello variant");
    expect(variant.code, variant.stderr).toBe(0);
    const [withVariant] = model.log.slice(before).filter((r) => r.branch === "text");
    // The config's variant "deep" is { reasoningEffort: "high" }: openai-compatible's reasoning_effort.
    expect(withVariant).toMatchObject({ lastUserText: "hello variant", body: { reasoning_effort: "high" } });
    expect(withVariant!.tools).toContain("bash");

    before = model.log.length;
    const noBash = await cli("run", "--tool", "bash=off", "--tool", "read=on", "hello without bash");
    expect(noBash.code, noBash.stderr).toBe(0);
    const [withoutBash] = model.log.slice(before).filter((r) => r.branch === "text");
    expect(withoutBash!.lastUserText).toBe("hello without bash");
    expect(withoutBash!.body).not.toHaveProperty("reasoning_effort");
    expect(withoutBash!.tools).not.toContain("bash");
    expect(withoutBash!.tools).toContain("read");

    // --format from a file: the final and the --result line carry the object.
    const file = path.join(scratch, "city.schema.json");
    await writeFile(file, JSON.stringify(SCHEMA));
    const structured = await cli("run", "--json", "--result", "--format", file, "which city?");
    expect(structured.code, structured.stderr).toBe(0);
    const { replies, result } = jsonTurn(structured.stdout);
    expect(replies.at(-1)).toMatchObject({ kind: "final", structured: CITY });
    expect(result).toMatchObject({ outcome: "final", structured: CITY });
    // Inline, shown to a person: after the answer (opencode's StructuredOutput tool call), the object as pretty JSON, then the closing line.
    const shown = await cli("run", "--format", JSON.stringify(SCHEMA), "which city?");
    expect(shown.code, shown.stderr).toBe(0);
    const [tool, ...rest] = shown.stdout.trimEnd().split("\n");
    expect(tool).toMatch(/^✓ StructuredOutput /);
    expect(rest.slice(0, -1).join("\n")).toBe(JSON.stringify(CITY, null, 2));
    expect(rest.at(-1)).toMatch(/^— .* session ses\w+$/);
    // A model that answers in prose: an honest error, exit 1.
    const prose = await cli("run", "--format", file, "answer in prose please");
    expect(prose.code).toBe(1);
    expect(prose.stderr).toContain("did not answer in the requested format");
  });

  it("sessions lists the session a run made; command runs a slash command as a turn; summarize compacts", async () => {
    const session = await sessionWith("hello there");
    const listed = await cli("sessions", "--json");
    expect(listed.code, listed.stderr).toBe(0);
    const sessions = listed.stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as { session_id: string; title: string; updated: number });
    expect(sessions.find((s) => s.session_id === session)).toMatchObject({ title: expect.any(String), updated: expect.any(Number) });
    const human = await cli("sessions");
    expect(human.stdout).toMatch(new RegExp(`^${session}  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d  \\S`, "m"));

    const before = model.log.length;
    const command = await cli("command", session, "greet", "Alice", "and", "Bob");
    expect(command.code, command.stderr).toBe(0);
    expect(command.stdout).toMatch(new RegExp(`^Hello from the model\\.\\n— .* session ${session}\\n$`));
    expect(model.log.slice(before).find((r) => r.branch === "text")!.lastUserText).toContain("Please greet Alice and Bob warmly.");
    const json = await cli("command", "--json", "--result", "--trace-id", "t-cmd", session, "/greet", "Carol");
    expect(json.code, json.stderr).toBe(0);
    const turn = jsonTurn(json.stdout);
    expect(turn.replies.every((reply) => reply.trace_id === "t-cmd")).toBe(true);
    expect(turn.replies.at(-1)).toEqual({ kind: "final", trace_id: "t-cmd", content: "Hello from the model." });
    expect(turn.result).toMatchObject({ outcome: "final", session_id: session, content: "Hello from the model." });
    const unknown = await cli("command", session, "nope");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("Error: ");
    expect(unknown.stderr).toContain("nope");

    const summary = await cli("summarize", "--json", "--result", "--model", `${PROVIDER_ID}/${MODEL_ID}`, session);
    expect(summary.code, summary.stderr).toBe(0);
    expect(jsonTurn(summary.stdout).result).toMatchObject({ outcome: "final", session_id: session, content: SUMMARY });
    const after = await cli("run", "--session", session, "hello after the summary");
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toContain("Hello from the model.");
  });

  it("fork prints a new session id that sessions lists; revert takes a turn out of the history, unrevert brings it back", async () => {
    const session = await sessionWith("one", "two");
    const [, second] = await turns(session);
    const whole = await cli("fork", session);
    expect(whole.code, whole.stderr).toBe(0);
    expect(whole.stdout).toMatch(/^ses\w+\n$/);
    const forked = whole.stdout.trim();
    expect(forked).not.toBe(session);
    expect((await cli("sessions", "--json")).stdout).toContain(`"session_id":"${forked}"`);
    expect(await turns(forked)).toHaveLength(2);
    const before = await cli("fork", "--message", second!.message, session);
    expect(before.code, before.stderr).toBe(0);
    expect(await turns(before.stdout.trim())).toHaveLength(1);

    const reverted = await cli("revert", session, second!.message);
    expect(reverted.code, reverted.stderr).toBe(0);
    expect((await turns(session)).map((turn) => turn.message)).not.toContain(second!.message);
    const unreverted = await cli("unrevert", session);
    expect(unreverted.code, unreverted.stderr).toBe(0);
    expect((await turns(session)).map((turn) => turn.message)).toContain(second!.message);
  });

  it("says what failed as run does: unauthorized with advice, session_not_found, a message the session lacks", async () => {
    for (const args of [["sessions"], ["fork", "ses_missing"], ["command", "ses_missing", "greet"]]) {
      const wrong = await runCli([...args, "--url", server.url, "--password", "wrong"]);
      expect(wrong.code, args.join(" ")).toBe(1);
      expect(wrong.stderr).toContain("Check the password");
      expect(wrong.stderr).not.toContain("wrong");
    }
    for (const args of [["fork", "ses_missing"], ["revert", "ses_missing", "msg_missing"], ["unrevert", "ses_missing"]]) {
      const missing = await cli(...args);
      expect(missing.code, args.join(" ")).toBe(1);
      expect(missing.stderr).toContain("(session_not_found)");
      // The session was the argument: the advice points at the list, not at --session.
      expect(missing.stderr).toContain("`opencode-turns sessions` lists them");
      expect(missing.stderr).not.toContain("--session");
    }
    const command = await cli("command", "--json", "ses_missing", "greet");
    expect(command.code).toBe(1);
    expect(command.stdout.trimEnd().split("\n").map((line) => Reply.parse(JSON.parse(line))).at(-1)).toMatchObject({ kind: "error", code: "session_not_found" });
    const session = await sessionWith("hello");
    const lacking = await cli("revert", session, "msg_doesnotexist");
    expect(lacking.code).toBe(1);
    expect(lacking.stderr).toContain("no message msg_doesnotexist");
  });
}, 240_000);
