/**
 * How long the CLI takes to start, as a user (or a Python host's bridge) pays it on every run.
 *
 *   cli.start  CPU of `opencode-turns --help` from the CLI as `npm run build` bundles it / CPU of
 *              Node starting with nothing to run (`node -e ""`)
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { bundleCli } from "../scripts/bundle-cli.js";
import { median, round, type Row, type Size } from "./measure.js";
import { childrenCpuMs } from "./process-cpu.js";

/** CPU of `times` runs of `node ...args`, each waited for, in ms. */
function childrenCpuOf(args: readonly string[], times: number): number {
  const before = childrenCpuMs();
  for (let i = 0; i < times; i++) {
    const run = spawnSync(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    if (run.status !== 0) throw new Error(`node ${args.join(" ")} exited ${run.status}: ${run.stderr.toString("utf8")}`);
  }
  return childrenCpuMs() - before;
}

export async function cliBench(size: Size): Promise<Row[]> {
  const scratch = mkdtempSync(path.join(tmpdir(), "opencode-turns-bench-cli-"));
  try {
    const cli = path.join(scratch, "main.js");
    await bundleCli(cli);
    // As in the package: its package.json makes a .js file an ES module (without it Node would read it twice).
    writeFileSync(path.join(scratch, "package.json"), '{ "type": "module" }\n');
    const times = size.tiny ? 1 : 5;
    const variants = { node: ["-e", ""], cli: [cli, "--help"] };
    const costs: { node: number[]; cli: number[] } = { node: [], cli: [] };
    // Rounds alternate which goes first, so a burst of load from elsewhere hits both alike.
    for (let r = -1; r < size.rounds; r++) {
      const order = r % 2 === 0 ? (["node", "cli"] as const) : (["cli", "node"] as const);
      for (const name of order) {
        const cpu = childrenCpuOf(variants[name], times);
        if (r >= 0) costs[name].push(cpu / times);
      }
    }
    return [
      {
        name: "cli.start",
        value: round(median(costs.cli), 1),
        unit: "ms CPU per start",
        baseline: round(median(costs.node), 1),
        ratio: round(median(costs.cli.map((c, i) => c / costs.node[i]!)), 2),
        note: "CPU of `opencode-turns --help` (the CLI as built, one bundled file) / CPU of `node -e \"\"`, child processes' CPU from /proc; lower is better",
      },
    ];
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
