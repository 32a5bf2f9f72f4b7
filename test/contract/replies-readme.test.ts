import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { Reply } from "../../src/contract/replies.js";

// Other programs parse these replies from the README's contract: it must name every key the schemas allow.

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

/** The top-level keys of a reply schema, of each side of a union (the two kinds of ask). */
function keysOf(schema: z.ZodType): string[] {
  const def = schema as unknown as { shape?: Record<string, unknown>; options?: z.ZodType[] };
  if (def.shape !== undefined) return Object.keys(def.shape);
  return (def.options ?? []).flatMap(keysOf);
}

function kindOf(schema: z.ZodType): string {
  const def = schema as unknown as { shape?: { kind: { value: string } }; options?: z.ZodType[] };
  return def.shape?.kind.value ?? kindOf(def.options![0]!);
}

/** The README's table rows for a kind, in both vocabularies' tables. */
const rowsOf = (kind: string) => readme.split("\n").filter((line) => line.startsWith(`| \`${kind}\` |`));

describe("the README's reply tables", () => {
  const schemas = (Reply as unknown as { options: z.ZodType[] }).options;

  it("has a row for every kind of reply", () => {
    expect(schemas.map(kindOf).filter((kind) => rowsOf(kind).length === 0)).toEqual([]);
  });

  it.each(schemas.map((schema) => [kindOf(schema), schema] as const))("names every key of %s", (kind, schema) => {
    const rows = rowsOf(kind).join(" ");
    const missing = keysOf(schema).filter((key) => key !== "kind" && key !== "trace_id" && !new RegExp(`\\b${key}\\b`).test(rows));
    expect(missing).toEqual([]);
  });
});
