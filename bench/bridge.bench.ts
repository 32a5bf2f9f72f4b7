/**
 * The big turn (throughput.bench.ts's, from the stand-in in a child process) through the hosts of
 * other languages, against the library in process over the same turn, round by round:
 *
 *   library  OpenCodeAdapter.prompt() in this process, a sink that counts
 *   bridge   `opencode-turns bridge` in a child process, its NDJSON read and parsed here
 *   python   python/opencode_turns.py's adapter in a Python process, over a bridge of its own
 *
 * The hub joins a run of deltas that arrive together into one reply, and the bridge joins more while
 * its reader is behind (docs/bridge.md), so how many replies carry the turn depends on timing: every
 * rate here counts the turn's work, its opencode deltas, and the notes say how many replies and
 * lines carried them.
 */
import { OpenCodeAdapter } from "../src/host/adapter.js";
import { BridgeProcess, PythonHost, type HostTurn } from "./bridge-process.js";
import { createSession, median, round, rounds, type Row, type Size } from "./measure.js";
import { startStandIn } from "./throughput.bench.js";

const perSecond = (deltas: number, wallMs: number) => (deltas * 1000) / wallMs;
/** Median over rounds of a statistic of two variants in the same round. */
const pairedMedian = <A, B>(a: readonly A[], b: readonly B[], of: (a: A, b: B) => number) => median(a.map((x, i) => of(x, b[i]!)));

export async function bridgeBench(size: Size): Promise<Row[]> {
  const deltas = size.tiny ? 2_000 : 200_000;
  const server = await startStandIn(deltas, 4);
  let bridge: BridgeProcess | undefined;
  let python: PythonHost | undefined;
  let library: OpenCodeAdapter | undefined;
  try {
    const sessionId = await createSession(server);
    let replies = 0;
    library = new OpenCodeAdapter({ baseUrl: server.url, password: server.password, sessionId }, () => void replies++);
    bridge = BridgeProcess.start(server, sessionId);
    python = await PythonHost.start(server, sessionId);
    const turns: Record<"library" | "bridge" | "python", HostTurn[]> = { library: [], bridge: [], python: [] };
    // Each host runs the turn once before the rounds (rounds() warms up): that turn is dropped.
    const costs = await rounds({ ...size, rounds: size.tiny ? 1 : Math.min(size.rounds, 3) }, {
      library: async () => {
        replies = 0;
        const startedAt = performance.now();
        const result = await library!.prompt("big");
        if (result.outcome !== "final") throw new Error(`the library's turn ended with ${result.outcome}`);
        turns.library.push({ wallMs: performance.now() - startedAt, replies, bridgeCpuMs: 0 });
      },
      bridge: async () => void turns.bridge.push(await bridge!.turn("big")),
      python: async () => void turns.python.push(await python!.turn("big")),
    });
    const [lib, viaBridge, viaPython] = [turns.library.slice(1), turns.bridge.slice(1), turns.python.slice(1)];
    const libCpu = costs.library.map((c) => c.cpuMs);
    // The turn's replies as the library hands them over: a delta per run of deltas, and final.
    const turnReplies = median(lib.map((t) => t.replies));
    const lines = (hostTurns: HostTurn[]) => Math.round(median(hostTurns.map((t) => t.replies))).toLocaleString("en-US");
    const rate = (hostTurns: HostTurn[]) => round(median(hostTurns.map((t) => perSecond(deltas, t.wallMs))), 0);
    const workload = `${deltas.toLocaleString("en-US")}-delta turn (${turnReplies.toLocaleString("en-US")} replies from the library)`;
    const pythonCpu = viaPython.map((t) => t.pythonCpuMs!);
    return [
      {
        name: "bridge.replies",
        value: rate(viaBridge),
        unit: "deltas/s",
        baseline: rate(lib),
        ratio: round(pairedMedian(lib, viaBridge, (l, b) => l.wallMs / b.wallMs)),
        note: `the ${workload} through \`opencode-turns bridge\`, prompt line to result line, each NDJSON line parsed by a Node reader (carried by ${lines(viaBridge)} lines: the bridge joins consecutive deltas while its reader is behind) / the library's sink in process, per second of wall; higher is better`,
      },
      {
        name: "bridge.cpu",
        value: round((median(viaBridge.map((t) => t.bridgeCpuMs)) * 1000) / deltas, 2),
        unit: "µs CPU per delta",
        baseline: round((median(libCpu) * 1000) / deltas, 2),
        ratio: round(pairedMedian(libCpu, viaBridge, (l, b) => b.bridgeCpuMs / l)),
        note: `the bridge process's CPU (/proc) / the library's in process, same ${workload}; lower is better`,
      },
      {
        name: "python.replies",
        value: rate(viaPython),
        unit: "deltas/s",
        baseline: rate(viaBridge),
        ratio: round(pairedMedian(viaBridge, viaPython, (b, p) => b.wallMs / p.wallMs)),
        note: `the ${workload} reaching the sink of python/opencode_turns.py's adapter (carried by ${lines(viaPython)} sink calls) / the Node reader of the bridge alone, per second of wall; higher is better`,
      },
      {
        name: "python.cpu",
        value: round(median(pythonCpu), 1),
        unit: "ms CPU",
        baseline: round(median(viaPython.map((t) => t.bridgeCpuMs)), 1),
        ratio: round(median(viaPython.map((t) => t.pythonCpuMs! / t.bridgeCpuMs))),
        note: `the Python process's CPU / its bridge process's, same ${workload}: Python is ${round(median(viaPython.map((t) => (100 * t.pythonCpuMs!) / (t.pythonCpuMs! + t.bridgeCpuMs))), 0)}% of the two; lower is better`,
      },
    ];
  } finally {
    await library?.close();
    await python?.stop();
    await bridge?.stop();
    await server.stop();
  }
}
