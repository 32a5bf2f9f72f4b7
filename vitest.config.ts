import path from "node:path";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

// The suite's longest files (docs/testing.md), longest first. Vitest starts the files it has timed
// longest first by itself; on a fresh clone (CI) it has no timings and would start the big files
// first, which are not the long ones, and end on a long file started last.
const LONGEST = [
  "test/e2e/python.test.ts",
  "test/e2e/session-ops.test.ts",
  "test/e2e/cli.test.ts",
  "test/e2e/cli-session-ops.test.ts",
  "test/e2e/no-provider.test.ts",
  "test/e2e/opencode-1.18.33.test.ts",
  "test/e2e/opencode-1.15.13.test.ts",
  "test/e2e/hostile-server.test.ts",
  "test/e2e/bridge.test.ts",
  "test/machines/turn.machine.test.ts",
  "test/bench.test.ts",
  "test/e2e/crash.test.ts",
];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const key = (spec: TestSpecification) => path.relative(this.ctx.config.root, spec.moduleId);
    if (sorted.some((spec) => this.ctx.cache.getFileTestResults(`${spec.project.name}:${key(spec)}`))) return sorted;
    const rank = (spec: TestSpecification) => (LONGEST.includes(key(spec)) ? LONGEST.indexOf(key(spec)) : LONGEST.length);
    // super.sort keeps each project's files together, in group order: reorder within each run of one project.
    const runs: TestSpecification[][] = [];
    for (const spec of sorted) {
      if (runs.at(-1)?.[0]?.project !== spec.project) runs.push([]);
      runs.at(-1)!.push(spec);
    }
    return runs.flatMap((run) => run.sort((a, b) => rank(a) - rank(b)));
  }
}

// test/new-user/ installs a fresh clone and a packed tarball (minutes, and the network):
// OPENCODE_TURNS_NESTED_TEST=1 leaves it out, for a quick run of the suite alone.
const nested = process.env.OPENCODE_TURNS_NESTED_TEST === "1";
// The soak (test/soak/) runs many turns on a real opencode: CI sets OPENCODE_TURNS_SOAK=1.
const soak = process.env.OPENCODE_TURNS_SOAK === "1" && !nested;

export default defineConfig({
  test: {
    // Two cores. The e2e files each run a real opencode server, two at a time; the third worker is
    // the new-user file, which mostly waits on npm and its child processes, beside the suite rather
    // than after it (projects of one groupOrder share the workers; "new-user" sorts before "suite",
    // so it starts first).
    maxWorkers: 3,
    sequence: { sequencer: LongestFirst },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: "suite",
          include: ["test/**/*.test.ts"],
          exclude: ["test/new-user/**", "test/soak/**"],
          globalSetup: ["test/global-setup.ts"],
        },
      },
      // A new user's commands on a fresh clone, beside the suite.
      ...(nested ? [] : [{ extends: true as const, test: { name: "new-user", include: ["test/new-user/**/*.test.ts"] } }]),
      // Alone, last: its counts of sockets, timers and processes must see nothing of the other tests.
      ...(soak ? [{ extends: true as const, test: { name: "soak", include: ["test/soak/**/*.test.ts"], sequence: { groupOrder: 1 } } }] : []),
    ],
  },
});
