/** How a tool call and its result read on one line of `run`'s output. */
import { oneLine } from "../contract/one-line.js";

const LINE_LIMIT = 100;

/** The part of a tool's arguments a person recognises it by. */
export function describeArgs(args: Record<string, unknown>): string {
  for (const key of ["command", "filePath", "path", "pattern", "url", "query", "description"]) {
    const value = args[key];
    if (typeof value === "string" && value) return oneLine(value, 60);
  }
  return Object.keys(args).length === 0 ? "" : oneLine(JSON.stringify(args), 60);
}

/** A line that is only markup, as a task's result wraps the subagent's answer in (`<task_result>`). */
const MARKUP = /^<\/?[\w-]+(\s[^>]*)?>$/;

/**
 * The first line of a tool's result that says something: none for a JSON document over several
 * lines (todowrite's list: its first line is `[`, and the tool's title already says it), and no
 * line that is only markup.
 */
export function firstLine(result: unknown): string {
  const text = typeof result === "string" ? result : result === undefined ? "" : JSON.stringify(result);
  if (text.includes("\n") && isJson(text)) return "";
  return oneLine(text.split("\n").find((line) => line.trim() && !MARKUP.test(line.trim())) ?? "", LINE_LIMIT);
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
