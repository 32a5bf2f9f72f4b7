const segmenter = typeof Intl === "object" && typeof Intl.Segmenter === "function" ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : undefined;

/** The graphemes of `text`; on a Node built without Intl (small boards), which has no segmenter, its code points. */
function* graphemesOf(text: string): Generator<string> {
  if (segmenter === undefined) return yield* text;
  for (const { segment } of segmenter.segment(text)) yield segment;
}

/** Emoji a terminal draws two columns wide: emoji presentation, a pictograph asked to be one (VS16), a keycap, a flag's letters. */
const WIDE_EMOJI = /\p{Emoji_Presentation}|\p{Extended_Pictographic}\uFE0F|\u20E3|\p{Regional_Indicator}/u;
/** What takes no column of its own: combining and enclosing marks, format characters (joiners, variation selectors), controls. */
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\p{Cc}]+$/u;
/**
 * East Asian Wide and Fullwidth letters, as terminals draw them (wcwidth's ranges, less the emoji
 * matched above): Hangul, the CJK blocks, kana, fullwidth forms, and the supplementary ideographs.
 */
const WIDE_RANGES: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f],
  [0x2329, 0x232a],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x1b000, 0x1b2ff],
  [0x20000, 0x3fffd],
];

/** The columns a terminal gives one grapheme (a user-perceived character): 0, 1 or 2. */
function graphemeWidth(grapheme: string): number {
  const code = grapheme.codePointAt(0)!;
  // Most text is ASCII: no table, no regex (but a keycap starts with an ASCII digit).
  if (grapheme.length === 1 && code >= 0x20 && code < 0x7f) return 1;
  if (ZERO_WIDTH.test(grapheme)) return 0;
  if (WIDE_EMOJI.test(grapheme)) return 2;
  return WIDE_RANGES.some(([low, high]) => code >= low && code <= high) ? 2 : 1;
}

/** Printable ASCII is a column a character: the common case skips segmenting. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** The columns each grapheme of `text` (one line, no control sequences) takes on a terminal, in order. */
export function graphemeWidths(text: string): number[] {
  if (PRINTABLE_ASCII.test(text)) return Array.from({ length: text.length }, () => 1);
  return Array.from(graphemesOf(text), graphemeWidth);
}

/** The columns `text` (one line, no control sequences) takes on a terminal. */
export function displayWidth(text: string): number {
  return PRINTABLE_ASCII.test(text) ? text.length : graphemeWidths(text).reduce((sum, width) => sum + width, 0);
}

/**
 * `text` on one line for a person: runs of white space become one space, and past `limit` columns
 * (a wide character takes two) it ends in an ellipsis. It is cut between graphemes, never inside one
 * (a surrogate pair, an emoji sequence, a letter and its accent).
 */
export function oneLine(text: string, limit: number): string {
  const line = text.replace(/\s+/g, " ").trim();
  if (displayWidth(line) <= limit) return line;
  let kept = "";
  let width = 0;
  for (const grapheme of graphemesOf(line)) {
    width += graphemeWidth(grapheme);
    if (width > limit - 1) break;
    kept += grapheme;
  }
  return `${kept}…`;
}
