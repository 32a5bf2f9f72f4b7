/**
 * `opencode-turns run` as a person at a terminal sees it (a pseudo-terminal, stdin, stdout and
 * stderr all on it), with the offline demo: what shows while opencode starts, the ask of
 * `--permissions ask`, and Ctrl-C's notice.
 */
import { stripVTControlCharacters } from "node:util";
import { describe, expect, it } from "vitest";
import { eventually, runCli } from "../../testkit/cli.js";
import { runOnTerminal } from "../../testkit/terminal.js";

/** The screen as text: colours gone, each `\r\x1b[K` rewrite of the progress line kept as a line break. */
const plain = (screen: string) => stripVTControlCharacters(screen.replaceAll("\r\u001b[K", "\n")).replaceAll("\r\n", "\n");

describe("opencode-turns run on a terminal", () => {
  it("says what it is doing from the first moment, clears it for the answer, and --demo --permissions ask asks before bash runs", async () => {
    const terminal = runOnTerminal(["run", "--demo", "--permissions", "ask", "Explain this repository"]);
    await eventually(() => /Allow \[o\]nce/.test(terminal.screen()), "the permission ask", 45_000);
    terminal.type("o\r");
    const { code, screen } = await terminal.exited;
    expect(code, screen).toBe(0);
    const text = plain(screen);
    const starting = text.indexOf("Starting opencode with the offline demo model…");
    const waiting = text.indexOf("waiting for the model…");
    const thinking = text.indexOf("Thinking: ");
    expect(starting, text).toBeGreaterThanOrEqual(0);
    expect(waiting).toBeGreaterThan(starting);
    expect(thinking).toBeGreaterThan(waiting);
    // The progress line was erased before the first reply was written over it.
    expect(screen.slice(0, screen.indexOf("Thinking: "))).toMatch(/\r\u001b\[K(\u001b\[[0-9;]*m)*$/);
    expect(text).toMatch(/opencode asks to use bash: pwd, ls -A\. Allow \[o\]nce/);
    expect(text).toMatch(/✓ bash pwd && ls -A → \/tmp\//);
    expect(text).toContain("This is the offline demo of opencode-turns");
  }, 90_000);

  it("Ctrl-C mid-line: the notice starts on a line of its own, the turn is cancelled, exit 130", async () => {
    const terminal = runOnTerminal(["run", "--demo", "Explain this repository"]);
    await eventually(() => /Thinking: \S*The question/.test(plain(terminal.screen())), "the reasoning to stream", 45_000);
    terminal.type("\u0003");
    const { code, screen } = await terminal.exited;
    expect(code, screen).toBe(130);
    const text = plain(screen);
    expect(text).toMatch(/\nopencode-turns: Cancelling the turn on the server…/);
    expect(text).not.toMatch(/[^\n]opencode-turns: Cancelling/);
    // Nothing that streams after it is written onto the notice's line (a reasoning delta once was).
    expect(text).toMatch(/opencode-turns: Cancelling the turn on the server… \(Ctrl-C again to quit at once\)\n/);
  }, 90_000);
});

describe("opencode-turns run without a terminal", () => {
  it("shows no progress, and a turn that failed before starting has no closing line; the process's own words are shown", async () => {
    const run = await runCli(["run", "hello"], { env: { OPENCODE_BIN: "/bin/false" } });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("opencode exited before it listened (code 1, signal null): it printed nothing.");
    expect(run.stderr).not.toContain("Starting opencode");
    expect(run.stdout).not.toContain("0.0 s");
  });

  it("--result: the turn's result is the last line on stdout, with its session id", async () => {
    const run = await runCli(["run", "--demo", "--json", "--result", "hello"]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.at(-2)).toMatchObject({ kind: "final" });
    expect(lines.at(-1)).toMatchObject({ outcome: "final", session_id: expect.stringMatching(/^ses/), trace_id: expect.any(String) });
    expect(run.stderr).toBe("");
  }, 60_000);
});
