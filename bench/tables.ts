/**
 * The Numbers tables of README.md and docs/performance.md, made from bench/results.json and
 * bench/targets.ts, between the markers below in each file; test/bench.test.ts fails when a file's
 * table is not the one results.json makes.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ResultRow } from "./results.js";
import { meaningOf, targetText, verdict, type Verdict } from "./targets.js";

export const BEGIN = "<!-- bench table: made by `npm run bench` (bench/tables.ts) from bench/results.json and bench/targets.ts; do not edit here -->";
export const END = "<!-- end of bench table -->";

const root = fileURLToPath(new URL("..", import.meta.url));
export const TABLE_FILES = { readme: `${root}README.md`, performance: `${root}docs/performance.md` } as const;

const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("\n", " ");

function measured(row: ResultRow): string {
  return row.ratio === null ? `${row.value} ${row.unit}` : `${row.ratio}× (${row.value} vs ${row.baseline} ${row.unit})`;
}

function spread(row: ResultRow): string {
  if (row.runs === 1) return "one run";
  const [low, high] = row.spread.ratio ?? row.spread.value;
  return row.spread.ratio === null ? `${low}–${high} ${row.unit}` : `${low}–${high}×`;
}

interface Judged {
  row: ResultRow;
  target: string;
  verdict: Verdict | undefined;
  /** Why the target is missed, or undefined when it is met or there is none. */
  why: string | undefined;
}

/** A row with its target's text, whether it is met, and why not. A missed target nobody explained says so. */
function judge(row: ResultRow): Judged {
  const meaning = meaningOf(row);
  if (meaning.target === undefined) return { row, target: "", verdict: undefined, why: undefined };
  const met = verdict(row, meaning.target);
  return { row, target: targetText(meaning.target), verdict: met, why: met === "yes" ? undefined : (meaning.whyMissed ?? MISSING_REASON) };
}

export const MISSING_REASON = "NOT EXPLAINED YET: write why in bench/targets.ts";

/** The rows whose target is missed and no reason says why (test/bench.test.ts wants none). */
export const unexplained = (rows: readonly ResultRow[]) => rows.map(judge).filter((j) => j.why === MISSING_REASON).map((j) => j.row.name);

const runsLine = (rows: readonly ResultRow[]) => {
  const [fewest, most] = [Math.min(...rows.map((r) => r.runs)), Math.max(...rows.map((r) => r.runs))];
  const runs = fewest === most ? `${most} run${most === 1 ? "" : "s"}` : `${fewest} to ${most} runs (each row's spread says)`;
  return `Medians of ${runs} of \`npm run bench\`; the spread is the lowest and highest run. A ratio is measured against its baseline in the same process, round by round.`;
};

/** The README's table: the rows with a target and the bridge's, a footnote per missed target. */
export function readmeTable(rows: readonly ResultRow[]): string {
  const judged = rows.filter((r) => meaningOf(r).readme).map(judge);
  const missed = judged.filter((j) => j.why !== undefined);
  const met = (j: Judged) => (j.verdict === undefined ? "" : j.why === undefined ? j.verdict : `${j.verdict} [${missed.indexOf(j) + 1}]`);
  return [
    runsLine(rows),
    "",
    "| what | against | measured | spread | target | met |",
    "|---|---|---|---|---|---|",
    ...judged.map((j) => {
      const meaning = meaningOf(j.row);
      return `| ${cell(meaning.what)} | ${cell(meaning.against || "—")} | ${cell(measured(j.row))} | ${cell(spread(j.row))} | ${cell(j.target)} | ${met(j)} |`;
    }),
    ...(missed.length === 0 ? [] : ["", "Why the missed targets are missed:", "", ...missed.map((j, i) => `${i + 1}. \`${j.row.name}\`: ${j.why}.`)]),
    "",
  ].join("\n");
}

/** docs/performance.md's table: every row, by its results.json name, with the reason beside a miss. */
export function performanceTable(rows: readonly ResultRow[]): string {
  return [
    runsLine(rows),
    "",
    "| row | what | against | measured | spread | target | met | why not |",
    "|---|---|---|---|---|---|---|---|",
    ...rows.map(judge).map((j) => {
      const meaning = meaningOf(j.row);
      return `| \`${j.row.name}\` | ${cell(meaning.what)} | ${cell(meaning.against || "—")} | ${cell(measured(j.row))} | ${cell(spread(j.row))} | ${cell(j.target)} | ${j.verdict ?? ""} | ${cell(j.why ?? "")} |`;
    }),
    "",
  ].join("\n");
}

/** The lines between the markers of `text`, or undefined when they are missing. */
export function tableIn(text: string): string | undefined {
  const begin = text.indexOf(`${BEGIN}\n`);
  const end = begin === -1 ? -1 : text.indexOf(END, begin + BEGIN.length + 1);
  return end === -1 ? undefined : text.slice(begin + BEGIN.length + 1, end);
}

function replaceTable(file: string, table: string): void {
  const text = readFileSync(file, "utf8");
  const old = tableIn(text);
  if (old === undefined) throw new Error(`${file} has no bench table markers (${BEGIN} ... ${END})`);
  const at = text.indexOf(`${BEGIN}\n`) + BEGIN.length + 1;
  writeFileSync(file, text.slice(0, at) + table + text.slice(at + old.length));
}

/** Rewrites the table of README.md and docs/performance.md from these rows. */
export function writeTables(rows: readonly ResultRow[]): void {
  replaceTable(TABLE_FILES.readme, readmeTable(rows));
  replaceTable(TABLE_FILES.performance, performanceTable(rows));
}
