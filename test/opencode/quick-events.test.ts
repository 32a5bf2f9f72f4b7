/**
 * The quick readers of the hot events (src/opencode/quick-events.ts): wherever one takes an event, its
 * schema's parse takes it too, with data equal to it; and they take every message, part and status
 * real opencode sent in the recordings, so the fast path is the one a turn really goes through.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createParser } from "eventsource-parser";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { MessageUpdated, PartUpdated, SessionStatus } from "../../src/opencode/events.js";
import { messageUpdatedOf, partUpdatedOf, quickMessageUpdated, quickPartUpdated, quickSessionStatus, sessionStatusOf } from "../../src/opencode/quick-events.js";
import { RECORDINGS_DIR, VOCABULARY_RECORDINGS_DIR } from "../../testkit/recordings.js";

// What a field may hold instead of what the schema wants: every JSON kind, the numbers JSON cannot
// carry (NaN, infinities), a missing value.
const other = fc.oneof(
  fc.string({ maxLength: 3 }),
  fc.constant(""),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(fc.string({ maxLength: 2 }), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 2 }), fc.string({ maxLength: 2 }), { maxKeys: 2 }),
);
/** Mostly what the schema wants, sometimes anything else. */
const mostly = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ arbitrary: valid, weight: 9 }, { arbitrary: other, weight: 1 });
/** Keys that may be missing (but `always`, which are there, if mostly with what the schema wants), and one the schema does not name. */
const loose = <T extends Record<string, fc.Arbitrary<unknown>>>(shape: T, always: Array<keyof T & string> = []) => fc.record({ ...shape, extra: other }, { requiredKeys: always });
const id = fc.string({ minLength: 1, maxLength: 4 });
const count = fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.double({ min: 0, max: 1 }));

/** An event of `type`: its type and properties mostly as opencode sends them. */
const event = (type: string, properties: fc.Arbitrary<unknown>) => loose({ type: mostly(fc.constant(type)), properties: mostly(properties) }, ["type", "properties"]);

const info = loose(
  {
    id: mostly(id),
    sessionID: mostly(id),
    role: mostly(fc.constantFrom("user", "assistant")),
    parentID: mostly(id),
    time: mostly(loose({ created: count, completed: mostly(count) })),
  },
  ["id", "sessionID", "role"],
);
const messageUpdated = event("message.updated", loose({ info: mostly(info) }, ["info"]));

const toolState = loose(
  {
    status: mostly(fc.constantFrom("pending", "running", "completed", "error")),
    input: mostly(fc.dictionary(fc.string({ maxLength: 3 }), other, { maxKeys: 2 })),
    output: other,
    error: other,
  },
  ["status"],
);
const cache = loose({ read: mostly(count), write: mostly(count) }, ["read", "write"]);
const tokens = loose({ input: mostly(count), output: mostly(count), reasoning: mostly(count), cache: mostly(cache) }, ["input", "output", "reasoning"]);
const part = loose(
  {
    id: mostly(id),
    sessionID: mostly(id),
    messageID: mostly(id),
    type: mostly(fc.constantFrom("text", "reasoning", "tool", "step-start", "step-finish")),
    text: mostly(fc.string({ maxLength: 4 })),
    tool: mostly(fc.constantFrom("bash", "task")),
    callID: mostly(id),
    cost: mostly(count),
    state: mostly(toolState),
    tokens: mostly(tokens),
  },
  ["id", "sessionID", "messageID", "type"],
);
const partUpdated = event("message.part.updated", loose({ part: mostly(part) }, ["part"]));

const status = loose(
  { type: mostly(fc.constantFrom("idle", "busy", "retry")), attempt: mostly(fc.integer({ min: 1, max: 9 })), message: mostly(fc.string({ maxLength: 4 })), next: count },
  ["type"],
);
const sessionStatus = event("session.status", loose({ sessionID: mostly(id), status: mostly(status) }, ["sessionID", "status"]));

/** `exact`: a schema with no default or catch, whose parse the quick reader matches on every event. */
type Reader = { name: string; schema: z.ZodType; quick: (event: unknown) => unknown; of: (event: unknown) => unknown; events: fc.Arbitrary<unknown>; exact: boolean };
const READERS: Reader[] = [
  { name: "message.updated", schema: MessageUpdated, quick: quickMessageUpdated, of: messageUpdatedOf, events: messageUpdated, exact: false },
  { name: "message.part.updated", schema: PartUpdated, quick: quickPartUpdated, of: partUpdatedOf, events: partUpdated, exact: false },
  { name: "session.status", schema: SessionStatus, quick: quickSessionStatus, of: sessionStatusOf, events: sessionStatus, exact: true },
];

describe.each(READERS)("the quick reader of $name", ({ schema, quick, of, events, exact }) => {
  it("takes only what its schema takes, as its schema reads it; what it leaves, the schema reads", () => {
    let taken = 0;
    let left = 0;
    fc.assert(
      fc.property(fc.oneof({ arbitrary: events, weight: 8 }, { arbitrary: fc.jsonValue(), weight: 1 }), (value) => {
        const parsed = schema.safeParse(value);
        const read = quick(value);
        if (read !== undefined) {
          taken++;
          expect(parsed.success).toBe(true);
          expect(read).toEqual(parsed.data);
        } else if (parsed.success) left++;
        expect(of(value)).toEqual(parsed.success ? parsed.data : undefined);
      }),
      { numRuns: 3000 },
    );
    // The quick path is taken often; the schema's is left what its defaults and catches would change.
    expect(taken).toBeGreaterThan(300);
    if (exact) expect(left).toBe(0);
    else expect(left).toBeGreaterThan(20);
  });
});

/** Every frame of every recording and capture of real opencode in the repository. */
function recordedEvents(): Array<{ type: string }> {
  const dirs = [RECORDINGS_DIR, VOCABULARY_RECORDINGS_DIR, new URL("../codec/captures/", import.meta.url)];
  const events: Array<{ type: string }> = [];
  for (const dir of dirs) {
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".sse"))) {
      createParser({ onEvent: (e) => events.push(JSON.parse(e.data)) }).feed(readFileSync(new URL(file, dir), "utf8"));
    }
  }
  return events;
}

describe("the quick readers on real opencode's events", () => {
  it("take every message, part and status opencode 1.18.33 sent that the schema takes", () => {
    const events = recordedEvents();
    for (const { name, schema, quick } of READERS) {
      const ofType = events.filter((e) => e.type === name && schema.safeParse(e).success);
      expect(ofType.length, name).toBeGreaterThan(20);
      expect(ofType.filter((e) => quick(e) === undefined), name).toEqual([]);
    }
  });
});
