/**
 * The two hosts of the bridge benches, each driving turns in child processes of its own:
 *
 *   BridgeProcess  `opencode-turns bridge` (src/cli/main.ts through tsx, as the bench runs the
 *                  library, so both run the same compiled code), read here line by line, each line
 *                  parsed with JSON.parse as any host of the protocol must
 *   PythonHost     bench/python_turns.py: python/opencode_turns.py's OpenCodeAdapter over a bridge
 *                  of its own, started from the same command (the adapter adds its options)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { processCpuMs } from "./process-cpu.js";
import type { Server } from "./measure.js";

const root = fileURLToPath(new URL("..", import.meta.url));

/** The argv that starts `opencode-turns bridge`, with no options. */
const BRIDGE_COMMAND = [process.execPath, "--import", "tsx", `${root}src/cli/main.ts`, "bridge"];

/** Calls `onLine` with each `\n`-ended line of a child's stdout, parsed. */
function readJsonLines(child: ChildProcess, onLine: (line: Record<string, unknown>) => void): void {
  let held = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    let from = 0;
    for (let newline = chunk.indexOf("\n"); newline !== -1; newline = chunk.indexOf("\n", from)) {
      const line = held + chunk.slice(from, newline);
      held = "";
      from = newline + 1;
      onLine(JSON.parse(line) as Record<string, unknown>);
    }
    held += chunk.slice(from);
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve())));
}

function spawnHost(argv: string[], server: Server): ChildProcess {
  return spawn(argv[0]!, argv.slice(1), { cwd: root, env: { ...process.env, OPENCODE_SERVER_PASSWORD: server.password }, stdio: ["pipe", "pipe", "inherit"] });
}

/** One prompt through a host: its wall time, the replies it handed over, and the CPU of its processes. */
export interface HostTurn {
  wallMs: number;
  replies: number;
  /** CPU of the bridge process during the turn. */
  bridgeCpuMs: number;
  /** CPU of the Python process during the turn (PythonHost only). */
  pythonCpuMs?: number;
}

export class BridgeProcess {
  private waiting: { id: string; replies: number; text: number; done: (ok: boolean) => void } | undefined;
  private turns = 0;

  private constructor(private readonly child: ChildProcess) {
    readJsonLines(child, (line) => {
      const turn = this.waiting;
      if (turn === undefined || line.id !== turn.id) throw new Error(`the bridge wrote a line no prompt waits for: ${JSON.stringify(line).slice(0, 200)}`);
      if ("reply" in line) {
        turn.replies++;
        const reply = line.reply as { kind: string; content?: string };
        if (reply.kind === "delta") turn.text += reply.content!.length;
      } else if ("result" in line) {
        const result = line.result as { outcome?: string; content?: string };
        // Joined or not, the deltas must say exactly what the answer says.
        turn.done(result.outcome === "final" && result.content?.length === turn.text);
      }
      else throw new Error(`the bridge wrote an unexpected line: ${JSON.stringify(line).slice(0, 200)}`);
    });
  }

  static start(server: Server, sessionId: string): BridgeProcess {
    // The password goes by environment, as the Python adapter gives it.
    return new BridgeProcess(spawnHost([...BRIDGE_COMMAND, "--url", server.url, "--session", sessionId], server));
  }

  /** Writes one prompt line and reads every line of it up to its result. */
  async turn(text: string): Promise<HostTurn> {
    const id = `p${++this.turns}`;
    const ended = new Promise<{ ok: boolean; replies: number }>((resolve) => {
      const turn = { id, replies: 0, text: 0, done: (ok: boolean) => resolve({ ok, replies: turn.replies }) };
      this.waiting = turn;
    });
    const cpuBefore = processCpuMs(this.child.pid!);
    const startedAt = performance.now();
    this.child.stdin!.write(`${JSON.stringify({ id, op: "prompt", text })}\n`);
    const { ok, replies } = await ended;
    const wallMs = performance.now() - startedAt;
    const bridgeCpuMs = processCpuMs(this.child.pid!) - cpuBefore;
    this.waiting = undefined;
    if (!ok) throw new Error("a bridge turn did not end final, or its deltas did not add up to its answer");
    return { wallMs, replies, bridgeCpuMs };
  }

  /** Ends stdin: the bridge lets its turns finish (there are none) and exits. */
  async stop(): Promise<void> {
    this.child.stdin!.end();
    await exited(this.child);
  }
}

export class PythonHost {
  private next: ((line: Record<string, unknown>) => void) | undefined;

  private constructor(private readonly child: ChildProcess) {
    readJsonLines(child, (line) => {
      if (this.next === undefined) throw new Error(`bench/python_turns.py wrote a line nobody waits for: ${JSON.stringify(line)}`);
      this.next(line);
    });
  }

  /** Starts bench/python_turns.py, which starts its adapter's bridge and says it is ready. */
  static async start(server: Server, sessionId: string): Promise<PythonHost> {
    const python = process.env.PYTHON ?? "python3";
    const child = spawnHost([python, `${root}bench/python_turns.py`, server.url, sessionId, JSON.stringify(BRIDGE_COMMAND)], server);
    const host = new PythonHost(child);
    const spawnFailed = new Promise<never>((_, reject) => child.once("error", reject));
    const ready = await Promise.race([host.read(), spawnFailed]);
    if (ready.ready !== true) throw new Error(`bench/python_turns.py did not start: ${JSON.stringify(ready)}`);
    return host;
  }

  private read(): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const gone = () => reject(new Error(`bench/python_turns.py exited (${this.child.exitCode ?? this.child.signalCode})`));
      this.child.once("exit", gone);
      this.next = (line) => {
        this.child.off("exit", gone);
        this.next = undefined;
        resolve(line);
      };
    });
  }

  /** One `prompt()` of the Python adapter, timed and counted in Python. */
  async turn(text: string): Promise<HostTurn> {
    const answer = this.read();
    this.child.stdin!.write(`${JSON.stringify({ text })}\n`);
    const line = (await answer) as { outcome: string; wall_ms: number; replies: number; python_cpu_ms: number; bridge_cpu_ms: number };
    if (line.outcome !== "final") throw new Error(`a Python adapter turn ended with ${line.outcome}`);
    return { wallMs: line.wall_ms, replies: line.replies, bridgeCpuMs: line.bridge_cpu_ms, pythonCpuMs: line.python_cpu_ms };
  }

  /** Ends stdin: the script closes its adapter (and so its bridge) and exits. */
  async stop(): Promise<void> {
    this.child.stdin!.end();
    await exited(this.child);
  }
}
