/**
 * The built CLI on a pseudo-terminal, as a person at a terminal runs it: stdin, stdout and stderr
 * are one terminal (python3's `pty`, so no native module is needed). `screen()` is everything the
 * person was shown, in order, control sequences included; `screenOf` (testkit/screen.ts) makes of it
 * what the terminal shows.
 */
import { spawn } from "node:child_process";
import { CLI, cliEnv } from "./cli.js";

// The child sizes its terminal from COLUMNS and LINES (a new pty is 0 × 0, which a program cannot
// lay out on), then runs the CLI. The parent copies the terminal's output to stdout and its own
// stdin to the terminal; it exits with the child's status.
const PTY_HOST = `
import os, sys, select, fcntl, termios, struct
pid, fd = os.forkpty()
if pid == 0:
    size = struct.pack("HHHH", int(os.environ["LINES"]), int(os.environ["COLUMNS"]), 0, 0)
    fcntl.ioctl(0, termios.TIOCSWINSZ, size)
    os.execvpe(sys.argv[1], sys.argv[1:], os.environ)
inputs = [fd, 0]
while True:
    ready, _, _ = select.select(inputs, [], [])
    if fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            break
        os.write(1, data)
    if 0 in ready:
        data = os.read(0, 65536)
        if data:
            os.write(fd, data)
        else:
            inputs.remove(0)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) % 256)
`;

export interface TerminalRun {
  /** What the terminal showed so far. */
  screen(): string;
  /** Types `text` at the terminal (`\\u0003` is Ctrl-C). */
  type(text: string): void;
  exited: Promise<{ code: number | null; screen: string }>;
}

export function runOnTerminal(args: string[], env: Record<string, string> = {}): TerminalRun {
  const child = spawn("python3", ["-c", PTY_HOST, process.execPath, CLI, ...args], {
    // CI set, as on a CI machine, so a local run sees what CI sees: the terminal is live all the same.
    env: cliEnv({ TERM: "xterm-256color", COLUMNS: "100", LINES: "40", CI: "1", ...env }),
    stdio: ["pipe", "pipe", "inherit"],
  });
  let screen = "";
  child.stdout.on("data", (chunk: Buffer) => (screen += chunk.toString("utf8")));
  const exited = new Promise<{ code: number | null; screen: string }>((resolve) => child.once("close", (code) => resolve({ code, screen })));
  return { screen: () => screen, type: (text) => child.stdin.write(text), exited };
}
