import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

/**
 * Starts a bench server (a TypeScript file of bench/) in a child process, so its CPU and its garbage
 * are not billed to the process measured. The script prints what it serves as one JSON line; SIGTERM stops it.
 */
export async function startChildServer<T>(script: string, args: readonly string[] = []): Promise<T & { stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", new URL(script, import.meta.url).pathname, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return {
    ...(JSON.parse(first) as T),
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}
