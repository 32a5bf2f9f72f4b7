import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cursorRow, Spinner } from "../../src/cli/terminal.js";
import { screenOf } from "../../testkit/screen.js";

// The spinner on a fake terminal of 40 columns, its bytes read back through the screen emulation.

function spinnerOn(columns = 40) {
  const out = Object.assign(new PassThrough(), { columns, isTTY: true });
  let written = "";
  out.on("data", (chunk: Buffer) => void (written += chunk.toString("utf8")));
  const spinner = new Spinner(out as unknown as NodeJS.WriteStream, (frame) => frame);
  return { spinner, written: () => written, screen: () => screenOf(written, columns) };
}

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

describe("the spinner", () => {
  it("turns every 80 ms in place, with the cursor hidden until it stops; stopping clears it and shows the cursor", () => {
    const { spinner, written, screen } = spinnerOn();
    spinner.show("bash ls");
    expect(screen()).toEqual(["⠋ bash ls"]);
    vi.advanceTimersByTime(80);
    expect(screen()).toEqual(["⠙ bash ls"]);
    vi.advanceTimersByTime(160);
    expect(screen()).toEqual(["⠸ bash ls"]);
    expect(written()).toContain("\u001b[?25l");
    expect(written()).not.toContain("\u001b[?25h");
    spinner.stop();
    expect(screen()).toEqual([""]);
    expect(written().endsWith("\u001b[?25h")).toBe(true);
    expect(spinner.isSpinning).toBe(false);
    // Stopped means stopped: no timer draws it again.
    const before = written();
    vi.advanceTimersByTime(1_000);
    expect(written()).toBe(before);
  });

  it("a new text replaces the old one, also when it takes more rows or wraps", () => {
    const { spinner, screen } = spinnerOn();
    spinner.show(`bash ${"x".repeat(50)}\n  1\n  2`);
    expect(screen()).toEqual([`⠋ bash ${"x".repeat(33)}`, "x".repeat(17), "  1", "  2"]);
    spinner.show("edit a.ts");
    expect(screen()).toEqual(["⠋ edit a.ts"]);
    spinner.stop();
  });

  it("text written while it spins goes above it; a line not yet ended holds the spinner back until it ends", () => {
    const { spinner, screen } = spinnerOn();
    spinner.write("before\n");
    spinner.show("task Child");
    spinner.write("  │ child line\n");
    expect(screen()).toEqual(["before", "  │ child line", "⠋ task Child"]);
    spinner.write("Partial ");
    vi.advanceTimersByTime(400);
    expect(screen()).toEqual(["before", "  │ child line", "Partial"]);
    spinner.write("answer.\n");
    expect(screen()).toEqual(["before", "  │ child line", "Partial answer.", expect.stringMatching(/^. task Child$/)]);
    spinner.stop();
    expect(screen()).toEqual(["before", "  │ child line", "Partial answer."]);
  });
});

describe("cursorRow", () => {
  it("counts the rows a text takes up to the cursor: a line break each, wrapped lines, colour codes not", () => {
    expect(cursorRow("", 10)).toBe(0);
    expect(cursorRow("abc", 10)).toBe(0);
    expect(cursorRow("abc\n", 10)).toBe(1);
    expect(cursorRow("a".repeat(10), 10)).toBe(0);
    expect(cursorRow("a".repeat(11), 10)).toBe(1);
    expect(cursorRow(`${"a".repeat(25)}\nb`, 10)).toBe(3);
    expect(cursorRow("\u001b[32mgreen\u001b[39m\n", 10)).toBe(1);
  });

  it("counts a wide character as two columns, and wraps one that does not fit in a row's last column to the next row", () => {
    // Ten CJK characters are 20 columns: two full rows of 10, the cursor at the end of the second.
    expect(cursorRow("你好世界你好世界你好", 10)).toBe(1);
    expect(cursorRow("你好世界你好世界你好\n", 10)).toBe(2);
    // "ab" then a wide character fits in 4 columns; the next one does not: 3 rows in 3 columns, not ceil(6 / 3) = 2.
    expect(cursorRow("ab你你\n", 3)).toBe(3);
    expect(cursorRow("✅ done\n", 6)).toBe(2);
    expect(cursorRow("✅ don\n", 6)).toBe(1);
    // A letter and its combining accent, a family emoji of joined code points: one grapheme each.
    expect(cursorRow("e\u0301".repeat(10), 10)).toBe(0);
    expect(cursorRow("👨‍👩‍👧".repeat(5), 10)).toBe(0);
    expect(cursorRow("👨‍👩‍👧".repeat(6), 10)).toBe(1);
  });

  it("moves a tab to the next stop of 8 columns, never past the row's last column", () => {
    // The tab takes 8 columns: 19 in 12, two rows (counted a column a character it would be one).
    expect(cursorRow("\tabcdefghijk", 12)).toBe(1);
    expect(cursorRow("a\tb\n", 12)).toBe(1);
    // At column 9 of 10 a tab stops at the last column; what follows wraps.
    expect(cursorRow("abcdefghi\tx", 10)).toBe(0);
    expect(cursorRow("abcdefghi\txy", 10)).toBe(1);
    expect(cursorRow("\t\n", 10)).toBe(1);
  });
});
