import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { HumanOutput } from "../../src/cli/human-output.js";
import type { Reply } from "../../src/contract/replies.js";

// The terminal rendering of the full vocabulary's kinds, without colour (not a terminal).

function rendered(replies: Reply[]): string {
  const out = new PassThrough();
  let text = "";
  out.on("data", (chunk: Buffer) => void (text += chunk.toString("utf8")));
  const human = new HumanOutput(out as unknown as NodeJS.WriteStream, out as unknown as NodeJS.WriteStream, false);
  for (const reply of replies) human.sink(reply);
  return text;
}

const t = "t";

describe("human output of the full vocabulary", () => {
  it("a checklist, a diff summary after an edit, a line per step, a subagent's work indented; the answer as before", () => {
    const text = rendered([
      { kind: "todo", trace_id: t, todos: [{ content: "Plan", status: "completed", priority: "high" }, { content: "Test", status: "in_progress", priority: "low" }, { content: "Ship", status: "pending", priority: "low" }] },
      { kind: "tool_call", trace_id: t, tool: "edit", args: { filePath: "src/x.ts" }, call_id: "c1" },
      { kind: "tool_update", trace_id: t, call_id: "c1", tool: "edit", output: "partial" },
      { kind: "tool_result", trace_id: t, tool: "edit", result: "Edit applied successfully.", success: true, call_id: "c1", title: "src/x.ts", files: [{ path: "src/x.ts", additions: 12, deletions: 3, patch: "" }] },
      { kind: "step", trace_id: t, index: 0, finish_reason: "tool-calls", tokens: { input: 10, output: 5, reasoning: 0, cache: { read: 0, write: 0 } }, cost: 0.0012 },
      { kind: "subagent", trace_id: t, call_id: "c2", session_id: "ses_c", reply: { kind: "tool_result", trace_id: t, tool: "bash", result: "from-child\n", success: true, call_id: "c3" } },
      { kind: "subagent", trace_id: t, call_id: "c2", session_id: "ses_c", reply: { kind: "delta", trace_id: t, content: "not shown" } },
      { kind: "subagent", trace_id: t, call_id: "c2", session_id: "ses_c", reply: { kind: "final", trace_id: t, content: "Child done." } },
      { kind: "delta", trace_id: t, content: "Done." },
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
        "  │ ✓ bash from-child",
        "  │ Child done.",
        "Done.",
        "",
      ].join("\n"),
    );
  });
});

describe("human output of a turn with a format", () => {
  it("shows the structured object as indented JSON after the answer, on a line of its own", () => {
    const structured = { city: "Paris", tags: ["a"] };
    expect(rendered([{ kind: "delta", trace_id: t, content: "Here." }, { kind: "final", trace_id: t, content: "Here.", structured }])).toBe(`Here.\n${JSON.stringify(structured, null, 2)}\n`);
    // Without one, nothing is added.
    expect(rendered([{ kind: "delta", trace_id: t, content: "Here." }, { kind: "final", trace_id: t, content: "Here." }])).toBe("Here.\n");
  });
});
