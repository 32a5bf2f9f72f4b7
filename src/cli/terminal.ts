/**
 * What the CLI does to a terminal beyond writing text: where the cursor stands after some text, and
 * the spinner a running tool call shows. The spinner is ours, not a package's, so that whether the
 * terminal is live stays the CLI's one decision (`wantsColour`): a spinner that reads the
 * environment on its own (`CI`, say) and prints lines instead would break the checklist's redraw,
 * which counts on the spinner clearing what it drew.
 */
import { stripVTControlCharacters } from "node:util";
import { graphemeWidths } from "../contract/one-line.js";

/** The terminal rows from the start of `text` (written from a line's start) to where the cursor stands after it. */
export function cursorRow(text: string, columns: number): number {
  const lines = stripVTControlCharacters(text).split("\n");
  let row = 0;
  lines.forEach((line, i) => {
    const rows = rowsTaken(line, columns);
    // A full line ends with a line break (at least one row); the cursor's own line counts only the rows it wrapped onto.
    row += i < lines.length - 1 ? Math.max(1, rows) : Math.max(0, rows - 1);
  });
  return row;
}

/** Terminals stop a tab every 8 columns. */
const TAB_STOP = 8;

/**
 * The rows one line takes when it wraps at `columns` (none when empty), as terminals draw it: a
 * wide character (two columns) that does not fit in the last column of a row goes to the next row
 * whole, and a tab moves to the next tab stop, never past the row's last column.
 */
function rowsTaken(line: string, columns: number): number {
  let rows = 0;
  // `columns` stands for "no room left on this row": the first character starts a row.
  let column = columns;
  line.split("\t").forEach((text, i) => {
    if (i > 0) {
      if (rows === 0) {
        rows = 1;
        column = 0;
      }
      if (column < columns) column = Math.min(columns - 1, (Math.floor(column / TAB_STOP) + 1) * TAB_STOP);
    }
    for (const width of graphemeWidths(text)) {
      if (width === 0) continue;
      if (column + width > columns) {
        rows += 1;
        column = 0;
      }
      column += width;
    }
  });
  return rows;
}

const FRAMES = process.platform === "win32" ? ["-", "\\", "|", "/"] : ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const INTERVAL_MS = 80;
const HIDE_CURSOR = "\u001b[?25l";
const SHOW_CURSOR = "\u001b[?25h";
// Terminals that know it show a drawing at once, not half of it; the others ignore it.
const BEGIN_SYNC = "\u001b[?2026h";
const END_SYNC = "\u001b[?2026l";

/**
 * A frame and a text, drawn again every 80 ms over the rows it drew last. Text written while it
 * spins (`write`) goes above it: the spinner is cleared, the text written, and the spinner drawn
 * below it again once the text has ended its line.
 */
export class Spinner {
  private text = "";
  private frame = 0;
  /** The rows of the last drawing, to clear before the next. */
  private rows = 0;
  /** Text written above the spinner that has not ended its line: the spinner waits for the line's end. */
  private midLine = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly colour: (frame: string) => string,
  ) {}

  get isSpinning(): boolean {
    return this.timer !== undefined;
  }

  /** Spins with `text`, from now or from its current frame. */
  show(text: string): void {
    this.text = text;
    if (this.timer === undefined) {
      this.out.write(HIDE_CURSOR);
      this.timer = setInterval(() => this.tick(), INTERVAL_MS);
      // A spinner left spinning never keeps the process alive.
      this.timer.unref();
    }
    this.draw();
  }

  /** Clears the spinner and shows the cursor again. */
  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.out.write(`${this.clear()}${SHOW_CURSOR}`);
    this.midLine = false;
  }

  /** Writes `text`: above the spinner while it spins. */
  write(text: string): void {
    if (this.timer === undefined || text === "") return void this.out.write(text);
    this.out.write(`${this.clear()}${text}`);
    this.midLine = !text.endsWith("\n");
    this.draw();
  }

  private tick(): void {
    this.frame = (this.frame + 1) % FRAMES.length;
    this.draw();
  }

  private draw(): void {
    if (this.midLine) return;
    const drawing = `${this.colour(FRAMES[this.frame]!)} ${this.text}`;
    this.out.write(`${BEGIN_SYNC}${this.clear()}${drawing}${END_SYNC}`);
    this.rows = cursorRow(drawing, this.out.columns || 80) + 1;
  }

  /** What erases the last drawing, leaving the cursor where it began. */
  private clear(): string {
    if (this.rows === 0) return "";
    const erase = `\r${"\u001b[1A".repeat(this.rows - 1)}\u001b[J`;
    this.rows = 0;
    return erase;
  }
}
