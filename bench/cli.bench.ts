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
import { cpu, pairedRatio, round, rounds, type Row, type Size } from "./measure.js";

/** Runs `node ...args` `times` times, each to its end. */
async function startNode(args: readonly string[], times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    const run = spawnSync(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    if (run.status !== 0) throw new Error(`node ${args.join(" ")} exited ${run.status}: ${run.stderr.toString("utf8")}`);
  }
}

export async function cliBench(size: Size): Promise<Row[]> {
  const scratch = mkdtempSync(path.join(tmpdir(), "opencode-turns-bench-cli-"));
  try {
    const cli = path.join(scratch, "main.js");
    await bundleCli(cli);
    // As in the package: its package.json makes a .js file an ES module (without it Node would read it twice).
    writeFileSync(path.join(scratch, "package.json"), '{ "type": "module" }\n');
    const times = size.tiny ? 1 : 5;
    const costs = await rounds(
      size,
      { node: () => startNode(["-e", ""], times), cli: () => startNode([cli, "--help"], times) },
      { cpuOf: "children" },
    );
    return [
      {
        name: "cli.start",
        value: round(cpu(costs.cli) / times, 1),
        unit: "ms CPU per start",
        baseline: round(cpu(costs.node) / times, 1),
        ratio: round(1 / pairedRatio(costs.node, costs.cli), 2),
        note: "CPU of `opencode-turns --help` (the CLI as built, one bundled file) / CPU of `node -e \"\"`, child processes' CPU from /proc; lower is better",
      },
    ];
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
