/**
 * bench/results.json: the rows of several runs of every bench, each the median over the runs with
 * its spread (min and max over the runs), so a number is never read without how much it moves.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import type { ScalePoint } from "./real-opencode.bench.js";
import { median, round, type Row } from "./measure.js";

const Range = z.tuple([z.number(), z.number()]);

/** One line of results.json: a bench's Row (value, baseline and ratio the medians over the runs), and its spread. */
export const ResultRow = z.strictObject({
  name: z.string(),
  value: z.number(),
  unit: z.string(),
  baseline: z.number().nullable(),
  ratio: z.number().nullable(),
  /** The note of the run whose number is the median (the notes hold per-run counts and maxima). */
  note: z.string(),
  /** How many runs the medians and the spread are of. */
  runs: z.number().int().positive(),
  /** Min and max over the runs. */
  spread: z.strictObject({ value: Range, ratio: Range.nullable() }),
});
export type ResultRow = z.infer<typeof ResultRow>;

export const Results = z.array(ResultRow);

/** What one run of bench/one-run.ts writes. */
export interface RunOutput {
  rows: Row[];
  scale: ScalePoint[];
}

const medianOf = (xs: readonly number[], digits: number) => round(median(xs), digits);
/** The decimals a bench gave its number, so a median of two keeps them. */
const decimals = (xs: readonly number[]) => Math.max(0, ...xs.map((x) => (String(x).split(".")[1] ?? "").length));
const range = (xs: readonly number[]): [number, number] => [Math.min(...xs), Math.max(...xs)];

/** Every row of the first run, each over every run that has it (a row a run did not write is over fewer runs). */
export function aggregate(runs: readonly RunOutput[]): ResultRow[] {
  const names = runs[0]?.rows.map((r) => r.name) ?? [];
  return names.map((name) => {
    const rows = runs.flatMap((run) => run.rows.filter((r) => r.name === name));
    const values = rows.map((r) => r.value);
    const ratios = rows.flatMap((r) => (r.ratio === null ? [] : [r.ratio]));
    const baselines = rows.flatMap((r) => (r.baseline === null ? [] : [r.baseline]));
    const headline = ratios.length === rows.length ? ratios : values;
    const mid = median(headline);
    let closest = 0;
    headline.forEach((x, i) => {
      if (Math.abs(x - mid) < Math.abs(headline[closest]! - mid)) closest = i;
    });
    return {
      name,
      value: medianOf(values, decimals(values)),
      unit: rows[0]!.unit,
      baseline: baselines.length === rows.length ? medianOf(baselines, decimals(baselines)) : null,
      ratio: ratios.length === rows.length ? medianOf(ratios, decimals(ratios)) : null,
      note: rows[closest]!.note,
      runs: rows.length,
      spread: { value: range(values), ratio: ratios.length === rows.length ? range(ratios) : null },
    };
  });
}

/** The scale curve over the runs: each point's CPU and ratio the median over the runs. */
export function aggregateScale(runs: readonly RunOutput[]): ScalePoint[] {
  return (runs[0]?.scale ?? []).map((point) => {
    const same = runs.flatMap((run) => run.scale.filter((p) => p.turns === point.turns));
    return {
      turns: point.turns,
      perTurnReadersMs: medianOf(same.map((p) => p.perTurnReadersMs), 1),
      sharedHubMs: medianOf(same.map((p) => p.sharedHubMs), 1),
      ratio: medianOf(same.map((p) => p.ratio), 2),
    };
  });
}

export function readResults(file: string): ResultRow[] {
  return Results.parse(JSON.parse(readFileSync(file, "utf8")));
}
