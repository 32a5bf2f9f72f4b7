/**
 * Against the real `opencode serve` (testkit/opencode-server.ts) and the scripted model.
 *
 *   latency.added   a delta reaching the sink, after a raw SSE reader on the same server saw it
 *   latency.own     the same, the raw reader parsing the very chunks the hub gets, as they arrive:
 *                   what the engine adds, without opencode's lag between its two subscribers
 *   scale.cpu.nN    client CPU of N concurrent turns, each a turn actor of `provideTurnMachine`:
 *                   with a hub (one `/event` reader) per turn / all on one shared hub
 */
import { OpenCodeAdapter } from "../src/host/adapter.js";
import { EventHub } from "../src/opencode/event-hub.js";
import { OpencodeHttp } from "../src/opencode/http.js";
import { abandonTurn, provideTurnMachine } from "../src/engine/turn-actors.js";
import { runTurn } from "../src/engine/turn-runner.js";
import { startTestOpencode, type OpencodeServer } from "../testkit/opencode-server.js";
import { createParser } from "eventsource-parser";
import { startChildServer } from "./child-server.js";
import { cpu, createSession, openRawReader, pairedRatio, percentile, round, rounds, turnInput, type Row, type Server, type Size } from "./measure.js";

export interface ScalePoint {
  turns: number;
  perTurnReadersMs: number;
  sharedHubMs: number;
  ratio: number;
}

export async function realOpencodeBench(size: Size): Promise<{ rows: Row[]; scale: ScalePoint[] }> {
  // The model in a child process: its work and garbage are opencode's upstream, not the engine's.
  const model = await startChildServer<{ url: string }>("./model-process.ts");
  let server: OpencodeServer | undefined;
  try {
    server = await startTestOpencode({ modelUrl: model.url });
    const rows = [...(await latency(server, size)), ...(await ownLatency(server, size))];
    const scale = await scaling(server, size);
    for (const point of scale) {
      rows.push({
        name: `scale.cpu.n${point.turns}`,
        value: point.sharedHubMs,
        unit: "ms CPU",
        baseline: point.perTurnReadersMs,
        ratio: point.ratio,
        note: `${point.turns} concurrent turns on one real opencode: a hub (an /event reader) per turn CPU / one shared hub CPU, turn actors of provideTurnMachine; higher is better; target at 50 >= 5`,
      });
    }
    return { rows, scale };
  } finally {
    await server?.stop();
    await model.stop();
  }
}

async function latency(server: OpencodeServer, size: Size): Promise<Row[]> {
  const sessionId = await createSession(server);
  const rawSeen = new RawDeltaTimes();
  const added: number[] = [];
  const reader = await openRawReader(server, (event) => {
    const p = event.properties as { sessionID?: string; delta?: string } | undefined;
    if (event.type === "message.part.delta" && p?.sessionID === sessionId && p.delta !== undefined) rawSeen.saw(p.delta);
  });
  const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password, sessionId }, (reply) => {
    if (reply.kind === "delta") rawSeen.reached(reply.content, performance.now(), added);
  });
  try {
    // The first turn on a server is slow for reasons of its own (opencode warms up).
    await adapter.prompt("hello");
    const turns = size.tiny ? 1 : 6;
    for (let t = 0; t < turns; t++) {
      rawSeen.clear();
      const result = await adapter.prompt("paced");
      if (result.outcome !== "final") throw new Error(`the paced turn ended with ${result.outcome}`);
    }
  } finally {
    await adapter.close();
    reader.close();
  }
  if (added.length === 0) throw new Error("no delta was seen by both the raw reader and the sink");
  const note = (p: string) =>
    `${p} of (sink time - raw reader time) per delta, ${added.length} deltas of paced turns; the raw reader is a second /event connection in the same process; lower is better; target p99 < 1 ms (max ${round(Math.max(...added), 2)} ms)`;
  return [
    { name: "latency.added.p50", value: round(percentile(added, 50)), unit: "ms", baseline: null, ratio: null, note: note("p50") },
    { name: "latency.added.p99", value: round(percentile(added, 99)), unit: "ms", baseline: null, ratio: null, note: note("p99") },
  ];
}

async function scaling(server: OpencodeServer, size: Size): Promise<ScalePoint[]> {
  const points: ScalePoint[] = [];
  for (const n of size.tiny ? [1, 3] : [1, 10, 50]) {
    const sessions = await Promise.all(Array.from({ length: n }, () => createSession(server)));
    const costs = await rounds({ ...size, rounds: size.tiny ? 1 : Math.min(size.rounds, n >= 50 ? 3 : 5) }, {
      perTurnReaders: () => concurrentTurns(server, sessions, false),
      sharedHub: () => concurrentTurns(server, sessions, true),
    }, { collect: "minor" });
    points.push({
      turns: n,
      perTurnReadersMs: round(cpu(costs.perTurnReaders), 1),
      sharedHubMs: round(cpu(costs.sharedHub), 1),
      ratio: round(pairedRatio(costs.perTurnReaders, costs.sharedHub), 2),
    });
  }
  return points;
}

/** Runs one turn on each session at once, through the turn machine, with one hub for all (`shared`) or one each. */
async function concurrentTurns(server: Server, sessions: readonly string[], shared: boolean): Promise<void> {
  const engine = () => {
    const hub = new EventHub(new OpencodeHttp({ baseUrl: server.url, username: "opencode", password: server.password, directory: undefined, connectTimeoutMs: 10_000, bodyTimeoutMs: 60_000 }), {
      heartbeatTimeoutMs: 60_000,
    });
    const machine = provideTurnMachine({ hub, decidePermission: async () => ({ reply: "reject" }), decideQuestion: async () => "reject" });
    return { hub, machine };
  };
  const one = shared ? engine() : undefined;
  const outcomes = await Promise.all(
    sessions.map(async (sessionId) => {
      const { hub, machine } = one ?? engine();
      const { output, defect } = await runTurn(machine, { input: turnInput(sessionId, sessionId, "hello"), onOrphaned: (id) => abandonTurn(hub.http, id) });
      const outcome = output?.outcome ?? { kind: "error", code: "internal", error: defect };
      if (one === undefined) await hub.close();
      return outcome.kind === "final" ? "final" : `${outcome.code}: ${outcome.error}`;
    }),
  );
  await one?.hub.close();
  if (outcomes.some((kind) => kind !== "final")) throw new Error(`a concurrent turn ended with ${outcomes.find((kind) => kind !== "final")}`);
}

/**
 * When each delta's text was seen by a raw reader. The hub joins deltas that arrive together into one
 * reply, so a reply's text is cut back into the deltas seen, each timed from when it was seen. The
 * deltas are matched in the order seen, with nothing made per delta: this runs in the measured
 * process, whose GC pauses are part of what is measured.
 */
class RawDeltaTimes {
  private texts: string[] = [];
  private times: number[] = [];
  /** The first delta seen that no reply has reached yet. */
  private next = 0;

  saw(delta: string): void {
    this.texts.push(delta);
    this.times.push(performance.now());
  }

  clear(): void {
    this.texts = [];
    this.times = [];
    this.next = 0;
  }

  /** Adds to `added` how long after the raw reader each delta of `content` reached the sink at `now`; stops at a piece it never saw. */
  reached(content: string, now: number, added: number[]): void {
    for (let at = 0; at < content.length; ) {
      // A delta the reader had not seen yet when its reply came is passed over, never counted.
      let i = this.next;
      while (i < this.texts.length && !content.startsWith(this.texts[i]!, at)) i++;
      if (i === this.texts.length) return;
      added.push(now - this.times[i]!);
      at += this.texts[i]!.length;
      this.next = i + 1;
    }
  }
}

/** A connection whose `/event` body is also parsed by a raw reader, chunk by chunk, before the hub sees it. */
class TeeHttp extends OpencodeHttp {
  constructor(
    server: Server,
    private readonly onDelta: (delta: string) => void,
  ) {
    super({ baseUrl: server.url, username: "opencode", password: server.password, directory: undefined, connectTimeoutMs: 10_000, bodyTimeoutMs: 60_000 });
  }

  override async openEvents(signal: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
    const body = await super.openEvents(signal);
    const decoder = new TextDecoder();
    const parser = createParser({
      onEvent: (frame) => {
        const event = JSON.parse(frame.data) as { type?: string; properties?: { delta?: string } };
        if (event.type === "message.part.delta" && event.properties?.delta !== undefined) this.onDelta(event.properties.delta);
      },
    });
    return (async function* () {
      for await (const chunk of body) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        yield chunk;
      }
    })();
  }
}

async function ownLatency(server: OpencodeServer, size: Size): Promise<Row[]> {
  const sessionId = await createSession(server);
  const rawSeen = new RawDeltaTimes();
  const added: number[] = [];
  const hub = new EventHub(new TeeHttp(server, (delta) => rawSeen.saw(delta)), { heartbeatTimeoutMs: 60_000 });
  const machine = provideTurnMachine({ hub, decidePermission: async () => ({ reply: "reject" }), decideQuestion: async () => "reject" });
  const turn = async (text: string) => {
    const { output } = await runTurn(machine, {
      input: turnInput("latency", sessionId, text),
      onReplies: (replies) => {
        const now = performance.now();
        for (const reply of replies) if (reply.kind === "delta") rawSeen.reached(reply.content, now, added);
      },
      onOrphaned: (id) => abandonTurn(hub.http, id),
    });
    if (output?.outcome.kind !== "final") throw new Error("the paced turn did not end with final");
  };
  try {
    const turns = size.tiny ? 1 : 6;
    for (let t = 0; t < turns; t++) {
      // Every paced turn has the same deltas: each is timed from its own turn's.
      rawSeen.clear();
      await turn("paced");
    }
  } finally {
    await hub.close();
  }
  const note = (p: string) =>
    `${p} of (sink time - raw reader time) per delta, ${added.length} deltas; the raw reader parses the hub's own chunks as they arrive; lower is better (max ${round(Math.max(...added), 2)} ms)`;
  return [
    { name: "latency.own.p50", value: round(percentile(added, 50)), unit: "ms", baseline: null, ratio: null, note: note("p50") },
    { name: "latency.own.p99", value: round(percentile(added, 99)), unit: "ms", baseline: null, ratio: null, note: note("p99") },
  ];
}
