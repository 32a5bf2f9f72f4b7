import { childSessionOf, sessionIdOf } from "./events.js";
import { ServerClock } from "./server-clock.js";
import { TurnError } from "../contract/turn-error.js";
import type { OpencodeHttp } from "./http.js";
import { SseFrames } from "./sse.js";
import { DeltaRun, newestStamp, parseFrame, peekSessionId, readPartDelta, SESSION_EVENT } from "./frames.js";
import { ProgressWatch, StreamPause } from "./progress-watch.js";
import * as api from "./api.js";

/** Receives the events of one session family in stream order, batched: what arrived within one event-loop turn. */
export interface HubListener {
  events(batch: readonly unknown[]): void;
  lost(error: TurnError): void;
}

export interface HubOptions {
  /** A stream silent this long is cut (its listeners told); a turn hearing nothing this long has opencode asked about its session. */
  heartbeatTimeoutMs: number;
}

export interface SubscribeOptions {
  /** A turn's subscription: nothing for its session for the heartbeat timeout is checked with the server (`ProgressWatch`). */
  watchProgress?: boolean;
}

interface Connection {
  readonly controller: AbortController;
  readonly ready: Promise<void>;
  connected: boolean;
  /** Why the connection was cut from this side (watchdog, close), if it was. */
  cutReason: TurnError | undefined;
  /** The listeners this connection served: they are the ones its loss concerns. */
  readonly served: Set<HubListener>;
  resolve(): void;
  reject(error: TurnError): void;
}

/**
 * One `/event` stream per opencode server (and directory), shared by every turn of the process.
 * Each frame is parsed once and routed by session id in O(1); each listener gets one batch per
 * event-loop turn, however many chunks arrived in it.
 * The stream is a subscription: it does not belong to any turn.
 */
export class EventHub {
  /** Frames that were not JSON: skipped, and counted for the host (`adapter.stats`). */
  readonly stats = { malformed: 0 };
  /** The server's clock, learnt from the stamps of its event ids: new user-message ids are made on it. */
  readonly serverClock = new ServerClock();
  readonly pause = new StreamPause(); // held, the stream is not read (a sink behind): backpressure to opencode
  /** Listeners by the session they subscribed to (the root of a family). */
  private readonly routes = new Map<string, Set<HubListener>>();
  private readonly listeners = new Set<HubListener>();
  private readonly watches = new Map<HubListener, ProgressWatch>();
  /** When the stream last brought an event, of any session (`performance.now()`). */
  private lastEventAt = 0;
  /** Every known child session's root: children are routed to whoever follows the root *now*. */
  private readonly rootOf = new Map<string, string>();
  /** Events parsed but not yet handed over: one batch per listener per event-loop turn. */
  private pending = new Map<HubListener, unknown[]>();
  /** Delta frames that continue the last event put in the pending batches are joined onto it. */
  private readonly deltaRun = new DeltaRun();
  private flushTimer: NodeJS.Immediate | undefined;
  private connection: Connection | undefined;
  private closed = false;

  constructor(
    readonly http: OpencodeHttp,
    private readonly options: HubOptions,
  ) {}

  /** Tightens the heartbeat timeout (from the next connection on). */
  expectHeartbeatWithin(ms: number): void {
    this.options.heartbeatTimeoutMs = Math.min(this.options.heartbeatTimeoutMs, ms);
  }

  /** Routes the events of `sessionId` and of its child sessions to `listener` until the returned function is called. */
  subscribe(sessionId: string, listener: HubListener, options: SubscribeOptions = {}): () => void {
    if (options.watchProgress) {
      const watch = new ProgressWatch(this.options.heartbeatTimeoutMs, (heardAt) => this.checkProgress(sessionId, listener, heardAt), this.pause);
      this.watches.set(listener, watch);
    }
    this.deltaRun.end();
    let listeners = this.routes.get(sessionId);
    if (listeners === undefined) this.routes.set(sessionId, (listeners = new Set()));
    listeners.add(listener);
    this.listeners.add(listener);
    this.connection?.served.add(listener);
    return () => {
      this.watches.get(listener)?.stop();
      this.watches.delete(listener);
      this.pending.delete(listener);
      this.listeners.delete(listener);
      // A connection that was cut before lets go of its served set when its run ends; the current one lives on.
      this.connection?.served.delete(listener);
      if (!listeners.delete(listener) || listeners.size > 0) return;
      this.routes.delete(sessionId);
      for (const [child, root] of this.rootOf) if (root === sessionId) this.rootOf.delete(child);
    };
  }

  /**
   * Resolves once the stream is open and `server.connected` has arrived, within `timeoutMs` (default
   * the connect timeout) if a new connection is opened; a connection already opening is shared.
   */
  connect(timeoutMs = this.http.target.connectTimeoutMs): Promise<void> {
    if (this.closed) return Promise.reject(new TurnError("closed", "The adapter was closed."));
    return (this.connection ??= this.open(timeoutMs)).ready;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cut(new TurnError("closed", "The adapter was closed."));
    clearImmediate(this.flushTimer);
    this.pending.clear();
    this.routes.clear();
    this.rootOf.clear();
    this.listeners.clear();
    for (const watch of this.watches.values()) watch.stop();
    this.watches.clear();
    await this.http.close();
  }

  /** Cuts the current connection, if any; its listeners are told `reason`. The next connect() opens a new one. */
  cut(reason: TurnError): void {
    const connection = this.connection;
    if (connection === undefined) return;
    this.connection = undefined;
    connection.cutReason ??= reason;
    connection.controller.abort();
  }

  private open(timeoutMs: number): Connection {
    let resolve!: () => void;
    let reject!: (error: TurnError) => void;
    const ready = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Callers observe `ready` through connect(); an unobserved rejection is not a crash.
    ready.catch(() => undefined);
    const connection: Connection = {
      controller: new AbortController(),
      ready,
      connected: false,
      cutReason: undefined,
      served: new Set(this.listeners),
      resolve,
      reject,
    };
    void this.run(connection, timeoutMs);
    return connection;
  }

  private async run(connection: Connection, timeoutMs: number): Promise<void> {
    const origin = this.http.origin;
    // Timers do not keep the process alive: the connection itself does, while it is wanted.
    const connectTimer = setTimeout(() => {
      this.cut(new TurnError("unreachable", `opencode at ${origin} sent no server.connected within ${timeoutMs} ms`));
    }, timeoutMs).unref();
    const silence = this.options.heartbeatTimeoutMs;
    const watchdog: NodeJS.Timeout = setTimeout(() => {
      if (this.pause.held) return void watchdog.refresh(); // a paused stream is not read: not the server's silence
      this.cut(new TurnError("stream_lost", `The event stream from opencode at ${origin} went silent for ${silence} ms (no heartbeat)`));
    }, silence).unref();
    let ending: TurnError;
    try {
      const body = await this.http.openEvents(connection.controller.signal);
      const frames = new SseFrames();
      for await (const chunk of this.pause.gate(body, connection.controller.signal, watchdog)) {
        // The watchdog counts events, not bytes: comments, frames that are not JSON, or a line that never ends are silence.
        if (this.dispatch(frames.push(chunk as Uint8Array), connection, connectTimer) > 0) watchdog.refresh();
      }
      ending = new TurnError("stream_lost", `The event stream from opencode at ${origin} ended`);
    } catch (error) {
      ending =
        connection.cutReason ??
        (error instanceof TurnError ? error : new TurnError("stream_lost", `The event stream from opencode at ${origin} broke: ${(error as Error).message}`));
    } finally {
      clearTimeout(connectTimer);
      clearTimeout(watchdog);
      if (this.connection === connection) this.connection = undefined;
    }
    if (!connection.connected) {
      connection.reject(ending);
      return;
    }
    // What arrived before the end is handed over before the loss is told; a listener that came after
    // (served by a newer connection) lost nothing.
    this.flush();
    for (const listener of connection.served) if (this.listeners.has(listener)) listener.lost(ending);
  }

  /** Routes the events of `frames`; returns how many were events (JSON) at all. */
  private dispatch(frames: string[], connection: Connection, connectTimer: NodeJS.Timeout): number {
    // One read per chunk, and before `server.connected` lets a turn make its message id.
    const stamp = newestStamp(frames);
    if (stamp !== undefined) this.serverClock.observe(stamp);
    let events = 0;
    for (const data of frames) {
      if (this.isForeign(data)) continue;
      if (this.deltaRun.joined(data)) {
        events++;
        continue;
      }
      const delta = readPartDelta(data);
      const event = delta ?? parseFrame(data);
      if (event === undefined) {
        this.stats.malformed++;
        continue;
      }
      events++;
      const sessionId = sessionIdOf(event);
      if (sessionId === undefined) {
        if ((event as { type?: unknown } | null)?.type === "server.connected" && !connection.connected) {
          connection.connected = true;
          clearTimeout(connectTimer);
          connection.resolve();
        }
        continue;
      }
      const listeners = this.routes.get(this.rootOf.get(sessionId) ?? sessionId) ?? this.adoptChild(event);
      if (listeners === undefined) continue;
      this.deltaRun.start(delta);
      for (const listener of listeners) {
        const batch = this.pending.get(listener);
        if (batch === undefined) this.pending.set(listener, [event]);
        else batch.push(event);
      }
    }
    if (events > 0) this.lastEventAt = performance.now();
    // Chunks that arrive together are handed over together: one machine transition for all of them.
    if (this.pending.size > 0) this.flushTimer ??= setImmediate(this.flush);
    return events;
  }

  private readonly flush = (): void => {
    clearImmediate(this.flushTimer);
    this.flushTimer = undefined;
    const pending = this.pending;
    this.pending = new Map();
    this.deltaRun.end();
    for (const [listener, batch] of pending) {
      this.watches.get(listener)?.heard();
      listener.events(batch);
    }
  };

  /**
   * Nothing came for `sessionId` since `heardAt`. A stream that brought nothing else either is the
   * connection watchdog's to cut; one that lives (heartbeats, other sessions) but not for this
   * session has opencode asked: busy or retrying, the turn runs (a long silent tool); idle, or no
   * answer, the listener is told its stream lost it, so the turn reads what opencode stored.
   */
  private async checkProgress(sessionId: string, listener: HubListener, heardAt: number): Promise<void> {
    // Alive: something came since the session's last event, and lately (opencode beats every 10 s; the timeout is 30 s).
    const quiet = this.options.heartbeatTimeoutMs;
    if (!this.connection?.connected || this.lastEventAt <= heardAt || performance.now() - this.lastEventAt > quiet / 2) return;
    let found: string;
    try {
      if (!(await api.isSessionIdle(this.http, sessionId))) return;
      found = "shows the session idle";
    } catch (error) {
      found = `could not be asked about it (${(error as Error).message})`;
    }
    const watch = this.watches.get(listener);
    if (watch === undefined || watch.heardAt > heardAt) return;
    listener.lost(
      new TurnError("stream_lost", `The event stream from opencode at ${this.http.origin} stayed open but brought nothing for session ${sessionId} for ${quiet} ms, and opencode ${found}`),
    );
  }

  /**
   * A frame of a session nobody follows, told without parsing it: on a busy server most frames are
   * other sessions' deltas, and JSON.parse was most of the hub's time. Session events may reveal a
   * child of a followed session, so they are always parsed.
   */
  private isForeign(data: string): boolean {
    const sessionId = peekSessionId(data);
    if (sessionId === undefined || this.routes.has(sessionId) || this.rootOf.has(sessionId)) return false;
    return !data.includes(SESSION_EVENT);
  }

  /** Routes a child session (found other than by its creation event) to the family of `parentId`. */
  adopt(childId: string, parentId: string): void {
    if (this.routes.has(childId) || this.rootOf.has(childId)) return;
    this.rootOf.set(childId, this.rootOf.get(parentId) ?? parentId);
  }

  /** A new child of a followed session (or of one of its children) joins that family. */
  private adoptChild(event: unknown): Set<HubListener> | undefined {
    const child = childSessionOf(event, { has: (id) => this.routes.has(id) || this.rootOf.has(id) });
    if (child === undefined) return undefined;
    const parentId = (event as { properties: { info: { parentID: string } } }).properties.info.parentID;
    const root = this.rootOf.get(parentId) ?? parentId;
    this.rootOf.set(child, root);
    return this.routes.get(root);
  }
}
