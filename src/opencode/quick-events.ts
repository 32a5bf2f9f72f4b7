/**
 * Schema checks done by hand on the hot path: the delta guard, and the events of nearly every step
 * of a turn (a message, a part, a status), read by hand before their schema. A schema's parse copies
 * the event and is slow until V8 has optimized it (each schema's checks warm apart): it was most of
 * the codec's 100 to 550 µs a real turn over a process's first 500 turns, and 18 to 27 µs once warm,
 * after thousands; with these readers 20 to 70 and 5 to 8 µs (docs/performance.md, Scale). Each
 * quick reader returns the event itself, and only where the schema's parse would succeed with data
 * equal to it (no default or catch applied); anything else is left to the schema. Property tests
 * (test/opencode/quick-events.test.ts; the delta guard's in test/codec/properties.test.ts) hold
 * them to that.
 */
import type { z } from "zod";
import { MessageUpdated, type PartDelta, PartUpdated, SessionStatus } from "./events.js";

export type MessageUpdatedEvent = z.output<typeof MessageUpdated>;
export type PartUpdatedEvent = z.output<typeof PartUpdated>;
export type SessionStatusEvent = z.output<typeof SessionStatus>;

/** `MessageUpdated.safeParse(event).data`. */
export function messageUpdatedOf(event: unknown): MessageUpdatedEvent | undefined {
  return quickMessageUpdated(event) ?? MessageUpdated.safeParse(event).data;
}

/** `PartUpdated.safeParse(event).data`. */
export function partUpdatedOf(event: unknown): PartUpdatedEvent | undefined {
  return quickPartUpdated(event) ?? PartUpdated.safeParse(event).data;
}

/** `SessionStatus.safeParse(event).data`. */
export function sessionStatusOf(event: unknown): SessionStatusEvent | undefined {
  return quickSessionStatus(event) ?? SessionStatus.safeParse(event).data;
}

export function quickMessageUpdated(event: unknown): MessageUpdatedEvent | undefined {
  if (!isRecord(event) || event.type !== "message.updated" || !isRecord(event.properties)) return undefined;
  const info = event.properties.info;
  if (!isRecord(info) || !isId(info.id) || !isId(info.sessionID) || typeof info.role !== "string" || !isOptional(info.parentID, isString)) return undefined;
  return isOptional(info.time, (time) => isRecord(time) && isOptional(time.completed, isNumber)) ? (event as MessageUpdatedEvent) : undefined;
}

export function quickPartUpdated(event: unknown): PartUpdatedEvent | undefined {
  if (!isRecord(event) || event.type !== "message.part.updated" || !isRecord(event.properties)) return undefined;
  const part = event.properties.part;
  const known =
    isRecord(part) &&
    isId(part.id) &&
    isId(part.sessionID) &&
    isId(part.messageID) &&
    typeof part.type === "string" &&
    isOptional(part.text, isString) &&
    isOptional(part.tool, isString) &&
    isOptional(part.callID, isString) &&
    isOptional(part.cost, isNumber) &&
    isOptional(part.state, (state) => isRecord(state) && typeof state.status === "string" && isOptional(state.input, isRecord)) &&
    isOptional(part.tokens, isWholeTokens);
  return known ? (event as PartUpdatedEvent) : undefined;
}

export function quickSessionStatus(event: unknown): SessionStatusEvent | undefined {
  if (!isRecord(event) || event.type !== "session.status" || !isRecord(event.properties)) return undefined;
  const { sessionID, status } = event.properties;
  const known = isId(sessionID) && isRecord(status) && typeof status.type === "string" && isOptional(status.attempt, isNumber) && isOptional(status.message, isString);
  return known ? (event as SessionStatusEvent) : undefined;
}

/**
 * `PartDelta.safeParse(event).success`, checked by hand: deltas are most of a turn's events and a
 * schema parse per delta cost more than reading the frame. A property test holds the two equal.
 */
export function isPartDelta(event: unknown): event is PartDelta {
  if (!isRecord(event) || event.type !== "message.part.delta" || !isRecord(event.properties)) return false;
  const p = event.properties;
  return (
    isId(p.sessionID) &&
    isId(p.messageID) &&
    isId(p.partID) &&
    typeof p.field === "string" &&
    typeof p.delta === "string"
  );
}

/** Tokens with every count given: the schema's defaults would make its copy differ from the event. */
function isWholeTokens(tokens: unknown): boolean {
  return (
    isRecord(tokens) &&
    isNumber(tokens.input) &&
    isNumber(tokens.output) &&
    isNumber(tokens.reasoning) &&
    isOptional(tokens.cache, (cache) => isRecord(cache) && isNumber(cache.read) && isNumber(cache.write))
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const isString = (value: unknown): value is string => typeof value === "string";
/** As the schemas' `z.number()`: finite. */
const isNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);
const isOptional = (value: unknown, is: (value: unknown) => boolean): boolean => value === undefined || is(value);

function isId(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}
