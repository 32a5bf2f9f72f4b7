/**
 * How `run` shows a turn to a person: the answer as it streams, reasoning dimmed, one line per tool
 * call (a spinner while it runs, then its result), a closing line with tokens, cost and duration,
 * and errors in plain words with what to do. Without a terminal, or with NO_COLOR, no colour and
 * no spinner: the same lines as plain text.
 */
import { createColors } from "picocolors";
import yoctoSpinner, { type Spinner } from "yocto-spinner";
import { oneLine } from "../contract/one-line.js";
import type { ErrorCode, Reply, TurnResult } from "../contract/replies.js";

/** Colour and spinner only on a terminal, and not with NO_COLOR (https://no-color.org) or TERM=dumb. */
export function wantsColour(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && !env.NO_COLOR && env.TERM !== "dumb";
}

/** What to do about each kind of error, after the error's own sentence. */
export const ADVICE: Record<ErrorCode, string> = {
  unauthorized: "Check the password (--password or OPENCODE_SERVER_PASSWORD) and the user (--username).",
  unreachable: "Check that opencode is running at --url (start one with `opencode serve`), or leave out --url to start one here.",
  session_not_found: "Check the id given to --session, or leave it out to start a new session.",
  bad_request: "opencode refused the request: check --model, --agent and the attached files.",
  provider_error: "The model's provider failed: check its API key and the model name in opencode's config (or try --model).",
  aborted: "The turn was cancelled.",
  timeout: "The turn ran past --timeout; give it more time.",
  stream_lost: "The connection to opencode was lost; check that the server is still running and try again.",
  closed: "The turn was stopped while it ran; try again.",
  internal: "This is a bug in opencode-turns: run again with --verbose and report what it prints.",
};

const LINE_LIMIT = 100;

/** The part of a tool's arguments a person recognises it by. */
function describeArgs(args: Record<string, unknown>): string {
  for (const key of ["command", "filePath", "path", "pattern", "url", "query", "description"]) {
    const value = args[key];
    if (typeof value === "string" && value) return oneLine(value, 60);
  }
  return Object.keys(args).length === 0 ? "" : oneLine(JSON.stringify(args), 60);
}

/** The first non-empty line of a tool's result. */
function firstLine(result: unknown): string {
  const text = typeof result === "string" ? result : result === undefined ? "" : JSON.stringify(result);
  return oneLine(text.split("\n").find((line) => line.trim()) ?? "", LINE_LIMIT);
}

const TODO_MARKS: Record<string, string> = { completed: "[x]", in_progress: "[~]", cancelled: "[-]" };

export class HumanOutput {
  private readonly paint;
  private readonly spinner: Spinner | undefined;
  private readonly running = new Map<string, string>();
  /** What was written last, to start a new block on a fresh line. */
  private block: "none" | "reasoning" | "text" | "line" = "none";
  private atLineStart = true;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly err: NodeJS.WriteStream,
    colour: boolean,
  ) {
    this.paint = createColors(colour);
    // handleSignals: false, or the spinner would exit on Ctrl-C before the turn is cancelled on the server.
    this.spinner = colour ? yoctoSpinner({ stream: out, handleSignals: false }) : undefined;
  }

  /** The adapter's sink. */
  readonly sink = (reply: Reply): void => {
    switch (reply.kind) {
      case "reasoning":
        if (this.block !== "reasoning") {
          this.newBlock();
          this.write(this.paint.dim(this.paint.italic("Thinking: ")), "Thinking: ");
          this.block = "reasoning";
        }
        this.write(this.paint.dim(reply.content), reply.content);
        return;
      case "delta":
        if (this.block !== "text") {
          this.newBlock();
          this.block = "text";
        }
        this.write(reply.content);
        return;
      case "tool_call": {
        this.newBlock();
        this.block = "line";
        const label = `${this.paint.bold(reply.tool)} ${describeArgs(reply.args)}`.trimEnd();
        this.running.set(reply.call_id, label);
        this.spinner?.start(label);
        return;
      }
      case "tool_result": {
        const label = this.running.get(reply.call_id) ?? this.paint.bold(reply.tool);
        this.running.delete(reply.call_id);
        this.spinner?.stop();
        const mark = reply.success ? this.paint.green("✓") : this.paint.red("✗");
        const result = firstLine(reply.result);
        this.write(`${mark} ${label}${result ? this.paint.dim(` → ${result}`) : ""}\n`);
        // The full vocabulary's diff summary: +12 −3 src/x.ts
        for (const f of "files" in reply ? (reply.files ?? []) : []) {
          this.write(`  ${this.paint.green(`+${f.additions}`)} ${this.paint.red(`−${f.deletions}`)} ${f.path}\n`, `  +${f.additions} −${f.deletions} ${f.path}\n`);
        }
        const next = [...this.running.values()].at(-1);
        if (next !== undefined) this.spinner?.start(next);
        return;
      }
      case "final":
        this.spinner?.stop();
        this.newBlock();
        // A turn with --format: its object, after the answer (which is often empty then).
        if (reply.structured !== undefined) this.write(`${JSON.stringify(reply.structured, null, 2)}\n`);
        return;
      case "error":
        this.spinner?.stop();
        this.newBlock();
        return;
      default:
        this.showMore(reply);
    }
  };

  /** The full vocabulary's kinds: a checklist, live output under the spinner, a line per step, a subagent's work indented. */
  private showMore(reply: Reply): void {
    switch (reply.kind) {
      case "todo":
        this.newBlock();
        for (const todo of reply.todos) this.write(`${TODO_MARKS[todo.status] ?? "[ ]"} ${todo.content}\n`);
        return;
      case "tool_update": {
        const label = this.running.get(reply.call_id);
        const last = reply.output?.trimEnd().split("\n").at(-1);
        if (label !== undefined && this.spinner?.isSpinning) this.spinner.text = `${label}${last ? this.paint.dim(` ${oneLine(last, 60)}`) : ""}`;
        return;
      }
      case "step": {
        this.spinner?.stop();
        this.newBlock();
        const { input, output } = reply.tokens;
        this.write(`${this.paint.dim(`· step ${reply.index + 1} ${reply.finish_reason}: ${input} in, ${output} out tokens · $${reply.cost.toFixed(4)}`)}\n`, "step\n");
        const next = [...this.running.values()].at(-1);
        if (next !== undefined) this.spinner?.start(next);
        return;
      }
      case "subagent": {
        const inner = reply.reply;
        const line = inner.kind === "tool_result" ? `${inner.success ? "✓" : "✗"} ${inner.tool} ${firstLine(inner.result)}` : inner.kind === "final" ? firstLine(inner.content) : inner.kind === "error" ? `✗ ${inner.error}` : undefined;
        if (line === undefined) return;
        this.newBlock();
        this.write(`  ${this.paint.dim("│")} ${line.trimEnd()}\n`, `  │ ${line.trimEnd()}\n`);
        return;
      }
      default:
        return;
    }
  }

  /** Stops the spinner while something else uses the terminal; the returned function restarts it. */
  pause(): () => void {
    const label = this.spinner?.isSpinning ? this.spinner.text : undefined;
    this.spinner?.stop();
    this.newBlock();
    return () => {
      if (label !== undefined && this.running.size > 0) this.spinner?.start(label);
    };
  }

  /**
   * A line of the command's own on stderr (Ctrl-C's notice), on a line of its own; what streams
   * after it starts a new block ("Thinking: " again), not the tail of the text before.
   */
  notice(line: string): void {
    this.spinner?.stop();
    const midLine = !this.atLineStart;
    this.newBlock();
    // A terminal echoes Ctrl-C (^C) where the cursor stands, also at a line's start or after a
    // spinner it cleared: the notice goes below that echo.
    if (this.spinner !== undefined && !midLine) this.err.write("\n");
    this.err.write(`${this.paint.yellow(line)}\n`);
  }

  /** The closing line, and the error with what to do about it. */
  finish(result: TurnResult, cancelled: boolean): void {
    this.spinner?.stop();
    this.newBlock();
    if (result.outcome === "error") {
      if (cancelled && result.code === "aborted") this.err.write(`${this.paint.yellow("Cancelled.")} The turn was stopped on the server.\n`);
      else this.err.write(`${this.paint.red("Error:")} ${result.error}\n${ADVICE[result.code]}\n`);
    }
    // A turn that never reached a session has nothing to sum up (no tokens, no time, no session).
    if (result.outcome === "error" && result.session_id === undefined && result.usage === undefined) return;
    const parts: string[] = [];
    if (result.usage) {
      const { tokens, cost } = result.usage;
      parts.push(`${tokens.input} in, ${tokens.output} out${tokens.reasoning ? `, ${tokens.reasoning} reasoning` : ""} tokens`);
      parts.push(`$${cost.toFixed(4)}`);
    }
    parts.push(`${(result.duration_ms / 1000).toFixed(1)} s`);
    if (result.session_id) parts.push(`session ${result.session_id}`);
    this.out.write(`${this.paint.dim(`— ${parts.join(" · ")}`)}\n`);
  }

  /** `plain` is `text` without colour codes, for knowing where the line stands. */
  private write(text: string, plain = text): void {
    if (!plain) return;
    this.out.write(text);
    this.atLineStart = plain.endsWith("\n");
  }

  /** A new block starts on its own line. */
  private newBlock(): void {
    if (!this.atLineStart) this.write("\n");
    this.block = "none";
  }
}
