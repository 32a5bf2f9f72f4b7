/**
 * How `run` shows the full vocabulary's kinds: the todo list as a checklist (redrawn in place on a
 * terminal), a tool's live output under its spinner, a line per model step, and a subagent's work
 * indented under its task. `HumanOutput` writes what these make.
 */
import type { createColors } from "picocolors";
import { oneLine } from "../contract/one-line.js";
import type { Reply, Todo } from "../contract/replies.js";
import { cursorRow } from "./terminal.js";

type Colors = ReturnType<typeof createColors>;
type Of<K extends Reply["kind"]> = Extract<Reply, { kind: K }>;

const TODO_MARKS: Record<string, string> = { completed: "[x]", in_progress: "[~]", cancelled: "[-]" };

/** The todo list as checklist lines, each ending in a newline; what is done is dimmed, what runs is bold. */
export function checklist(todos: readonly Todo[], paint: Colors, indent = ""): string {
  return todos
    .map((todo) => {
      const line = `${TODO_MARKS[todo.status] ?? "[ ]"} ${todo.content}`;
      const painted = todo.status === "completed" || todo.status === "cancelled" ? paint.dim(line) : todo.status === "in_progress" ? paint.bold(line) : line;
      return `${indent}${painted}\n`;
    })
    .join("");
}

/** The closing line of a model step: `· step 1 tool-calls: 10 in, 5 out tokens · $0.0012`. */
export function stepLine(step: Of<"step">, paint: Colors): string {
  const { input, output, reasoning } = step.tokens;
  return paint.dim(`· step ${step.index + 1} ${step.finish_reason}: ${input} in, ${output} out${reasoning ? `, ${reasoning} reasoning` : ""} tokens · $${step.cost.toFixed(4)}`);
}

/**
 * The line of an answered ask, a provider retry or a compaction: `? bash: allowed once`,
 * `↻ retry 1: Rate limited`, `· opencode compacted the session`; none for the other kinds.
 */
export function eventLine(reply: Reply, paint: Colors): string | undefined {
  switch (reply.kind) {
    case "ask": {
      if (reply.type === "question") return paint.dim(`? a question: ${reply.decision === "reject" ? "rejected" : `answered ${reply.decision.map((labels) => labels.join(", ")).join("; ")}`}`);
      const what = typeof reply.request.permission === "string" ? reply.request.permission : "permission";
      return paint.dim(`? ${what}: ${reply.decision === "reject" ? "rejected" : `allowed ${reply.decision}`}`);
    }
    case "retry":
      return paint.yellow(`↻ retry ${reply.attempt}: ${oneLine(reply.message, 100)}`);
    case "compaction":
      return paint.dim("· opencode compacted the session");
    default:
      return undefined;
  }
}

const LIVE_LINES = 3;

/** The last lines of a running tool's output, to show under its spinner, each short enough not to wrap. */
export function liveOutput(output: string | undefined, columns: number, paint: Colors): string {
  const lines = (output ?? "").split("\n").filter((line) => line.trim()).slice(-LIVE_LINES);
  return lines.map((line) => `\n  ${paint.dim(oneLine(line, Math.max(10, columns - 4)))}`).join("");
}

/** The diff summary of a tool that changed files: `  +12 −3 src/x.ts` a line. */
export function diffSummary(reply: Of<"tool_result">, paint: Colors, indent = ""): string {
  const files = "files" in reply ? (reply.files ?? []) : [];
  return files.map((f) => `${indent}  ${paint.green(`+${f.additions}`)} ${paint.red(`−${f.deletions}`)} ${f.path}\n`).join("");
}

/**
 * Where the checklist stands on a terminal, so a new list is drawn over the old one: the cursor goes
 * up to the old list, the screen is erased from there, and the new list is written with everything
 * that was written after the old one written again below it. Once the old list has scrolled out of
 * view, or something else wrote to the terminal (an ask, a notice), the new list is written below.
 */
export class Checklist {
  /** The checklist as last drawn, and everything written after it; undefined when it cannot be redrawn. */
  private list: string | undefined;
  private after = "";

  constructor(private readonly screen: { columns?: number; rows?: number }) {}

  /** Records what was written after the checklist. */
  wrote(text: string): void {
    if (this.list === undefined) return;
    this.after += text;
    if (cursorRow(this.list + this.after, this.columns()) >= (this.screen.rows || 24)) this.forget();
  }

  /** Something else used the terminal: the next list cannot be drawn over this one. */
  forget(): void {
    this.list = undefined;
    this.after = "";
  }

  /** Whether the next list is drawn over the last one (written from where the cursor stands), not below it. */
  get inPlace(): boolean {
    return this.list !== undefined;
  }

  /** What to write to show `list`: over the old one when it is in view, else `list` itself, to be written at a line's start. */
  draw(list: string): string {
    const old = this.list;
    const after = this.after;
    this.list = list;
    if (old === undefined) return list;
    const up = cursorRow(old + after, this.columns());
    return `\r${up > 0 ? `\u001b[${up}A` : ""}\u001b[J${list}${after}`;
  }

  private columns(): number {
    return this.screen.columns || 80;
  }
}
