import { childSessionOf, ModelSwitched, SessionChanged, type ModelRef } from "../opencode/events.js";
import type { ModelChange } from "../contract/replies.js";
import type { EventHub } from "../opencode/event-hub.js";

/**
 * Watches the adapter's session for the adapter's lifetime, also between turns: the model it runs
 * on (every change is kept for the host to reconcile) and its child sessions (a resumed subagent's
 * asks are this adapter's to answer in a later turn).
 */
export class SessionWatch {
  /** Every model change seen on the session, oldest first. */
  readonly modelChanges: ModelChange[] = [];
  /** modelChanges up to here were reported by an earlier turn. */
  private reported = 0;

  /** The model changes since the last call: what a turn's result reports. */
  unreportedChanges(): ModelChange[] {
    const changes = this.modelChanges.slice(this.reported);
    this.reported = this.modelChanges.length;
    return changes;
  }
  private readonly childIds = new Set<string>();
  private model: ModelRef | undefined;
  private sessionId: string | undefined;
  private unwatch: (() => void) | undefined;

  /**
   * `baseline` is the configured model, the one a change is measured against (without one, the first
   * model seen is). `onLost` is told when the stream is lost.
   */
  constructor(
    private readonly hub: EventHub,
    baseline: ModelRef | undefined,
    private readonly onLost: () => void,
  ) {
    this.model = baseline;
  }

  /** The session being watched, once a turn has found or created it. */
  get session(): string | undefined {
    return this.sessionId;
  }

  /** The session's child sessions seen so far. */
  get children(): readonly string[] {
    return [...this.childIds];
  }

  /** Watches `sessionId` from now on (a no-op if it is the one already watched). */
  watch(sessionId: string): void {
    if (this.sessionId === sessionId) return;
    this.unwatch?.();
    this.sessionId = sessionId;
    const family = { has: (id: string) => id === sessionId || this.childIds.has(id) };
    this.unwatch = this.hub.subscribe(sessionId, {
      events: (events) => {
        for (const event of events) {
          const step = trackModel(event, sessionId, this.model);
          this.model = step.model;
          if (step.change) this.modelChanges.push(step.change);
          const child = childSessionOf(event, family);
          if (child !== undefined) this.childIds.add(child);
        }
      },
      lost: () => this.onLost(),
    });
  }

  /** Stops watching; the owner calls it once, on close. */
  stop(): void {
    this.unwatch?.();
    this.unwatch = undefined;
  }
}

// Model tracking: session-wide, not per turn. The watch runs it on every event of its session,
// also between turns, and keeps the changes for the host to reconcile.

export interface ModelTrack {
  readonly model: ModelRef | undefined;
  readonly change: ModelChange | undefined;
}

export function trackModel(event: unknown, sessionId: string, known: ModelRef | undefined): ModelTrack {
  const observed = observedModel(event, sessionId);
  if (observed === undefined || sameModel(known, observed.model)) return { model: known, change: undefined };
  // The first model seen is where the session starts, not a change (opencode 1.15 announces the
  // model at every prompt, the first one included).
  if (known === undefined) return { model: observed.model, change: undefined };
  const { model, source, at } = observed;
  return { model, change: { providerID: model.providerID, modelID: model.id, source, at } };
}

function observedModel(event: unknown, sessionId: string): { model: ModelRef; source: ModelChange["source"]; at: number } | undefined {
  const type = (event as { type?: unknown } | null)?.type;
  if (type === "session.next.model.switched") {
    const result = ModelSwitched.safeParse(event);
    if (!result.success || result.data.properties.sessionID !== sessionId) return undefined;
    const { model, timestamp } = result.data.properties;
    // The OpenAPI document says a number; the live stream sends an ISO string.
    const at = typeof timestamp === "number" ? timestamp : Date.parse(timestamp);
    return { model, source: "model.switched", at: Number.isNaN(at) ? 0 : at };
  }
  if (type === "session.updated") {
    const result = SessionChanged.safeParse(event);
    const info = result.success ? result.data.properties.info : undefined;
    if (info?.id !== sessionId || info.model === undefined) return undefined;
    return { model: info.model, source: "session.updated", at: info.time?.updated ?? 0 };
  }
  return undefined;
}

function sameModel(a: ModelRef | undefined, b: ModelRef): boolean {
  return a !== undefined && a.id === b.id && a.providerID === b.providerID;
}

