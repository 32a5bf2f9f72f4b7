import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

/** Speed is measured by `npm run bench`, never asserted: this only keeps every bench working. */
describe("npm run bench", () => {
  it("runs every bench on a tiny input and writes every row, the table and the chart", async () => {
    const out = mkdtempSync(path.join(tmpdir(), "opencode-turns-bench-"));
    try {
      // Not spawnSync: the worker's event loop must go on while the bench runs for a minute or two.
      await promisify(execFile)(process.execPath, ["--expose-gc", "--import", "tsx", "bench/run.ts", "--tiny", "--out", out], {
        cwd: new URL("..", import.meta.url).pathname,
        encoding: "utf8",
        timeout: 120_000,
      });
      const rows = JSON.parse(readFileSync(path.join(out, "results.json"), "utf8")) as Array<Record<string, unknown>>;
      const names = rows.map((r) => r.name);
      for (const name of [
        "throughput.pipeline",
        "throughput.sdk",
        "gc.pipeline",
        "latency.added.p50",
        "latency.added.p99",
        "latency.own.p50",
        "latency.own.p99",
        "scale.cpu.n1",
        "scale.cpu.n3",
        "memory.slope",
        "turn.fixed",
      ]) {
        expect(names).toContain(name);
      }
      for (const row of rows) {
        expect(Object.keys(row).sort()).toEqual(["baseline", "name", "note", "ratio", "unit", "value"]);
        expect(Number.isFinite(row.value)).toBe(true);
        if (row.ratio !== null) expect((row.ratio as number) > 0).toBe(true);
      }
      const table = readFileSync(path.join(out, "RESULTS.md"), "utf8");
      for (const name of names) expect(table).toContain(`\`${name}\``);
      expect(readFileSync(path.join(out, "scale.svg"), "utf8")).toMatch(/^<svg[\s\S]*<polyline[\s\S]*<\/svg>\n$/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 150_000);
});
