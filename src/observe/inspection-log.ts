/**
 * XState's inspection events as JSON lines, to read offline. Inspection events hold live objects
 * (actor references that point at each other, Maps and Sets in the codec's state, errors), so each is
 * copied into plain JSON first: references become ids, cycles and secrets are cut.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import type { InspectionEvent } from "xstate";

/** One line of an inspection log. */
export interface InspectionRecord {
  type: InspectionEvent["type"];
  /** Milliseconds since the log was opened. */
  at: number;
  rootId: string;
  /** The actor the event is about (XState's session id, unique within a turn's actor system) and its id in the machine. */
  actor: string;
  actorId: string | undefined;
  [key: string]: unknown;
}

/** Keys whose values never leave the process, wherever they sit. */
const SECRET = /^(password|authorization|api[-_]?key|secret|token)$/i;
/** Deeper than the deepest opencode event the codec reads; anything below is cut rather than walked. */
const MAX_DEPTH = 16;

/** `value` as JSON: actor references as their ids, Maps as objects, Sets as arrays, errors as their name and message. */
export function toJsonSafe(value: unknown, depth = 0, seen: Set<object> = new Set()): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "bigint") return value.toString();
  if (typeof value !== "object") return undefined;
  if (isActorRef(value)) return { actor: value.sessionId };
  if (seen.has(value)) return "[circular]";
  if (depth >= MAX_DEPTH) return "[too deep]";
  seen.add(value);
  try {
    if (value instanceof Error) {
      const code = (value as { code?: unknown }).code;
      return { name: value.name, message: value.message, ...(typeof code === "string" ? { code } : {}) };
    }
    if (Array.isArray(value) || value instanceof Set) return [...value].map((item) => toJsonSafe(item, depth + 1, seen) ?? null);
    const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
    const out: Record<string, unknown> = {};
    for (const [key, item] of entries) {
      const name = String(key);
      const safe = SECRET.test(name) ? "[redacted]" : toJsonSafe(item, depth + 1, seen);
      if (safe !== undefined) out[name] = safe;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

function isActorRef(value: object): value is { sessionId: string } {
  return typeof (value as { sessionId?: unknown }).sessionId === "string" && typeof (value as { send?: unknown }).send === "function";
}

/** The inspection event as a plain record: what happened, to which actor, and the data that goes with it. */
export function inspectionRecord(event: InspectionEvent, at: number): InspectionRecord {
  const actor = event.actorRef as { sessionId: string; id?: string };
  const base: InspectionRecord = { type: event.type, at, rootId: event.rootId, actor: actor.sessionId, actorId: actor.id };
  switch (event.type) {
    case "@xstate.actor": {
      const parent = (event.actorRef as { _parent?: { sessionId: string } })._parent;
      return { ...base, parent: parent?.sessionId };
    }
    case "@xstate.event":
      return { ...base, source: event.sourceRef?.sessionId, event: toJsonSafe(event.event) };
    case "@xstate.snapshot": {
      const { status, value, context, output, error } = event.snapshot as { status?: string; value?: unknown; context?: unknown; output?: unknown; error?: unknown };
      return { ...base, event: event.event.type, snapshot: toJsonSafe({ status, value, context, output, error }) };
    }
    case "@xstate.microstep": {
      const transitions = event._transitions.map((t) => ({
        event: t.eventType,
        source: t.source.id,
        targets: (t.target ?? []).map((node) => node.id),
      }));
      return { ...base, event: event.event.type, value: toJsonSafe((event.snapshot as { value?: unknown }).value), transitions };
    }
    case "@xstate.action":
      return { ...base, action: { type: event.action.type, params: toJsonSafe(event.action.params) } };
    default:
      return base;
  }
}

/**
 * Writes every inspection event to a file, one JSON line each, as it happens: pass `log.inspect` as
 * `AdapterOptions.inspect`. A failing write never disturbs the turn: logging stops and `close()` throws it.
 */
export class InspectionLog {
  private readonly openedAt = performance.now();
  private failure: unknown;

  private constructor(private readonly fd: number) {}

  static toFile(path: string): InspectionLog {
    return new InspectionLog(openSync(path, "w"));
  }

  readonly inspect = (event: InspectionEvent): void => {
    if (this.failure !== undefined) return;
    try {
      const at = Math.round((performance.now() - this.openedAt) * 10) / 10;
      writeSync(this.fd, `${JSON.stringify(inspectionRecord(event, at))}\n`);
    } catch (error) {
      this.failure = error;
    }
  };

  close(): void {
    closeSync(this.fd);
    if (this.failure !== undefined) throw this.failure;
  }
}
