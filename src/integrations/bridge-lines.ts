import type { Readable, Writable } from "node:stream";
import type { BridgeOutput } from "./bridge-protocol.js";

/** A line of input that is not valid UTF-8: refused whole, never decoded with U+FFFD in it. */
export const NOT_UTF8 = Symbol("not UTF-8");

/**
 * Splits `input` into lines on `\n` (a `\r` before it is dropped) and decodes each strictly: a line
 * that is not valid UTF-8 is handed over as NOT_UTF8. The last line counts without its `\n`.
 * Returns a function that stops reading.
 */
export function readLines(input: Readable, onLine: (line: string | typeof NOT_UTF8) => void, onEnd: () => void): () => void {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let held: Buffer[] = [];
  const emit = (bytes: Buffer) => {
    const line = bytes.at(-1) === 0x0d ? bytes.subarray(0, -1) : bytes;
    let text: string;
    try {
      text = decoder.decode(line);
    } catch {
      onLine(NOT_UTF8);
      return;
    }
    onLine(text);
  };
  const onData = (chunk: Buffer | string) => {
    let bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    for (let newline = bytes.indexOf(0x0a); newline !== -1; newline = bytes.indexOf(0x0a)) {
      emit(held.length === 0 ? bytes.subarray(0, newline) : Buffer.concat([...held, bytes.subarray(0, newline)]));
      held = [];
      bytes = bytes.subarray(newline + 1);
    }
    if (bytes.length > 0) held.push(bytes);
  };
  const onClose = () => {
    if (held.length > 0) emit(Buffer.concat(held));
    held = [];
    stop();
    onEnd();
  };
  const stop = () => {
    input.off("data", onData);
    input.off("end", onClose);
    input.off("error", onClose);
    input.pause();
  };
  input.on("data", onData);
  input.once("end", onClose);
  input.once("error", onClose);
  return stop;
}

type ReplyLine = { id: string; reply: { kind: "delta" | "reasoning"; trace_id: string; content: string } };

/** Deltas (or reasoning) of one prompt, one after another, say the same as one with their text joined. */
function joinable(line: BridgeOutput): line is ReplyLine {
  return "reply" in line && (line.reply.kind === "delta" || line.reply.kind === "reasoning");
}

/** What a waiting line holds, in characters: its text for a reply, else its whole line (rare and short). */
function sizeOf(line: BridgeOutput): number {
  return joinable(line) ? line.reply.content.length : JSON.stringify(line).length;
}

/** Past `highWaterChars` waiting, `onBehind(true)`; once what waits is below a quarter of it, `onBehind(false)`. */
export interface Backlog {
  highWaterChars: number;
  onBehind(behind: boolean): void;
}

/**
 * The bridge's stdout. Lines are written at once while the reader keeps up; while it is behind
 * (the stream asked to wait), they wait here, and consecutive text of one prompt's replies waits
 * as one line: what is held grows with the answer's text, not with its number of replies; past the
 * backlog's high-water mark the bridge is told, and stops reading opencode's stream. A reader that
 * is gone (the stream failed or closed) is told to `onGone`, once; nothing is written after.
 */
export class OutputLines {
  private readonly waiting: BridgeOutput[] = [];
  private waitingChars = 0;
  private behind = false;
  private blocked = false;
  private gone = false;
  private idle: Array<() => void> = [];

  constructor(
    private readonly output: Writable,
    private readonly onGone: () => void,
    private readonly backlog?: Backlog,
  ) {
    output.on("error", this.lose);
    output.on("close", this.lose);
  }

  get open(): boolean {
    return !this.gone;
  }

  send(line: BridgeOutput): void {
    if (this.gone) return;
    if (!this.blocked) return this.put(line);
    this.waitingChars += sizeOf(line);
    if (!this.behind && this.backlog !== undefined && this.waitingChars > this.backlog.highWaterChars) this.setBehind(true);
    const last = this.waiting.at(-1);
    if (last !== undefined && joinable(last) && joinable(line) && last.id === line.id && last.reply.kind === line.reply.kind) {
      last.reply.content += line.reply.content;
      return;
    }
    // A copy: the reply object is also the sink's, and a waiting one may be joined to.
    this.waiting.push(joinable(line) ? { id: line.id, reply: { ...line.reply } } : line);
  }

  /** Characters of replies waiting for the reader (what the backlog's high-water mark bounds). */
  get backlogChars(): number {
    return this.waitingChars;
  }

  /** Resolves once every line sent so far is written (or the reader is gone). */
  flushed(): Promise<void> {
    if (this.gone || (!this.blocked && this.waiting.length === 0)) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Stops listening to the stream (the bridge has ended). */
  detach(): void {
    this.output.off("error", this.lose);
    this.output.off("close", this.lose);
    this.output.off("drain", this.drain);
  }

  private put(line: BridgeOutput): void {
    if (this.output.write(`${JSON.stringify(line)}\n`)) return;
    this.blocked = true;
    this.output.once("drain", this.drain);
  }

  private readonly drain = () => {
    this.blocked = false;
    let written = 0;
    while (written < this.waiting.length && !this.blocked && !this.gone) {
      const line = this.waiting[written++]!;
      this.waitingChars -= sizeOf(line);
      this.put(line);
    }
    this.waiting.splice(0, written);
    if (this.behind && this.waitingChars < this.backlog!.highWaterChars / 4) this.setBehind(false);
    if (!this.blocked) this.wake();
  };

  private readonly lose = () => {
    if (this.gone) return;
    this.gone = true;
    this.waiting.length = 0;
    this.waitingChars = 0;
    if (this.behind) this.setBehind(false);
    this.wake();
    this.onGone();
  };

  private setBehind(behind: boolean): void {
    this.behind = behind;
    this.backlog!.onBehind(behind);
  }

  private wake(): void {
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
