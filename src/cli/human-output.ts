/**
 * How `run` shows a turn to a person: the answer as it streams, reasoning dimmed, one line per tool
 * call (a spinner while it runs, then its result), a closing line with tokens, cost and duration,
 * and errors in plain words with what to do; the full vocabulary's kinds as full-output.ts makes
 * them. Without a terminal, or with NO_COLOR, no colour, no spinner and no redrawing: the same
 * lines as plain text.
 */
import { createColors } from "picocolors";
import { oneLine } from "../contract/one-line.js";
import type { ErrorCode, Reply, TurnResult } from "../contract/replies.js";
import { Checklist, checklist, diffSummary, eventLine, liveOutput, stepLine } from "./full-output.js";
import { Spinner } from "./terminal.js";
import { describeArgs, firstLine } from "./tool-lines.js";

type Of<K extends Reply["kind"]> = Extract<Reply, { kind: K }>;

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

interface Running {
  label: string;
  output?: string;
}

export class HumanOutput {
  private readonly paint;
  private readonly spinner: Spinner | undefined;
  /** Running tool calls by call id, in the order they started; a subagent's by its session and call id. */
  private readonly running = new Map<string, Running>();
  private readonly childCalls = new Map<string, Running>();
  /** The task calls whose subagent work has begun showing. */
  private readonly tasks = new Set<string>();
  private readonly checklist: Checklist;
  /** What was written last, to start a new block on a fresh line. */
  private block: "none" | "reasoning" | "text" | "line" = "none";
  private atLineStart = true;

  /** `live`: a terminal, so colour, a spinner, and the checklist redrawn in place. */
  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly err: NodeJS.WriteStream,
    private readonly live: boolean,
  ) {
    this.paint = createColors(live);
    this.spinner = live ? new Spinner(out, this.paint.cyan) : undefined;
    this.checklist = new Checklist(out);
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
      case "tool_call":
        this.newBlock();
        this.block = "line";
        this.running.set(reply.call_id, { label: `${this.paint.bold(reply.tool)} ${describeArgs(reply.args)}`.trimEnd() });
        this.spin();
        return;
      case "tool_result":
        this.spinner?.stop();
        this.write(this.resultLine(reply, this.running, reply.call_id));
        this.write(diffSummary(reply, this.paint));
        this.spin();
        return;
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

  /** The full vocabulary's kinds: a checklist, a tool's title and live output, a line per step, a subagent's work indented. */
  private showMore(reply: Reply): void {
    switch (reply.kind) {
      case "todo": {
        const list = checklist(reply.todos, this.paint);
        // In place: from where the cursor stands, which may be mid-line (the answer streaming).
        if (this.live && this.checklist.inPlace) return void this.put(this.checklist.draw(list));
        this.newBlock();
        if (this.live) this.put(this.checklist.draw(list));
        else this.write(list);
        return;
      }
      case "tool_update":
        this.update(reply, this.running.get(reply.call_id));
        if (this.spinner?.isSpinning) this.spin();
        return;
      case "step":
        this.newBlock();
        this.write(`${stepLine(reply, this.paint)}\n`);
        return;
      case "subagent":
        if (!this.tasks.has(reply.call_id)) {
          this.tasks.add(reply.call_id);
          this.newBlock();
          this.write(`  ${this.paint.dim("┌")} ${this.running.get(reply.call_id)?.label ?? this.paint.bold("task")}\n`);
        }
        this.showChild(reply, `  ${this.paint.dim("│")} `);
        return;
      default: {
        const line = eventLine(reply, this.paint);
        if (line === undefined) return;
        this.newBlock();
        this.write(`${line}\n`);
      }
    }
  }

  /** A subagent's tool results, steps, todos, final and error, each line under `indent`; its streamed text shows as its final. */
  private showChild(reply: Of<"subagent">, indent: string): void {
    const inner = reply.reply;
    const key = `${reply.session_id} ${"call_id" in inner ? inner.call_id : ""}`;
    const lines = (text: string) => text.split("\n").filter((line) => line.trim()).map((line) => `${indent}${line}\n`).join("");
    switch (inner.kind) {
      case "tool_call":
        this.childCalls.set(key, { label: `${this.paint.bold(inner.tool)} ${describeArgs(inner.args)}`.trimEnd() });
        return;
      case "tool_update":
        return this.update(inner, this.childCalls.get(key));
      case "tool_result":
        this.newBlock();
        this.write(`${indent}${this.resultLine(inner, this.childCalls, key)}${diffSummary(inner, this.paint, indent)}`);
        return;
      case "step":
        return this.write(`${indent}${stepLine(inner, this.paint)}\n`);
      case "todo":
        return this.write(checklist(inner.todos, this.paint, indent));
      case "final":
        return this.write(lines(inner.content));
      case "error":
        return this.write(`${indent}${this.paint.red("✗")} ${inner.error}\n`);
      case "subagent":
        return this.showChild(inner, `${indent}  `);
      default:
        return;
    }
  }

  /** A tool's title replaces what its arguments said; its output so far shows under the spinner. */
  private update(reply: Of<"tool_update">, call: Running | undefined): void {
    if (call === undefined) return;
    if (reply.title) call.label = `${this.paint.bold(reply.tool)} ${oneLine(reply.title, 60)}`;
    if (reply.output !== undefined) call.output = reply.output;
  }

  /** `✓ bash ls → first line` (by its title when it has one), and the call is no longer running. */
  private resultLine(reply: Of<"tool_result">, calls: Map<string, Running>, key: string): string {
    const title = "title" in reply && reply.title ? `${this.paint.bold(reply.tool)} ${oneLine(reply.title, 60)}` : undefined;
    const label = title ?? calls.get(key)?.label ?? this.paint.bold(reply.tool);
    calls.delete(key);
    const mark = reply.success ? this.paint.green("✓") : this.paint.red("✗");
    const result = firstLine(reply.result);
    return `${mark} ${label}${result ? this.paint.dim(` → ${result}`) : ""}\n`;
  }

  /** The spinner shows the latest running call, with the last lines of its output under it. */
  private spin(): void {
    const call = [...this.running.values()].at(-1);
    if (this.spinner === undefined) return;
    if (call === undefined) return void this.spinner.stop();
    this.spinner.show(`${call.label}${liveOutput(call.output, this.out.columns || 80, this.paint)}`);
  }

  /** Stops the spinner while something else uses the terminal; the returned function restarts it. */
  pause(): () => void {
    const spinning = this.spinner?.isSpinning === true;
    this.spinner?.stop();
    this.newBlock();
    this.checklist.forget();
    return () => {
      if (spinning) this.spin();
    };
  }

  /**
   * A diagnostic on stderr while the turn shows: on a terminal on a line of its own, out of the
   * spinner's way, and the checklist is not redrawn over it.
   */
  diagnostic(line: string): void {
    if (!this.live) return void this.err.write(line);
    const resume = this.pause();
    this.err.write(line);
    resume();
  }

  /**
   * A line of the command's own on stderr (Ctrl-C's notice), on a line of its own; what streams
   * after it starts a new block ("Thinking: " again), not the tail of the text before.
   */
  notice(line: string): void {
    this.spinner?.stop();
    const midLine = !this.atLineStart;
    this.newBlock();
    this.checklist.forget();
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
    this.put(text);
    this.checklist.wrote(text);
    this.atLineStart = plain.endsWith("\n");
  }

  /** On a terminal, above the spinner when one spins. */
  private put(text: string): void {
    if (this.spinner === undefined) this.out.write(text);
    else this.spinner.write(text);
  }

  /** A new block starts on its own line. */
  private newBlock(): void {
    if (!this.atLineStart) this.write("\n");
    this.block = "none";
  }
}
