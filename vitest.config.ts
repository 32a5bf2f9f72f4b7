import { defineConfig } from "vitest/config";

// test/new-user/ installs a fresh clone and a packed tarball (minutes, and the network):
// OPENCODE_TURNS_NESTED_TEST=1 leaves it out, for a quick run of the suite alone.
const nested = process.env.OPENCODE_TURNS_NESTED_TEST === "1";
// The soak (test/soak/) runs many turns on a real opencode: CI sets OPENCODE_TURNS_SOAK=1.
const soak = process.env.OPENCODE_TURNS_SOAK === "1" && !nested;

export default defineConfig({
  test: {
    // Two cores: the e2e files each run a real opencode server, so keep file parallelism modest.
    maxWorkers: 2,
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
      // A new user's commands on a fresh clone: alone, after the suite, so it does not compete for the cores.
      ...(nested
        ? []
        : [{ extends: true as const, test: { name: "new-user", include: ["test/new-user/**/*.test.ts"], sequence: { groupOrder: 1 } } }]),
      // Alone, last: its counts of sockets, timers and processes must see nothing of the other tests.
      ...(soak ? [{ extends: true as const, test: { name: "soak", include: ["test/soak/**/*.test.ts"], sequence: { groupOrder: 2 } } }] : []),
    ],
  },
});
