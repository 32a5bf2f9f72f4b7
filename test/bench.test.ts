import { execFile, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { Row } from "../bench/measure.js";
import { aggregate, readResults, type ResultRow } from "../bench/results.js";
import { performanceTable, readmeTable, TABLE_FILES, tableIn, unexplained } from "../bench/tables.js";
import { MEANINGS, verdict } from "../bench/targets.js";
import { alive } from "../testkit/cli.js";

const root = new URL("..", import.meta.url).pathname;

/** Speed is measured by `npm run bench`, never asserted: this only keeps every bench working. */
describe("npm run bench", () => {
  it("runs every bench on a tiny input and writes every row, the table and the chart", async () => {
    const out = mkdtempSync(path.join(tmpdir(), "opencode-turns-bench-"));
    try {
      // Not spawnSync: the worker's event loop must go on while the bench runs for a minute or two.
      await promisify(execFile)(process.execPath, ["--expose-gc", "--import", "tsx", "bench/run.ts", "--tiny", "--out", out], {
        cwd: root,
        encoding: "utf8",
        timeout: 240_000,
      });
      const rows = readResults(path.join(out, "results.json"));
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
        "turn.machine",
        "bridge.replies",
        "bridge.cpu",
        "python.replies",
        "python.cpu",
        "cli.start",
      ]) {
        expect(names).toContain(name);
      }
      for (const row of rows) {
        expect(Number.isFinite(row.value)).toBe(true);
        if (row.ratio !== null) expect(row.ratio > 0).toBe(true);
        expect(row.runs).toBe(1);
        expect(row.spread.value).toEqual([row.value, row.value]);
      }
      const table = readFileSync(path.join(out, "RESULTS.md"), "utf8");
      for (const name of names) expect(table).toContain(`\`${name}\``);
      expect(readFileSync(path.join(out, "scale.svg"), "utf8")).toMatch(/^<svg[\s\S]*<polyline[\s\S]*<\/svg>\n$/);
      // Written elsewhere, the bench leaves the README's table alone: it is bench/results.json's.
      expect(tableIn(readFileSync(TABLE_FILES.readme, "utf8"))).toBe(readmeTable(readResults(path.join(root, "bench/results.json"))));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 270_000);
});

describe("the Numbers tables", () => {
  const rows = readResults(path.join(root, "bench/results.json"));

  it("README.md's table is the one bench/results.json makes (npm run bench:table rewrites it)", () => {
    expect(tableIn(readFileSync(TABLE_FILES.readme, "utf8"))).toBe(readmeTable(rows));
  });

  it("docs/performance.md's table is the one bench/results.json makes", () => {
    expect(tableIn(readFileSync(TABLE_FILES.performance, "utf8"))).toBe(performanceTable(rows));
  });

  it("every row of bench/results.json is described in bench/targets.ts, and every missed target says why", () => {
    expect(rows.map((r) => r.name).filter((name) => MEANINGS[name] === undefined)).toEqual([]);
    expect(unexplained(rows)).toEqual([]);
  });

  it("each row is the median over the runs, with the lowest and highest run, and the note of the median run", () => {
    const row = (value: number, ratio: number | null, note: string): Row => ({ name: "x", value, unit: "ms", baseline: ratio === null ? null : value * 2, ratio, note });
    const runs = [row(3, 0.5, "first"), row(1, 0.7, "second"), row(2, 0.6, "third")].map((r) => ({ rows: [r], scale: [] }));
    expect(aggregate(runs)).toEqual([{ name: "x", value: 2, unit: "ms", baseline: 4, ratio: 0.6, note: "third", runs: 3, spread: { value: [1, 3], ratio: [0.5, 0.7] } }]);
    const noRatio = aggregate([row(1.25, null, "a"), row(2.5, null, "b")].map((r) => ({ rows: [r], scale: [] })));
    expect(noRatio).toEqual([{ name: "x", value: 1.88, unit: "ms", baseline: null, ratio: null, note: "a", runs: 2, spread: { value: [1.25, 2.5], ratio: null } }]);
  });

  it("a target is met on the median, one of every run on the worst run, and a weaker bound is partly met", () => {
    const result = (value: number, spread: [number, number], ratio: number | null = null): ResultRow => ({
      name: "x",
      value,
      unit: "ms",
      baseline: null,
      ratio,
      note: "",
      runs: 3,
      spread: { value: spread, ratio: ratio === null ? null : [ratio, ratio] },
    });
    expect(verdict(result(0.8, [0.7, 1.4]), { on: "value", op: "<", bound: 1 })).toBe("yes");
    expect(verdict(result(0.8, [0.7, 1.4]), { on: "value", op: "<", bound: 1, everyRun: true })).toBe("no");
    expect(verdict(result(0, [0, 0], 0.9), { on: "ratio", op: ">=", bound: 1, least: 0.8 })).toBe("partly");
    expect(verdict(result(0, [0, 0], 0.7), { on: "ratio", op: ">=", bound: 1, least: 0.8 })).toBe("no");
    expect(verdict(result(0, [0, 0], 1), { on: "ratio", op: ">=", bound: 1, least: 0.8 })).toBe("yes");
  });
});

describe("bench/scale.svg", () => {
  const svg = readFileSync(path.join(root, "bench/scale.svg"), "utf8");
  const numbers = (pattern: RegExp) => [...svg.matchAll(pattern)].map((m) => m.slice(1).map(Number));

  it("labels each number of turns with the ratio of the two points it draws there", () => {
    // The value axis, read off the ticks the chart draws: the pixel row of 0 and of the top value.
    const ticks = numbers(/<line x1="\d+" x2="\d+" y1="([\d.]+)" y2="[\d.]+" stroke="#ddd"\/><text [^>]*>([\d.]+)<\/text>/g);
    const [zeroY] = ticks.find(([, v]) => v === 0)!;
    const [topY, topValue] = ticks.reduce((a, b) => (b[1]! > a[1]! ? b : a));
    const valueAt = (cy: number) => ((zeroY! - cy) / (zeroY! - topY!)) * topValue!;
    const points = (color: string) => numbers(new RegExp(`<circle cx="([\\d.]+)" cy="([\\d.]+)" r="3" fill="${color}"/>`, "g"));
    const perTurn = points("#c0392b");
    const shared = points("#2471a3");
    const labels = numbers(/>n=(\d+): ([\d.]+)×</g);
    expect(labels.length).toBeGreaterThan(0);
    expect(perTurn).toHaveLength(labels.length);
    expect(shared).toHaveLength(labels.length);
    labels.forEach(([, label], i) => {
      // Both points are drawn at the same x; their values are read back to 0.1 px.
      expect(perTurn[i]![0]).toBe(shared[i]![0]);
      const drawn = valueAt(perTurn[i]![1]!) / valueAt(shared[i]![1]!);
      expect(Math.abs(drawn - label!) / label!).toBeLessThan(0.02);
    });
  });
});

describe("the benches' child servers", () => {
  it("end with the bench process, however it ends: a bench killed with SIGKILL leaves no server behind", async () => {
    // A bench process that starts the stand-in, says its pid, and is then killed without running any handler.
    const script = `import { startChildServer } from "./bench/child-server.ts";
      const server = await startChildServer("./stand-in.ts", ["10", "4"]);
      process.stdout.write(String(server.pid) + "\\n");
      setInterval(() => {}, 1000);`;
    const bench = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    const pid = Number(await new Promise<string>((resolve) => createInterface({ input: bench.stdout! }).once("line", resolve)));
    try {
      expect(alive(pid)).toBe(true);
      bench.kill("SIGKILL");
      await expect.poll(() => alive(pid), { timeout: 10_000 }).toBe(false);
    } finally {
      if (alive(pid)) process.kill(pid, "SIGKILL");
    }
  });
});
