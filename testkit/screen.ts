/**
 * A minimal terminal screen: what a terminal of `columns` × `rows` shows after the bytes a program
 * wrote to it, for the control sequences the CLI and its spinner use (cursor up, down and to a
 * column, erase in line and below; colours and cursor visibility are ignored). Lines wrap at
 * `columns`; what scrolls off the top stays in the scrollback, above the screen. CJK characters and
 * emoji drawn as such take two columns, as terminals draw them (told by script here, not by the
 * CLI's own width table, so that the two check each other).
 */
const WIDE = /\p{Script=Han}|\p{Script=Hangul}|\p{Script=Hiragana}|\p{Script=Katakana}|\p{Emoji_Presentation}/u;

export function screenOf(written: string, columns = 100, rows = 40): string[] {
  const lines: string[][] = [[]];
  let row = 0;
  let col = 0;
  let pendingWrap = false;
  const top = () => Math.max(0, lines.length - rows);
  const line = () => (lines[row] ??= []);
  const down = () => {
    row += 1;
    while (lines.length <= row) lines.push([]);
  };
  const token = /\u001b\[([?0-9;]*)([A-Za-z])|\u001b\][^\u0007]*\u0007|\r|\n|[^\u001b\r\n]/gu;
  for (const [text, params, command] of written.matchAll(token)) {
    if (command !== undefined) {
      const n = Number(params?.replace("?", "") || "1") || 1;
      pendingWrap = false;
      if (command === "A") row = Math.max(top(), row - n);
      else if (command === "B") for (let i = 0; i < n; i++) down();
      else if (command === "C") col = Math.min(columns - 1, col + n);
      else if (command === "D") col = Math.max(0, col - n);
      else if (command === "G") col = Math.min(columns - 1, n - 1);
      else if (command === "K") {
        const mode = params || "0";
        if (mode === "0") line().length = Math.min(line().length, col);
        else if (mode === "2") lines[row] = [];
        else line().fill(" ", 0, col + 1);
      } else if (command === "J" && (params || "0") === "0") {
        line().length = Math.min(line().length, col);
        lines.length = row + 1;
      }
      continue;
    }
    if (text === "\r") {
      col = 0;
      pendingWrap = false;
    } else if (text === "\n") {
      down();
      col = 0;
      pendingWrap = false;
    } else if (!text.startsWith("\u001b")) {
      if (pendingWrap) {
        down();
        col = 0;
        pendingWrap = false;
      }
      const width = WIDE.test(text) ? 2 : 1;
      // A wide character that does not fit in the row's last column goes to the next row whole.
      if (col + width > columns) {
        down();
        col = 0;
      }
      const cells = line();
      while (cells.length < col) cells.push(" ");
      cells[col] = text;
      // Its second cell shows nothing of its own.
      if (width === 2) cells[col + 1] = "";
      if (col + width >= columns) pendingWrap = true;
      else col += width;
    }
  }
  const shown = lines.map((cells) => cells.join("").trimEnd());
  while (shown.length > 1 && shown.at(-1) === "") shown.pop();
  return shown;
}
