/** `text` on one line for a person: runs of white space become one space, and past `limit` characters it ends in an ellipsis. */
export function oneLine(text: string, limit: number): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > limit ? `${line.slice(0, limit - 1)}…` : line;
}
