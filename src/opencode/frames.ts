// Reading a raw `/event` frame without parsing it: the hub's hot path.

const SESSION_ID_KEY = '"sessionID":"';
export const SESSION_EVENT = '"type":"session.';

/**
 * The session id of a frame as opencode writes it (`JSON.stringify`: no spaces), if every
 * `"sessionID"` in it names the same session; undefined when unsure. Inside a JSON string every
 * quote is escaped, so `"sessionID":"` can only be a key, never part of a text.
 */
export function peekSessionId(data: string): string | undefined {
  let at = data.indexOf(SESSION_ID_KEY);
  if (at < 0) return undefined;
  let start = at + SESSION_ID_KEY.length;
  let end = data.indexOf('"', start);
  if (end < 0) return undefined;
  const id = data.slice(start, end);
  if (id.includes("\\")) return undefined;
  while ((at = data.indexOf(SESSION_ID_KEY, end)) >= 0) {
    start = at + SESSION_ID_KEY.length;
    end = data.indexOf('"', start);
    if (end - start !== id.length || !data.startsWith(id, start)) return undefined;
  }
  return id;
}

const EVENT_ID_START = '{"id":"evt_';
const STAMP_DIGITS = 12;

/**
 * The 48-bit stamp of a frame's event id (`ms × 4096 + counter` on the server's clock, as its
 * message ids), read off the raw text: opencode (1.15 and 1.18) writes every event as
 * `{"id":"evt_` + 12 lowercase hex digits + random. Undefined for any other frame. Read digit by
 * digit: no slice, no regex, on the hub's hot path.
 */
export function peekEventStamp(data: string): number | undefined {
  if (!data.startsWith(EVENT_ID_START)) return undefined;
  let stamp = 0;
  for (let i = EVENT_ID_START.length; i < EVENT_ID_START.length + STAMP_DIGITS; i++) {
    const code = data.charCodeAt(i);
    // 0-9, then a-f; NaN past the end fails both.
    const digit = code >= 48 && code <= 57 ? code - 48 : code >= 97 && code <= 102 ? code - 87 : -1;
    if (digit < 0) return undefined;
    stamp = stamp * 16 + digit;
  }
  return stamp;
}

/** The newest stamp of a chunk's frames: frames come in id order, so the last frame's that has one. */
export function newestStamp(frames: readonly string[]): number | undefined {
  for (let i = frames.length - 1; i >= 0; i--) {
    const stamp = peekEventStamp(frames[i]!);
    if (stamp !== undefined) return stamp;
  }
  return undefined;
}

/** A `message.part.delta` event as `JSON.parse` makes it of the frame opencode writes. */
export interface RawPartDelta {
  id?: string;
  type: "message.part.delta";
  properties: { sessionID: string; messageID: string; partID: string; field: string; delta: string };
}

const DELTA_ID_START = '{"id":"';
const DELTA_TYPE = '"type":"message.part.delta","properties":{"sessionID":"';
const MESSAGE_KEY = '","messageID":"';
const PART_KEY = '","partID":"';
const FIELD_KEY = '","field":"';
const DELTA_KEY = '","delta":"';
const DELTA_END = '"}}';

/**
 * A delta frame read off its raw text, equal to its `JSON.parse` (a property test holds the two
 * equal), for the layout opencode writes (`JSON.stringify` of `{ id, type, properties: { sessionID,
 * messageID, partID, field, delta } }`, the id optional). Undefined for anything else, which is
 * then parsed whole: other key orders, spaces, extra keys, escapes in an id, an empty id (not a
 * `PartDelta`). Deltas are three quarters of a busy stream, and this reads one several times
 * faster than `JSON.parse` does.
 */
export function readPartDelta(data: string): RawPartDelta | undefined {
  const idEndAt = eventIdEnd(data);
  if (idEndAt < 0) return undefined;
  const at = idEndAt + DELTA_TYPE.length;
  // Unrolled, not a loop over an array of the fields: no object per delta but the event itself.
  const sessionEnd = idEnd(data, at, MESSAGE_KEY);
  if (sessionEnd < 0) return undefined;
  const messageAt = sessionEnd + MESSAGE_KEY.length;
  const messageEnd = idEnd(data, messageAt, PART_KEY);
  if (messageEnd < 0) return undefined;
  const partAt = messageEnd + PART_KEY.length;
  const partEnd = idEnd(data, partAt, FIELD_KEY);
  if (partEnd < 0) return undefined;
  const fieldAt = partEnd + FIELD_KEY.length;
  const fieldEnd = plainStringEnd(data, fieldAt);
  if (fieldEnd < 0 || !data.startsWith(DELTA_KEY, fieldEnd)) return undefined;
  const delta = deltaText(data, fieldEnd + DELTA_KEY.length);
  if (delta === undefined) return undefined;
  const properties = {
    sessionID: data.slice(at, sessionEnd),
    messageID: data.slice(messageAt, messageEnd),
    partID: data.slice(partAt, partEnd),
    field: data.slice(fieldAt, fieldEnd),
    delta,
  };
  // The id is sliced last: most deltas continue the one before and never get here (`continuedDelta`).
  if (idEndAt === 1) return { type: "message.part.delta", properties };
  return { id: data.slice(DELTA_ID_START.length, idEndAt - 2), type: "message.part.delta", properties };
}

/**
 * The text of a delta frame of the same session, message, part and field as `previous`, read off
 * the raw text with no object made (the hub joins it onto `previous`); undefined for any other
 * frame, which is then read whole. Equal to `JSON.parse(data).properties.delta` whenever defined.
 */
export function continuedDelta(data: string, previous: RawPartDelta["properties"]): string | undefined {
  let at = eventIdEnd(data);
  if (at < 0) return undefined;
  at += DELTA_TYPE.length;
  // `previous`'s ids are plain strings (no quote, no escape), so each matches exactly or not at all.
  if (!data.startsWith(previous.sessionID, at) || !data.startsWith(MESSAGE_KEY, (at += previous.sessionID.length))) return undefined;
  at += MESSAGE_KEY.length;
  if (!data.startsWith(previous.messageID, at) || !data.startsWith(PART_KEY, (at += previous.messageID.length))) return undefined;
  at += PART_KEY.length;
  if (!data.startsWith(previous.partID, at) || !data.startsWith(FIELD_KEY, (at += previous.partID.length))) return undefined;
  at += FIELD_KEY.length;
  if (!data.startsWith(previous.field, at) || !data.startsWith(DELTA_KEY, (at += previous.field.length))) return undefined;
  return deltaText(data, at + DELTA_KEY.length);
}

/** Where a delta frame's `"type"` key starts (after its optional plain `"id"`), if the frame starts as one does; else -1. */
function eventIdEnd(data: string): number {
  if (data.startsWith(DELTA_ID_START)) {
    const end = plainStringEnd(data, DELTA_ID_START.length);
    return end >= 0 && data.charCodeAt(end + 1) === 44 /* , */ && data.startsWith(DELTA_TYPE, end + 2) ? end + 2 : -1;
  }
  return data.startsWith(DELTA_TYPE, 1) && data.charCodeAt(0) === 123 /* { */ ? 1 : -1;
}

/** The delta string that starts at `from` and ends the frame (`"}}`), decoded; undefined if the frame does not end so. */
function deltaText(data: string, from: number): string | undefined {
  const end = data.length - DELTA_END.length;
  if (end < from || !data.endsWith(DELTA_END)) return undefined;
  if (plainStringEnd(data, from) === end) return data.slice(from, end);
  // Escapes (or a quote that ends the string early: then this is not the last key, and parsing fails).
  try {
    return JSON.parse(data.slice(from - 1, end + 1)) as string;
  } catch {
    return undefined;
  }
}

/** Where an id (a non-empty plain string, see `PartDelta`) that starts at `from` ends, if `next` follows it; else -1. */
function idEnd(data: string, from: number, next: string): number {
  const end = plainStringEnd(data, from);
  return end > from && data.startsWith(next, end) ? end : -1;
}

/** Where a JSON string that starts at `from` ends (its closing quote), if it holds no escape and no control character; else -1. */
function plainStringEnd(data: string, from: number): number {
  for (let i = from; i < data.length; i++) {
    const code = data.charCodeAt(i);
    if (code === 34 /* " */) return i;
    if (code === 92 /* \ */ || code < 32) return -1;
  }
  return -1;
}

/** A frame's `JSON.parse`, or undefined if it is not JSON (`JSON.parse` itself never returns undefined). */
export function parseFrame(data: string): unknown {
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Joins consecutive delta frames of one part onto one event: its listeners get one event, and a
 * turn makes one reply and one sink call, for a run of text that arrived in one event-loop turn,
 * with no object made per frame. The run's event is the hub's own, read off its frame and seen by
 * no listener yet; the run ends when anything else is routed, its batch is handed over, or a
 * listener comes (which would otherwise get half a run; one that goes takes its batch along). A joined event keeps its first id.
 */
export class DeltaRun {
  private event: RawPartDelta | undefined;

  /** Starts a run at `event`, the event just routed, if it was read off its frame; any other event ends the run. */
  start(event: RawPartDelta | undefined): void {
    this.event = event;
  }

  end(): void {
    this.event = undefined;
  }

  /** Whether `data` continued the run: then its text is joined onto the run's event and it needs no routing. */
  joined(data: string): boolean {
    const event = this.event;
    if (event === undefined) return false;
    const text = continuedDelta(data, event.properties);
    if (text === undefined) return false;
    event.properties.delta += text;
    return true;
  }
}
