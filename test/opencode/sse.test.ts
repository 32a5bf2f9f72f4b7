import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_EVENT_CHARS, SseFrames } from "../../src/opencode/sse.js";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("SSE framing properties", () => {
  const data = fc.string({ maxLength: 40, unit: fc.constantFrom("a", "{", "}", '"', ":", " ", "é", "世", "🎉", "\\") });

  it("every frame comes out whole and once, however the bytes are split", () => {
    fc.assert(
      fc.property(fc.array(data, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 30 }), fc.constantFrom("\n", "\r\n"), (frames, cuts, eol) => {
        const wire = Buffer.from(frames.map((f) => `: comment${eol}data: ${f}${eol}${eol}`).join(""), "utf8");
        const positions = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const reader = new SseFrames();
        const out: string[] = [];
        let from = 0;
        for (const at of [...positions, wire.length]) {
          out.push(...reader.push(wire.subarray(from, at)));
          from = at;
        }
        expect(out).toEqual(frames);
      }),
      { numRuns: 500 },
    );
  });
});

describe("SSE framing", () => {
  it("a character split across chunks is decoded whole, and a frame comes out only once it is complete", () => {
    const frames = new SseFrames();
    const wire = bytes('data: {"t":"é"}\n\n');
    const at = wire.indexOf(0xc3) + 1;
    expect(frames.push(wire.subarray(0, at))).toEqual([]);
    expect(frames.push(wire.subarray(at, wire.length - 1))).toEqual([]);
    expect(frames.push(wire.subarray(wire.length - 1))).toEqual(['{"t":"é"}']);
  });

  it("the data lines of one event are joined; comments and events without data give no frame", () => {
    expect(new SseFrames().push(bytes(": ping\n\ndata: a\ndata: b\n\n"))).toEqual(["a\nb"]);
  });

  it("the default cap is 16 MiB characters", () => {
    expect(MAX_EVENT_CHARS).toBe(16 * 1024 * 1024);
  });

  it("the SSE layer holds at most the cap for an unfinished event, whatever arrives", () => {
    const cap = 4096;
    const frames = new SseFrames(cap);
    const encoder = new TextEncoder();
    expect(frames.push(encoder.encode('data: {"ok":1}\n\ndata: '))).toEqual(['{"ok":1}']);
    let fed = 0;
    const feed = () => {
      for (;;) {
        frames.push(encoder.encode("b".repeat(1000)));
        fed += 1000;
      }
    };
    expect(feed).toThrow(/longer than 4096 characters/);
    // It gave up within one chunk past the cap: it never held more.
    expect(fed).toBeLessThanOrEqual(cap);
    // Many data lines of one event count together.
    const lines = new SseFrames(cap);
    expect(() => {
      for (let i = 0; i < 100; i++) lines.push(encoder.encode(`data: ${"c".repeat(100)}\n`));
    }).toThrow(/longer than/);
  });
});
