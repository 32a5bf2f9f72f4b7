/**
 * The big turn (many deltas of ours, other sessions' frames between them) from prompt to the end,
 * over loopback HTTP from the stand-in in a child process; client CPU only.
 *
 *   floor     bare undici + eventsource-parser + JSON.parse of every frame (measure.ts rawTurn)
 *   hub       the EventHub alone: read, route, hand over our session's events (a run of one part's deltas as one)
 *   hubCodec  the hub and the codec (mapOpencodeEvents), no machine
 *   pipeline  OpenCodeAdapter.prompt(): hub → machine → codec → reply queue → sink
 *   sdk       @opencode-ai/sdk v2 `event.subscribe()`, reading until our session is idle
 */
import { createOpencodeClient } from "@opencode-ai/sdk/v2";
import { OpenCodeAdapter } from "../src/host/adapter.js";
import { promptSent } from "../src/codec/ending.js";
import { mapOpencodeEvents } from "../src/codec/map.js";
import { initialTurnState } from "../src/codec/state.js";
import { newMessageId } from "../src/opencode/server-clock.js";
import { EventHub } from "../src/opencode/event-hub.js";
import { OpencodeHttp } from "../src/opencode/http.js";
import * as api from "../src/opencode/api.js";
import { startChildServer } from "./child-server.js";
import { authorization, type Cost, type Event, cpu, createSession, gcPause, pairedRatio, postPrompt, rawTurn, round, rounds, turnEnd, type Row, type Server, type Size } from "./measure.js";

export interface StandIn extends Server {
  stop(): Promise<void>;
}

/** Starts bench/stand-in.ts in a child process. */
export function startStandIn(deltas: number, noiseEvery: number): Promise<StandIn> {
  return startChildServer<Server>("./stand-in.ts", [String(deltas), String(noiseEvery)]);
}

const target = (server: Server) => ({ baseUrl: server.url, username: "opencode", password: server.password, directory: undefined, connectTimeoutMs: 10_000, bodyTimeoutMs: 60_000 });

/** The hub alone (and with `codec`, the codec too) through one big turn; returns how many events it handed over. */
async function hubTurn(server: Server, sessionId: string, codec: boolean): Promise<number> {
  const hub = new EventHub(new OpencodeHttp(target(server)), { heartbeatTimeoutMs: 60_000 });
  const messageId = newMessageId();
  let state = promptSent(initialTurnState({ traceId: "bench", sessionId, messageId, maxProviderRetries: 3 }));
  let handed = 0;
  let ended!: () => void;
  const done = new Promise<void>((resolve) => (ended = resolve));
  const isEnd = turnEnd(sessionId);
  hub.subscribe(sessionId, {
    events: (batch) => {
      handed += batch.length;
      if (codec) {
        state = mapOpencodeEvents(batch, state).state;
        if (state.outcome !== undefined) ended();
      } else if (batch.some((event) => isEnd(event as Event))) ended();
    },
    lost: () => ended(),
  });
  await hub.connect();
  await api.promptAsync(hub.http, sessionId, { messageID: messageId, parts: [{ type: "text", text: "big" }] });
  await done;
  await hub.close();
  if (codec && state.outcome?.kind !== "final") throw new Error("hub + codec did not reach final");
  return handed;
}

/** The SDK's own subscription, through one big turn. */
async function sdkTurn(server: Server, sessionId: string): Promise<number> {
  const client = createOpencodeClient({ baseUrl: server.url, headers: { authorization: authorization(server.password) } });
  const controller = new AbortController();
  const { stream } = await client.event.subscribe(undefined, { signal: controller.signal });
  const isEnd = turnEnd(sessionId);
  let events = 0;
  for await (const event of stream as AsyncIterable<{ type?: string; properties?: { sessionID?: string } }>) {
    events++;
    if (event.type === "server.connected") await postPrompt(server, sessionId, "big");
    if (isEnd(event)) break;
  }
  controller.abort();
  return events;
}

/** Through the whole adapter: a new adapter per turn, so its stream opens and closes like the floor's. */
async function pipelineTurn(server: Server, sessionId: string): Promise<number> {
  let replies = 0;
  const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password, sessionId }, () => void replies++);
  const result = await adapter.prompt("big");
  await adapter.close();
  if (result.outcome !== "final") throw new Error(`the pipeline ended with ${result.outcome}`);
  return replies;
}

export async function throughputBench(size: Size): Promise<Row[]> {
  const deltas = size.tiny ? 2_000 : 200_000;
  const noiseEvery = 4;
  const server = await startStandIn(deltas, noiseEvery);
  try {
    const sessionId = await createSession(server);
    const costs = await rounds(size, {
      floor: () => rawTurn(server, sessionId, "big"),
      hub: () => hubTurn(server, sessionId, false),
      hubCodec: () => hubTurn(server, sessionId, true),
      pipeline: () => pipelineTurn(server, sessionId),
      sdk: () => sdkTurn(server, sessionId),
    });
    const workload = `${deltas.toLocaleString("en-US")} deltas, a frame of another session after every ${noiseEvery}`;
    /** `baseline`'s CPU over `candidate`'s, paired round by round: higher is better. */
    const cpuRatio = (name: string, candidate: Cost[], baseline: Cost[], note: string): Row => ({
      name,
      value: round(cpu(candidate), 1),
      unit: "ms CPU",
      baseline: round(cpu(baseline), 1),
      ratio: round(pairedRatio(baseline, candidate)),
      note,
    });
    return [
      cpuRatio("throughput.pipeline", costs.pipeline, costs.floor, `floor CPU / pipeline CPU, prompt to final (${workload}); higher is better; target >= 1.0 (0.8 at the least)`),
      cpuRatio("throughput.hub", costs.hub, costs.floor, "floor CPU / hub CPU, same turn (the hub reads its own deltas off their text and joins a run into one event); higher is better"),
      cpuRatio("throughput.hubCodec", costs.hubCodec, costs.floor, "floor CPU / (hub + codec) CPU, same turn; higher is better"),
      cpuRatio(
        "throughput.sdk",
        costs.hub,
        costs.sdk,
        "@opencode-ai/sdk v2 event.subscribe() CPU / hub CPU (both hand over parsed events), same turn; higher is better; target > 1",
      ),
      cpuRatio(
        "throughput.sdk.pipeline",
        costs.pipeline,
        costs.sdk,
        "SDK subscription CPU / whole pipeline CPU (the pipeline also runs the machine, codec and sink); higher is better",
      ),
      {
        name: "gc.pipeline",
        value: round(gcPause(costs.pipeline), 1),
        unit: "ms GC pause",
        baseline: round(gcPause(costs.hubCodec), 1),
        ratio: round(gcPause(costs.pipeline) / gcPause(costs.hubCodec), 2),
        note: `GC pauses in the pipeline's turn / in hub + codec's (floor: ${round(gcPause(costs.floor), 1)} ms); lower is better; target <= 1`,
      },
    ];
  } finally {
    await server.stop();
  }
}
