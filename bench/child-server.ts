import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

/**
 * Starts a bench server (a TypeScript file of bench/) in a child process, so its CPU and its garbage
 * are not billed to the process measured. The script prints what it serves as one JSON line and
 * calls `serveUntilStopped`: SIGTERM stops it, and so does the end of its stdin, which is this
 * process going away, however it ends.
 */
export async function startChildServer<T>(script: string, args: readonly string[] = []): Promise<T & { pid: number; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", new URL(script, import.meta.url).pathname, ...args], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return {
    ...(JSON.parse(first) as T),
    pid: child.pid!,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** In a child server: prints `served` as its one JSON line, and closes the server (then exits) on SIGTERM or when the parent is gone. */
export function serveUntilStopped(served: unknown, server: { close(): Promise<void> }): void {
  process.stdout.write(`${JSON.stringify(served)}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void server.close().then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.stdin.on("end", stop).resume();
}
