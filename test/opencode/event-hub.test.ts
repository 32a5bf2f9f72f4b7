import { afterEach, describe, expect, it, vi } from "vitest";
import type { TurnEvent } from "../../machines/turn.machine.js";
import { EventHub, type HubListener } from "../../src/opencode/event-hub.js";
import { peekSessionId } from "../../src/opencode/frames.js";
import type { OpencodeHttp } from "../../src/opencode/http.js";
import { followSession } from "../../src/engine/turn-actors.js";
import type { TurnError } from "../../src/contract/turn-error.js";
import * as E from "../../testkit/events.js";

/** One scripted `/event` body: the test pushes frames, ends or breaks it. */
class ScriptedBody {
  private readonly queue: Array<Uint8Array | Error | null> = [];
  private wake: (() => void) | undefined;

  constructor(signal: AbortSignal) {
    signal.addEventListener("abort", () => this.fail(new Error("aborted")));
  }

  frame(event: unknown): void {
    this.raw(`data: ${JSON.stringify(event)}\n\n`);
  }
  raw(text: string): void {
    this.push(new TextEncoder().encode(text));
  }
  end(): void {
    this.push(null);
  }
  fail(error: Error): void {
    this.push(error);
  }

  private push(item: Uint8Array | Error | null): void {
    this.queue.push(item);
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (;;) {
      while (this.queue.length === 0) await new Promise<void>((resolve) => (this.wake = resolve));
      const item = this.queue.shift()!;
      if (item === null) return;
      if (item instanceof Error) throw item;
      yield item;
    }
  }
}

/** `connected` makes the first frame of each stream (opencode's `server.connected`). */
function hubWithScriptedServer(heartbeatTimeoutMs = 60_000, connected: () => unknown = E.connected) {
  const bodies: ScriptedBody[] = [];
  const http = {
    origin: "http://opencode.test",
    target: { baseUrl: "http://opencode.test", username: "opencode", directory: undefined, connectTimeoutMs: 1000 },
    openEvents: async (signal: AbortSignal) => {
      const body = new ScriptedBody(signal);
      bodies.push(body);
      body.frame(connected());
      return body;
    },
    close: async () => undefined,
  } as unknown as OpencodeHttp;
  const hub = new EventHub(http, { heartbeatTimeoutMs });
  return { hub, bodies, body: () => bodies.at(-1)! };
}

function recorder(): HubListener & { batches: unknown[][]; losses: TurnError[]; types(): string[] } {
  const batches: unknown[][] = [];
  const losses: TurnError[] = [];
  return {
    batches,
    losses,
    events: (batch) => void batches.push([...batch]),
    lost: (error) => void losses.push(error),
    types: () => batches.flat().map((e) => `${(e as { type: string }).type}@${(e as { properties: { sessionID?: string } }).properties.sessionID}`),
  };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
const hubs: EventHub[] = [];
afterEach(async () => {
  for (const hub of hubs.splice(0)) await hub.close();
});

describe("EventHub", () => {
  it("routes each session's events to its listeners only, and counts frames that are not JSON", async () => {
    const { hub, body } = hubWithScriptedServer();
    hubs.push(hub);
    const a = recorder();
    const b = recorder();
    hub.subscribe("ses_a", a);
    hub.subscribe("ses_b", b);
    await hub.connect();
    body().frame(E.idle("ses_a"));
    body().raw("data: {oops\n\n");
    body().frame(E.idle("ses_b"));
    body().frame(E.idle("ses_nobody"));
    body().frame(E.heartbeat());
    await tick();
    await tick();
    expect(a.types()).toEqual(["session.idle@ses_a"]);
    expect(b.types()).toEqual(["session.idle@ses_b"]);
    expect(hub.stats.malformed).toBe(1);
  });

  it("hands over what arrived within one event-loop turn as one batch, in order, a run of one part's deltas joined into one", async () => {
    const { hub, body } = hubWithScriptedServer();
    hubs.push(hub);
    const a = recorder();
    hub.subscribe("ses_a", a);
    await hub.connect();
    for (let i = 0; i < 3; i++) body().frame(E.delta("ses_a", "m", "p", `d${i}`));
    // Another session's frame is not in a's stream: the run goes on across it.
    body().frame(E.delta("ses_other", "m", "p", "x"));
    body().frame(E.delta("ses_a", "m", "p", "d3"));
    body().frame(E.delta("ses_a", "m", "q", "e0"));
    body().frame(E.delta("ses_a", "m", "p", "d4"));
    body().frame(E.busy("ses_a"));
    body().frame(E.delta("ses_a", "m", "p", "d5"));
    body().frame(E.delta("ses_a", "m", "p", "d6"));
    await tick();
    await tick();
    expect(a.batches).toHaveLength(1);
    const seen = a.batches[0]!.map((e) => {
      const { type, properties } = e as { type: string; properties: { partID?: string; delta?: string } };
      return type === "message.part.delta" ? `${properties.partID}:${properties.delta}` : type;
    });
    expect(seen).toEqual(["p:d0d1d2d3", "q:e0", "p:d4", "session.status", "p:d5d6"]);
  });

  it("joins no delta onto one a listener has been handed, nor onto one a newer listener did not get", async () => {
    const { hub, body } = hubWithScriptedServer();
    hubs.push(hub);
    const a = recorder();
    hub.subscribe("ses_a", a);
    await hub.connect();
    body().frame(E.delta("ses_a", "m", "p", "d0"));
    await tick();
    await tick();
    body().frame(E.delta("ses_a", "m", "p", "d1"));
    // b subscribes while d1 waits in a's batch (read, not yet handed over): d2 must reach b too.
    for (let i = 0; i < 20; i++) await Promise.resolve();
    expect(a.batches).toHaveLength(1);
    const b = recorder();
    hub.subscribe("ses_a", b);
    body().frame(E.delta("ses_a", "m", "p", "d2"));
    await tick();
    await tick();
    const deltas = (listener: ReturnType<typeof recorder>) => listener.batches.flat().map((e) => (e as { properties: { delta: string } }).properties.delta);
    expect(deltas(a).join("")).toBe("d0d1d2");
    expect(deltas(a)[0]).toBe("d0");
    expect(deltas(b)).toEqual(["d2"]);
  });

  it("routes children and grandchildren to the root's listeners, also to listeners who came later", async () => {
    const { hub, body } = hubWithScriptedServer();
    hubs.push(hub);
    const watcher = recorder();
    hub.subscribe("ses_root", watcher);
    await hub.connect();
    body().frame(E.sessionCreated("ses_child", "ses_root"));
    body().frame(E.sessionCreated("ses_grandchild", "ses_child"));
    await tick();
    // A later turn follows the root; the subagent session is resumed and asks for permission.
    const laterTurn = recorder();
    hub.subscribe("ses_root", laterTurn);
    body().frame(E.permissionAsked("ses_grandchild", "per_1"));
    await tick();
    await tick();
    expect(laterTurn.types()).toEqual(["permission.asked@ses_grandchild"]);
    expect(watcher.types()).toEqual(["session.created@ses_child", "session.created@ses_grandchild", "permission.asked@ses_grandchild"]);
  });

  it("stops delivering to a listener once it unsubscribes", async () => {
    const { hub, body } = hubWithScriptedServer();
    hubs.push(hub);
    const a = recorder();
    const stays = recorder();
    const unsubscribe = hub.subscribe("ses_a", a);
    hub.subscribe("ses_a", stays);
    await hub.connect();
    body().frame(E.idle("ses_a"));
    unsubscribe();
    await tick();
    body().frame(E.idle("ses_a"));
    await tick();
    await tick();
    expect(a.batches).toEqual([]);
    expect(stays.types()).toEqual(["session.idle@ses_a", "session.idle@ses_a"]);
  });

  it("tells the listeners a connection served that it was lost, after handing over what it delivered", async () => {
    const { hub, body } = hubWithScriptedServer();
    hubs.push(hub);
    const a = recorder();
    hub.subscribe("ses_a", a);
    await hub.connect();
    body().frame(E.idle("ses_a"));
    body().end();
    await tick();
    await tick();
    expect(a.types()).toEqual(["session.idle@ses_a"]);
    expect(a.losses.map((e) => e.code)).toEqual(["stream_lost"]);
  });

  it("a listener that came after a cut, served by the new connection, is not told of the old one's loss", async () => {
    const { hub, bodies } = hubWithScriptedServer();
    hubs.push(hub);
    const old = recorder();
    hub.subscribe("ses_a", old);
    await hub.connect();
    hub.cut({ code: "stream_lost", message: "cut by the test" } as TurnError);
    const fresh = recorder();
    hub.subscribe("ses_b", fresh);
    await hub.connect();
    await tick();
    await tick();
    expect(bodies).toHaveLength(2);
    expect(old.losses).toHaveLength(1);
    expect(fresh.losses).toEqual([]);
  });

  it("the heartbeat watchdog cuts a silent stream", async () => {
    const { hub } = hubWithScriptedServer(50);
    hubs.push(hub);
    const a = recorder();
    hub.subscribe("ses_a", a);
    await hub.connect();
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(a.losses.map((e) => [e.code, e.message.includes("heartbeat")])).toEqual([["stream_lost", true]]);
  });

  it("parses a frame whose session ids disagree, so an event of ours is not skipped for another id inside it", async () => {
    const { hub, body } = hubWithScriptedServer();
    hubs.push(hub);
    const a = recorder();
    hub.subscribe("ses_a", a);
    await hub.connect();
    body().raw(`data: ${JSON.stringify({ type: "message.part.updated", properties: { part: { sessionID: "ses_other" }, sessionID: "ses_a" } })}\n\n`);
    body().frame(E.delta("ses_other", "m", "p", "not ours"));
    await tick();
    await tick();
    expect(a.types()).toEqual(["message.part.updated@ses_a"]);
  });
});

describe("EventHub: the server's clock", () => {
  /** An event id as opencode makes it, stamped `ms` on the server's clock. */
  const eventId = (ms: number) => `evt_${((ms % 2 ** 36) * 4096 + 1).toString(16).padStart(12, "0")}AbCdEfGhIjKlMn`;
  const msOfMessageId = (id: string) => Math.floor(Number.parseInt(id.slice(4, 16), 16) / 4096);
  /** A server whose clock is an hour behind the host's. */
  const serverMs = () => (Date.now() - 3_600_000) % 2 ** 36;

  it("a turn's STREAM.READY carries a message id on the server's clock, read off server.connected", async () => {
    const connectedAt = serverMs();
    const { hub } = hubWithScriptedServer(60_000, () => ({ id: eventId(connectedAt), type: "server.connected", properties: {} }));
    hubs.push(hub);
    const sent: TurnEvent[] = [];
    const stop = followSession(hub, "ses_a", (event) => sent.push(event));
    await hub.connect();
    await tick();
    stop();
    const ready = sent.find((event) => event.type === "STREAM.READY");
    expect(ready?.messageId).toMatch(/^msg_[0-9a-f]{12}[0-9A-Za-z]{14}$/);
    // It arrived a moment ago: the server's now is the stamp plus at most that moment, not the host's clock.
    expect(msOfMessageId(ready!.messageId!) - connectedAt).toBeGreaterThanOrEqual(0);
    expect(msOfMessageId(ready!.messageId!) - connectedAt).toBeLessThan(1_000);
  });

  it("follows the stamps of later frames, also of other sessions' frames it skips unparsed", async () => {
    const { hub, body } = hubWithScriptedServer();
    hubs.push(hub);
    hub.subscribe("ses_a", recorder());
    await hub.connect();
    const later = serverMs();
    body().raw(`data: ${JSON.stringify({ ...E.delta("ses_other", "m", "p", "not ours"), id: eventId(later) })}\n\n`);
    await tick();
    const id = hub.serverClock.nextMessageId();
    expect(msOfMessageId(id) - later).toBeGreaterThanOrEqual(0);
    expect(msOfMessageId(id) - later).toBeLessThan(1_000);
  });
});

describe("peekSessionId", () => {
  it("reads the session of a frame without parsing it, when every sessionID in it agrees", () => {
    expect(peekSessionId(JSON.stringify(E.delta("ses_a", "m", "p", "x")))).toBe("ses_a");
    expect(peekSessionId(JSON.stringify(E.partClosed("ses_a", "m", "p", "text", "x")))).toBe("ses_a");
    expect(peekSessionId(JSON.stringify(E.heartbeat()))).toBeUndefined();
    expect(peekSessionId(JSON.stringify({ properties: { sessionID: "ses_a", part: { sessionID: "ses_b" } } }))).toBeUndefined();
    expect(peekSessionId(JSON.stringify({ properties: { sessionID: "ses_a", part: { sessionID: "ses_ab" } } }))).toBeUndefined();
  });

  it("is not fooled by a text that spells a sessionID key: inside a JSON string its quotes are escaped", () => {
    const text = '"sessionID":"ses_b"';
    expect(peekSessionId(JSON.stringify(E.delta("ses_a", "m", "p", text)))).toBe("ses_a");
    expect(peekSessionId(JSON.stringify({ type: "x", properties: { delta: text } }))).toBeUndefined();
  });
});

describe("the progress watch of a turn's subscription", () => {
  /** A hub whose server answers GET /session/status with `status()`: the sessions busy or retrying. */
  function watchedHub(status: () => Record<string, unknown>) {
    const scripted = hubWithScriptedServer(150);
    const asked: string[] = [];
    Object.assign(scripted.hub.http, {
      call: async (_method: string, path: string) => {
        asked.push(path);
        return status();
      },
      redact: (text: string) => text,
    });
    hubs.push(scripted.hub);
    return { ...scripted, asked };
  }
  const beat = (body: () => ScriptedBody, times: number) =>
    (async () => {
      for (let i = 0; i < times; i++) {
        body().frame(E.heartbeat());
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
    })();

  it("a live stream with nothing for the session: asks opencode; busy keeps the turn, idle tells it the stream lost it", async () => {
    let busy = true;
    const { hub, body, asked } = watchedHub(() => (busy ? { ses_a: { type: "busy" } } : {}));
    const a = recorder();
    hub.subscribe("ses_a", a, { watchProgress: true });
    await hub.connect();
    const beating = beat(body, 40);
    await vi.waitFor(() => expect(asked.length).toBeGreaterThanOrEqual(2), { timeout: 5000 });
    expect(a.losses).toEqual([]);
    busy = false;
    await vi.waitFor(() => expect(a.losses).toHaveLength(1), { timeout: 5000 });
    expect(a.losses[0]).toMatchObject({ code: "stream_lost", message: expect.stringContaining("brought nothing for session ses_a for 150 ms, and opencode shows the session idle") });
    expect(asked.every((path) => path === "/session/status")).toBe(true);
    await beating;
  });

  it("a stream that brings nothing at all is the connection watchdog's: opencode is not asked", async () => {
    const { hub, asked } = watchedHub(() => ({}));
    const a = recorder();
    hub.subscribe("ses_a", a, { watchProgress: true });
    await hub.connect();
    await vi.waitFor(() => expect(a.losses).toHaveLength(1), { timeout: 5000 });
    expect(a.losses[0]!.message).toContain("no heartbeat");
    expect(asked).toEqual([]);
  });

  it("a subscription that does not watch progress (the session watch between turns) is never checked", async () => {
    const { hub, body, asked } = watchedHub(() => ({}));
    const a = recorder();
    hub.subscribe("ses_a", a);
    await hub.connect();
    await beat(body, 15);
    expect(asked).toEqual([]);
    expect(a.losses).toEqual([]);
  });
});
