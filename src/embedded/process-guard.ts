/** Owning an embedded opencode process: it is gone when `stop()` resolves, when this process exits, and when it dies. */
import { spawn, type ChildProcess } from "node:child_process";
import { rm } from "node:fs/promises";

const STOP_GRACE_MS = 3_000;

// Servers still running, killed if this process exits without stopping them.
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Owns the server process: `stop()` ends it; an `exit` hook kills it if this process exits first;
 * and, on POSIX, a watchdog kills it if this process dies without running any hook (SIGKILL, a
 * crash, a default SIGINT).
 */
export function guardProcess(child: ChildProcess, root: string | undefined): { stop(): Promise<void> } {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => {
      for (const server of running) killGroup(server, "SIGKILL");
    });
  }
  running.add(child);
  const watchdog = child.pid !== undefined && process.platform !== "win32" ? spawnWatchdog(child.pid, root) : undefined;
  const gone = exited(child).then(() => {
    running.delete(child);
  });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (watchdog?.pid !== undefined) {
        try {
          process.kill(watchdog.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      if (child.exitCode === null && child.signalCode === null) {
        killGroup(child, "SIGTERM");
        let timer: NodeJS.Timeout | undefined;
        const graceOver = new Promise<false>((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS, false)));
        const ended = await Promise.race([gone.then(() => true), graceOver]);
        clearTimeout(timer);
        if (!ended) killGroup(child, "SIGKILL");
      }
      await gone;
      // Whatever opencode started and left in its group.
      killGroup(child, "SIGKILL");
      if (root !== undefined) await rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    })();
    return stopping;
  };
  return { stop };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  if (child.pid === undefined) return;
  try {
    // On POSIX the server is spawned detached: it leads its own process group.
    if (process.platform === "win32") child.kill(signal);
    else process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/**
 * A detached `sh` that holds the read end of a pipe from this process. When the pipe reaches EOF
 * (this process died, however), it kills the server's process group and removes its temp dir.
 * (dash's `kill` takes `-PGID` but not `--`.)
 */
function spawnWatchdog(pgid: number, root: string | undefined): ChildProcess {
  const script = 'read -r _; kill -KILL "-$1" 2>/dev/null; if [ -n "$2" ]; then sleep 1; rm -rf "$2"; fi';
  const dog = spawn("/bin/sh", ["-c", script, "opencode-watchdog", String(pgid), root ?? ""], {
    stdio: ["pipe", "ignore", "ignore"],
    detached: true,
  });
  dog.on("error", () => {});
  dog.stdin?.on("error", () => {});
  dog.unref();
  // The pipe must not keep this process alive.
  (dog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return dog;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", () => resolve());
  });
}
