import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PartDelta } from "../../src/opencode/events.js";
import { continuedDelta, readPartDelta } from "../../src/opencode/frames.js";

// The fast read of delta frames against the full parse: JSON.parse, then the schema.

/** Any UTF-16 code unit, lone surrogates and control characters included. */
const unit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));
const anyText = fc.oneof(fc.string({ unit }), fc.string({ unit: "binary" }), fc.string());
/** Ids as opencode makes them, and strings no id should be (empty, escapes, quotes, unicode). */
const anId = fc.oneof(fc.stringMatching(/^(ses|msg|prt)_[0-9a-zA-Z]{1,26}$/), anyText);
const delta = fc.record({
  id: fc.option(fc.oneof(fc.stringMatching(/^evt_[0-9a-f]{12}[0-9A-Za-z]{14}$/), anyText), { nil: undefined }),
  sessionID: anId,
  messageID: anId,
  partID: anId,
  field: fc.oneof(fc.constant("text"), anyText),
  delta: anyText,
});
type Delta = typeof delta extends fc.Arbitrary<infer T> ? T : never;

/** The frame opencode writes for `d`: `JSON.stringify`, id first. */
function opencodeFrame(d: Delta): string {
  const properties = { sessionID: d.sessionID, messageID: d.messageID, partID: d.partID, field: d.field, delta: d.delta };
  return JSON.stringify(d.id === undefined ? { type: "message.part.delta", properties } : { id: d.id, type: "message.part.delta", properties });
}

/** What the full parse makes of a frame: the event if it is JSON and a `PartDelta`, else undefined. */
function fullParse(data: string): unknown {
  let event: unknown;
  try {
    event = JSON.parse(data);
  } catch {
    return undefined;
  }
  return PartDelta.safeParse(event).success ? event : undefined;
}

/** Other spellings of the same event or of others: key orders, extra keys, spaces, `\u` escapes, cut or changed text. */
const otherFrame = fc.tuple(delta, fc.nat(), fc.integer({ min: 0, max: 6 }), anyText).map(([d, at, how, extra]) => {
  const frame = opencodeFrame(d);
  const cut = at % (frame.length + 1);
  switch (how) {
    case 0:
      return JSON.stringify({ properties: { delta: d.delta, field: d.field, partID: d.partID, messageID: d.messageID, sessionID: d.sessionID }, type: "message.part.delta" });
    case 1:
      return frame.replace(/}}$/, `,"extra":${JSON.stringify(extra)}}}`);
    case 2:
      return JSON.stringify(JSON.parse(frame), null, cut % 3);
    case 3:
      return frame.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
    case 4:
      return frame.slice(0, cut) + extra + frame.slice(cut);
    case 5:
      return frame.slice(0, cut) + frame.slice(cut + 1);
    default:
      return `${frame.slice(0, cut)} ${frame.slice(cut)}`;
  }
});

describe("readPartDelta", () => {
  it("reads every delta frame opencode writes, equal to the full parse, whatever the text", () => {
    fc.assert(
      fc.property(delta, (d) => {
        const frame = opencodeFrame(d);
        const full = fullParse(frame);
        const fast = readPartDelta(frame);
        // Empty ids are no PartDelta; ids with escapes are parsed whole: both fall back.
        const plainIds = [d.id ?? "x", d.sessionID, d.messageID, d.partID, d.field || "x"].every((s) => s.length > 0 && JSON.stringify(s) === `"${s}"`);
        if (plainIds) expect(fast).toBeDefined();
        if (fast !== undefined) expect(fast).toEqual(full);
      }),
      { numRuns: 2000 },
    );
  });

  it("on any other frame reads nothing, or exactly what the full parse reads", () => {
    fc.assert(
      fc.property(otherFrame, (frame) => {
        const fast = readPartDelta(frame);
        if (fast !== undefined) expect(fast).toEqual(fullParse(frame));
      }),
      { numRuns: 3000 },
    );
  });

  it("reads the frames of a real opencode capture", () => {
    const frame =
      '{"id":"evt_21778acde001FSP83GVUiERveb","type":"message.part.delta","properties":{"sessionID":"ses_de8875403ffeezcSnvzFpCrxQa","messageID":"msg_21778ac3900177scMH5yrMRHJf","partID":"prt_21778acdb00181ag82z4IEJHiv","field":"text","delta":" from \\"it\\" \\ud83d\\ude00"}}';
    expect(readPartDelta(frame)).toEqual(JSON.parse(frame));
    expect(readPartDelta(frame)?.properties.delta).toBe(' from "it" \u{1F600}');
  });
});

describe("continuedDelta", () => {
  it("is the delta's text exactly when the frame is a delta of the same session, message, part and field", () => {
    fc.assert(
      fc.property(delta, fc.oneof(delta, otherFrame), (first, second) => {
        const previous = readPartDelta(opencodeFrame(first));
        fc.pre(previous !== undefined);
        const frame = typeof second === "string" ? second : opencodeFrame({ ...first, ...(second.id === undefined ? {} : { id: second.id }), delta: second.delta });
        const full = fullParse(frame) as { properties: Record<string, string> } | undefined;
        const same = full !== undefined && ["sessionID", "messageID", "partID", "field"].every((k) => full.properties[k] === previous!.properties[k as "field"]);
        const text = continuedDelta(frame, previous!.properties);
        if (text !== undefined) {
          expect(same).toBe(true);
          expect(text).toBe(full!.properties.delta);
        }
        // The common case, the next delta of the same part as opencode writes it, is always read.
        if (typeof second !== "string" && readPartDelta(frame) !== undefined) expect(text).toBe(second.delta);
      }),
      { numRuns: 3000 },
    );
  });
});
