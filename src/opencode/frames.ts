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

