import { PassThrough } from "node:stream";
import { cursorTo, moveCursor, clearLine } from "node:readline";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HumanOutput } from "../../src/cli/human-output.js";
import type { Reply, Todo } from "../../src/contract/replies.js";
import { screenOf } from "../../testkit/screen.js";

// The terminal rendering of the full vocabulary's kinds: as plain text (not a terminal), and on a
// fake terminal whose bytes go through a screen emulation, to see what a person would see.

interface Rendered {
  human: HumanOutput;
  text(): string;
}

const outputs: HumanOutput[] = [];
afterEach(() => {
  // A spinner left running would keep its timer.
  for (const human of outputs.splice(0)) human.sink({ kind: "final", trace_id: "t", content: "" });
});

function render(tty: boolean, rows = 40, columns = 100): Rendered {
  const out = new PassThrough();
  let text = "";
  out.on("data", (chunk: Buffer) => void (text += chunk.toString("utf8")));
  if (tty) {
    // What the spinner needs of a tty.WriteStream; the escape sequences are readline's, as on a real one.
    Object.assign(out, {
      isTTY: true,
      columns,
      rows,
      cursorTo: (x: number) => cursorTo(out, x),
      moveCursor: (dx: number, dy: number) => moveCursor(out, dx, dy),
      clearLine: (dir: -1 | 0 | 1) => clearLine(out, dir),
    });
  }
  const stream = out as unknown as NodeJS.WriteStream;
  const human = new HumanOutput(stream, stream, tty);
  outputs.push(human);
  return { human, text: () => text };
}

function rendered(replies: Reply[]): string {
  const { human, text } = render(false);
  for (const reply of replies) human.sink(reply);
  return text();
}

const t = "t";
const todos = (...statuses: string[]): Todo[] => ["Plan", "Test", "Ship"].slice(0, statuses.length).map((content, i) => ({ content, status: statuses[i]!, priority: "high" }));
const todo = (...statuses: string[]): Reply => ({ kind: "todo", trace_id: t, todos: todos(...statuses) });
const step = (index: number, cost: number): Reply => ({ kind: "step", trace_id: t, index, finish_reason: index === 0 ? "tool-calls" : "stop", tokens: { input: 10, output: 5, reasoning: 0, cache: { read: 0, write: 0 } }, cost });
const child = (reply: Reply): Reply => ({ kind: "subagent", trace_id: t, call_id: "c2", session_id: "ses_c", reply });

describe("human output of the full vocabulary, without a terminal", () => {
  it("each changed list printed whole, a diff summary after an edit, a line per step, a subagent's work indented under its task, no colour codes", () => {
    const text = rendered([
      todo("completed", "in_progress", "pending"),
      { kind: "tool_call", trace_id: t, tool: "edit", args: { filePath: "/repo/src/x.ts" }, call_id: "c1" },
      { kind: "tool_update", trace_id: t, call_id: "c1", tool: "edit", title: "src/x.ts", output: "partial" },
      { kind: "tool_result", trace_id: t, tool: "edit", result: "Edit applied successfully.", success: true, call_id: "c1", title: "src/x.ts", files: [{ path: "src/x.ts", additions: 12, deletions: 3, patch: "" }] },
      step(0, 0.0012),
      todo("completed", "completed", "pending"),
      { kind: "tool_call", trace_id: t, tool: "task", args: { description: "Child job", prompt: "go" }, call_id: "c2" },
      child({ kind: "tool_call", trace_id: t, tool: "bash", args: { command: "echo from-child" }, call_id: "c3" }),
      child({ kind: "tool_update", trace_id: t, tool: "bash", call_id: "c3", title: "child echo", output: "from-child\n" }),
      child({ kind: "tool_result", trace_id: t, tool: "bash", result: "from-child\n", success: true, call_id: "c3" }),
      child(step(0, 0.0001)),
      child({ kind: "delta", trace_id: t, content: "Child " }),
      child({ kind: "delta", trace_id: t, content: "done.\nTwo lines." }),
      child({ kind: "final", trace_id: t, content: "Child done.\nTwo lines." }),
      { kind: "tool_result", trace_id: t, tool: "task", result: "Child done.", success: true, call_id: "c2", title: "Child job" },
      { kind: "delta", trace_id: t, content: "Done." },
      step(1, 0.0002),
      { kind: "final", trace_id: t, content: "Done." },
    ]);
    expect(text).toBe(
      [
        "[x] Plan",
        "[~] Test",
        "[ ] Ship",
        "✓ edit src/x.ts → Edit applied successfully.",
        "  +12 −3 src/x.ts",
        "· step 1 tool-calls: 10 in, 5 out tokens · $0.0012",
        "[x] Plan",
        "[x] Test",
        "[ ] Ship",
        "  ┌ task Child job",
        "  │ ✓ bash child echo → from-child",
        "  │ · step 1 tool-calls: 10 in, 5 out tokens · $0.0001",
        "  │ Child done.",
        "  │ Two lines.",
        "✓ task Child job → Child done.",
        "Done.",
        "· step 2 stop: 10 in, 5 out tokens · $0.0002",
        "",
      ].join("\n"),
    );
    expect(text).not.toContain("\u001b");
  });

  it("a tool's title replaces its arguments in the result line; its live output is not printed, only the result's first line", () => {
    const text = rendered([
      { kind: "tool_call", trace_id: t, tool: "bash", args: { command: "for i in 1 2; do echo $i; done" }, call_id: "c1" },
      { kind: "tool_update", trace_id: t, call_id: "c1", tool: "bash", title: "Count", output: "1\n" },
      { kind: "tool_update", trace_id: t, call_id: "c1", tool: "bash", output: "1\n2\n" },
      { kind: "tool_result", trace_id: t, tool: "bash", result: "1\n2\n", success: true, call_id: "c1" },
      { kind: "final", trace_id: t, content: "" },
    ]);
    expect(text).toBe("✓ bash Count → 1\n");
  });
});

describe("human output of the full vocabulary, on a terminal", () => {
  // As on a CI machine: what the terminal shows does not depend on the environment's CI.
  beforeEach(() => void vi.stubEnv("CI", "1"));
  afterEach(() => void vi.unstubAllEnvs());

  it("the checklist is redrawn in place: the screen shows it once, with the latest statuses, and what came after it below", () => {
    const { human, text } = render(true);
    human.sink(todo("in_progress", "pending", "pending"));
    human.sink({ kind: "tool_call", trace_id: t, tool: "todowrite", args: {}, call_id: "c1" });
    human.sink({ kind: "tool_result", trace_id: t, tool: "todowrite", result: "3 todos", success: true, call_id: "c1", title: "3 todos" });
    human.sink(step(0, 0.0012));
    human.sink({ kind: "delta", trace_id: t, content: "Working " });
    human.sink(todo("completed", "in_progress", "pending"));
    human.sink({ kind: "delta", trace_id: t, content: "on it." });
    human.sink(todo("completed", "completed", "in_progress"));
    human.sink({ kind: "final", trace_id: t, content: "Working on it." });
    expect(screenOf(text())).toEqual(["[x] Plan", "[x] Test", "[~] Ship", "✓ todowrite 3 todos → 3 todos", "· step 1 tool-calls: 10 in, 5 out tokens · $0.0012", "Working on it."]);
    // The second list goes up over the first (the cursor was on the 6th row, mid-line), erases below and writes all again.
    expect(text()).toContain("\r\u001b[5A\u001b[J");
    expect(text()).toContain("\u001b[1m[~] Test\u001b[22m\n");
  });

  it("a list of wide characters that wraps is redrawn over all the rows it took, as the terminal drew them", () => {
    const { human, text } = render(true, 40, 20);
    const list = (...statuses: string[]): Reply => ({
      kind: "todo",
      trace_id: t,
      todos: ["计划一下这个改动吧", "为它写好测试用例", "发布"].map((content, i) => ({ content, status: statuses[i]!, priority: "high" })),
    });
    human.sink(list("in_progress", "pending", "pending"));
    human.sink({ kind: "delta", trace_id: t, content: "好的" });
    human.sink(list("completed", "in_progress", "pending"));
    human.sink(list("completed", "completed", "in_progress"));
    human.sink({ kind: "final", trace_id: t, content: "好的" });
    // "[x] " and 9 wide characters are 22 columns: two rows of 20 each; a list drawn over too few rows would show twice.
    expect(screenOf(text(), 20, 40)).toEqual(["[x] 计划一下这个改动", "吧", "[x] 为它写好测试用例", "[~] 发布", "好的"]);
  });

  it("a list of another length redraws too; once the old list has scrolled out of view the new one is written below", () => {
    const { human, text } = render(true, 8);
    human.sink(todo("in_progress", "pending"));
    human.sink(step(0, 0));
    human.sink(todo("completed", "in_progress", "pending"));
    expect(screenOf(text(), 100, 8)).toEqual(["[x] Plan", "[~] Test", "[ ] Ship", "· step 1 tool-calls: 10 in, 5 out tokens · $0.0000"]);
    for (let i = 1; i <= 6; i++) human.sink(step(i, 0));
    human.sink(todo("completed", "completed", "in_progress"));
    const screen = screenOf(text(), 100, 8);
    expect(screen.slice(0, 3)).toEqual(["[x] Plan", "[~] Test", "[ ] Ship"]);
    expect(screen.slice(-3)).toEqual(["[x] Plan", "[x] Test", "[~] Ship"]);
  });

  it("after an ask or a diagnostic on the terminal the next list is written below, not over what they wrote", () => {
    const { human, text } = render(true);
    human.sink(todo("in_progress"));
    human.pause()();
    human.sink(todo("completed"));
    human.diagnostic("opencode-turns: the webhook failed\n");
    human.sink(todo("cancelled"));
    expect(screenOf(text())).toEqual(["[~] Plan", "[x] Plan", "opencode-turns: the webhook failed", "[-] Plan"]);
  });

  it("the spinner shows the tool's title and the last lines of its output under it; the result line uses the title", () => {
    const { human, text } = render(true);
    human.sink({ kind: "tool_call", trace_id: t, tool: "bash", args: { command: "seq 5" }, call_id: "c1" });
    expect(screenOf(text())).toEqual([expect.stringMatching(/^. bash seq 5$/)]);
    human.sink({ kind: "tool_update", trace_id: t, call_id: "c1", tool: "bash", title: "Count to five", output: "1\n2\n3\n4\n" });
    expect(screenOf(text())).toEqual([expect.stringMatching(/^. bash Count to five$/), "  2", "  3", "  4"]);
    human.sink({ kind: "tool_result", trace_id: t, tool: "bash", result: "1\n2\n3\n4\n5\n", success: true, call_id: "c1", title: "Count to five" });
    expect(screenOf(text())).toEqual(["✓ bash Count to five → 1"]);
  });

  it("a subagent's lines show above its task's spinner, indented; the task's result closes them", () => {
    const { human, text } = render(true);
    human.sink({ kind: "tool_call", trace_id: t, tool: "task", args: { description: "Child job" }, call_id: "c2" });
    human.sink(child({ kind: "tool_call", trace_id: t, tool: "bash", args: { command: "echo from-child" }, call_id: "c3" }));
    human.sink(child({ kind: "tool_result", trace_id: t, tool: "bash", result: "from-child\n", success: true, call_id: "c3" }));
    expect(screenOf(text())).toEqual(["  ┌ task Child job", "  │ ✓ bash echo from-child → from-child", expect.stringMatching(/^. task Child job$/)]);
    human.sink(child({ kind: "final", trace_id: t, content: "Child done." }));
    human.sink({ kind: "tool_result", trace_id: t, tool: "task", result: "Child done.", success: true, call_id: "c2", title: "Child job" });
    human.sink({ kind: "final", trace_id: t, content: "" });
    expect(screenOf(text())).toEqual(["  ┌ task Child job", "  │ ✓ bash echo from-child → from-child", "  │ Child done.", "✓ task Child job → Child done."]);
  });
});

describe("human output of a turn with a format", () => {
  it("shows the structured object as indented JSON after the answer, on a line of its own", () => {
    const structured = { city: "Paris", tags: ["a"] };
    expect(rendered([{ kind: "delta", trace_id: t, content: "Here." }, { kind: "final", trace_id: t, content: "Here.", structured }])).toBe(`Here.\n${JSON.stringify(structured, null, 2)}\n`);
    // Without one, nothing is added.
    expect(rendered([{ kind: "delta", trace_id: t, content: "Here." }, { kind: "final", trace_id: t, content: "Here." }])).toBe("Here.\n");
  });

  it("a result line says what the result says: no JSON document's opening bracket, no bare markup line", () => {
    const list = JSON.stringify([{ content: "Plan", status: "pending", priority: "high" }], null, 2);
    const text = rendered([
      { kind: "tool_call", trace_id: t, tool: "todowrite", args: { todos: [] }, call_id: "c1" },
      { kind: "tool_result", trace_id: t, tool: "todowrite", result: list, success: true, call_id: "c1", title: "1 todos" },
      { kind: "tool_call", trace_id: t, tool: "task", args: { description: "Child job" }, call_id: "c2" },
      { kind: "tool_result", trace_id: t, tool: "task", result: '<task id="ses_child" state="completed">\n\nChild done.\n</task>', success: true, call_id: "c2", title: "Child job" },
      { kind: "tool_call", trace_id: t, tool: "mcp", args: {}, call_id: "c3" },
      { kind: "tool_result", trace_id: t, tool: "mcp", result: '{"ok":true}', success: true, call_id: "c3" },
      { kind: "final", trace_id: t, content: "" },
    ]);
    // A JSON document on one line is short enough to say itself.
    expect(text).toBe(["✓ todowrite 1 todos", "✓ task Child job → Child done.", '✓ mcp → {"ok":true}', ""].join("\n"));
  });

  it("a line for each answered ask, provider retry and compaction, each on a line of its own", () => {
    const text = rendered([
      { kind: "ask", trace_id: t, ask_id: "per_1", type: "permission", request: { permission: "bash", patterns: ["ls"] }, decision: "once" },
      { kind: "ask", trace_id: t, ask_id: "per_2", type: "permission", request: {}, decision: "reject" },
      { kind: "ask", trace_id: t, ask_id: "que_1", type: "question", request: { questions: [] }, decision: [["Red"], ["Small", "Round"]] },
      { kind: "ask", trace_id: t, ask_id: "que_2", type: "question", request: { questions: [] }, decision: "reject" },
      { kind: "delta", trace_id: t, content: "Partly" },
      { kind: "retry", trace_id: t, attempt: 1, message: "Rate limited\ntry later" },
      { kind: "compaction", trace_id: t },
      { kind: "delta", trace_id: t, content: " done." },
      { kind: "final", trace_id: t, content: "Partly done." },
    ]);
    expect(text).toBe(
      [
        "? bash: allowed once",
        "? permission: rejected",
        "? a question: answered Red; Small, Round",
        "? a question: rejected",
        "Partly",
        "↻ retry 1: Rate limited try later",
        "· opencode compacted the session",
        " done.",
        "",
      ].join("\n"),
    );
  });
});
