/**
 * What `opencode-turns run --vocabulary full` shows a person, against real opencode: the scripted
 * model keeps a todo list (todowrite), runs bash, writes and edits a file, hands a job to a
 * subagent (task, whose child session runs bash) and then marks the list done. Without a terminal
 * every changed list is printed; on a pseudo-terminal the final screen shows the list once, redrawn
 * in place with its final statuses. `--json` prints exactly the chosen vocabulary.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { say, scriptsByKeyword, toolCall } from "../../testkit/step-scripts.js";
import { FULL_ONLY_KINDS, Reply } from "../../src/contract/replies.js";
import { runCli } from "../../testkit/cli.js";
import { MODEL_ID, OPENCODE_VERSIONS, startTestOpencode, warmUp, type OpencodeServer } from "../../testkit/opencode-server.js";
import { startRecordedModel, type ScriptedModel } from "../../testkit/scripted-model.js";
import { screenOf } from "../../testkit/screen.js";
import { runOnTerminal } from "../../testkit/terminal.js";

const PLAN = ["Plan", "Build", "Check"];
const todos = (...statuses: string[]) => PLAN.map((content, i) => ({ content, status: statuses[i]!, priority: "high" }));

function scripts(directory: () => string) {
  return scriptsByKeyword(() => {
    const file = `${directory()}/term-${process.pid}.txt`;
    return {
      "TERM-ALL": [
        toolCall("call_todo", "todowrite", { todos: todos("in_progress", "pending", "pending") }),
        toolCall("call_bash", "bash", { command: "for i in 1 2 3; do echo $i; sleep 0.3; done", description: "Count" }),
        toolCall("call_write", "write", { filePath: file, content: "one\ntwo\nthree\n" }),
        toolCall("call_edit", "edit", { filePath: file, oldString: "two", newString: "2\n2b" }),
        toolCall("call_task", "task", { description: "Child job", prompt: "TERM-CHILD: echo", subagent_type: "general" }),
        toolCall("call_todo2", "todowrite", { todos: todos("completed", "completed", "completed") }),
        say("All ", "done."),
      ],
      "TERM-CHILD": [toolCall("call_child", "bash", { command: "echo from-child", description: "child echo" }), say("Child ", "done.")],
    };
  });
}

const STEP = /^· step \d+ [\w-]+: \d+ in, \d+ out tokens · \$\d+\.\d{4}$/;
const CHILD_STEP = /^ {2}│ · step \d+ [\w-]+: \d+ in, \d+ out tokens · \$\d+\.\d{4}$/;
const LIST = /^\[.\] (Plan|Build|Check)$/;

describe.each(OPENCODE_VERSIONS)("run --vocabulary full on opencode %s", (version) => {
  let model: ScriptedModel;
  let server: OpencodeServer;
  let connection: string[];

  beforeAll(async () => {
    model = await startRecordedModel(scripts(() => server.directory), [MODEL_ID]);
    server = await startTestOpencode({ version, modelUrl: model.url, permission: { bash: "allow", edit: "allow" } });
    await warmUp(server);
    connection = ["--url", server.url, "--password", server.password];
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await model?.close();
  });

  it("without a terminal: each changed list, the diff summary, a line per step with tokens and cost, the subagent's lines indented under its task", async () => {
    const run = await runCli(["run", ...connection, "--vocabulary", "full", "TERM-ALL"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toContain("\u001b");
    const lines = run.stdout.trimEnd().split("\n");
    const lists = lines.filter((line) => LIST.test(line));
    expect(lists).toEqual(["[~] Plan", "[ ] Build", "[ ] Check", "[x] Plan", "[x] Build", "[x] Check"]);
    expect(lines.slice(0, 3)).toEqual(lists.slice(0, 3));
    const edit = lines.findIndex((line) => line.startsWith("✓ edit "));
    expect(lines[edit + 1]).toMatch(/^ {2}\+2 −1 \S*term-\d+\.txt$/);
    expect(lines.filter((line) => STEP.test(line))).toHaveLength(7);
    expect(lines.at(-1)).toMatch(/^— \d+ in, \d+ out tokens · \$\d+\.\d{4} · [\d.]+ s · session ses/);
    // The subagent's work: a header naming the task, its bash and steps and final indented, then the task's result.
    const header = lines.indexOf("  ┌ task Child job");
    const taskResult = lines.findIndex((line) => line.startsWith("✓ task Child job"));
    expect(header).toBeGreaterThan(edit);
    const child = lines.slice(header + 1, taskResult);
    expect(child[0]).toMatch(/^ {2}│ ✓ bash (echo from-child|child echo) → from-child$/);
    expect(child.filter((line) => CHILD_STEP.test(line))).toHaveLength(2);
    expect(child.at(-1)).toBe("  │ Child done.");
    expect(child.every((line) => line.startsWith("  │ "))).toBe(true);
    expect(lines.indexOf("[x] Plan")).toBeGreaterThan(taskResult);
    expect(lines).toContain("All done.");
  }, 90_000);

  it("on a terminal: the final screen shows the checklist once, at the top, with its final statuses", async () => {
    const terminal = runOnTerminal(["run", ...connection, "--vocabulary", "full", "TERM-ALL"]);
    const { code, screen } = await terminal.exited;
    expect(code, screen).toBe(0);
    const shown = screenOf(screen, 100, 40);
    const text = shown.join("\n");
    expect(shown.filter((line) => LIST.test(line)), text).toEqual(["[x] Plan", "[x] Build", "[x] Check"]);
    expect(shown.slice(0, 3), text).toEqual(["[x] Plan", "[x] Build", "[x] Check"]);
    // Drawn over: the second list went up to the first.
    expect(screen).toMatch(/\r\u001b\[\d+A\u001b\[J/);
    expect(shown.filter((line) => STEP.test(line)), text).toHaveLength(7);
    expect(shown, text).toContain("  ┌ task Child job");
    expect(shown, text).toContain("  │ Child done.");
    expect(shown.some((line) => /^ {2}\+2 −1 \S*term-\d+\.txt$/.test(line)), text).toBe(true);
    expect(shown, text).toContain("All done.");
  }, 90_000);

  // --json reads the same codec on both versions: proven on the current one.
  if (version !== "1.18.33") return;

  it("--json --vocabulary full prints the todo, step, tool_update and subagent replies; --json alone none of them", async () => {
    const kinds = async (...args: string[]) => {
      const run = await runCli(["run", ...connection, "--json", ...args, "TERM-ALL"]);
      expect(run.code, run.stderr).toBe(0);
      return run.stdout.trimEnd().split("\n").map((line) => Reply.parse(JSON.parse(line)).kind);
    };
    const full = await kinds("--vocabulary", "full");
    expect(full).toEqual(expect.arrayContaining(["todo", "step", "tool_update", "subagent"]));
    const core = await kinds();
    expect(core.filter((kind) => (FULL_ONLY_KINDS as readonly string[]).includes(kind))).toEqual([]);
    expect(core).toEqual(expect.arrayContaining(["tool_call", "tool_result", "delta", "final"]));
  }, 90_000);
});
