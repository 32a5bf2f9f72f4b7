import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { displayWidth, oneLine } from "../../src/contract/one-line.js";

const graphemes = (text: string) => Array.from(new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(text), ({ segment }) => segment);

describe("oneLine", () => {
  it("folds white space and cuts with an ellipsis past the limit", () => {
    expect(oneLine("  a\n\tb  c ", 10)).toBe("a b c");
    expect(oneLine("abcdefghij", 5)).toBe("abcd…");
  });

  it("counts columns, a wide character two, and cuts between graphemes, never inside one", () => {
    expect(oneLine("你好世界", 8)).toBe("你好世界");
    expect(oneLine("你好世界", 7)).toBe("你好世…");
    expect(oneLine("你好世界", 6)).toBe("你好…");
    expect(oneLine("✅ shipped it", 6)).toBe("✅ sh…");
    // A surrogate pair, a letter with its accent, a joined emoji: kept whole or left out whole.
    expect(oneLine("𝐀𝐁𝐂𝐃", 3)).toBe("𝐀𝐁…");
    expect(oneLine("e\u0301e\u0301e\u0301e\u0301", 3)).toBe("e\u0301e\u0301…");
    expect(oneLine("👨‍👩‍👧👨‍👩‍👧👨‍👩‍👧", 5)).toBe("👨‍👩‍👧👨‍👩‍👧…");
  });

  it("never takes more columns than the limit, never holds a line break, and keeps whole graphemes of the text", () => {
    const text = fc.oneof(fc.string(), fc.string({ unit: "grapheme" }), fc.string({ unit: "binary" }));
    fc.assert(
      fc.property(text, fc.integer({ min: 1, max: 50 }), (text, limit) => {
        const line = oneLine(text, limit);
        expect(displayWidth(line)).toBeLessThanOrEqual(limit);
        expect(line).not.toMatch(/\s{2}|\n/);
        const folded = text.replace(/\s+/g, " ").trim();
        if (line === folded) return;
        const kept = graphemes(line.slice(0, -1));
        expect(line.endsWith("…")).toBe(true);
        expect(graphemes(folded).slice(0, kept.length)).toEqual(kept);
      }),
    );
  });
});

describe("displayWidth", () => {
  it("is a column per ASCII character, two per wide character or emoji, none for marks and joiners", () => {
    expect(displayWidth("")).toBe(0);
    expect(displayWidth("hello")).toBe(5);
    expect(displayWidth("你好")).toBe(4);
    expect(displayWidth("한국어")).toBe(6);
    expect(displayWidth("ｆｕｌｌ")).toBe(8);
    expect(displayWidth("✅🚀")).toBe(4);
    expect(displayWidth("❤️")).toBe(2);
    expect(displayWidth("❤")).toBe(1);
    expect(displayWidth("🇫🇷")).toBe(2);
    expect(displayWidth("1️⃣")).toBe(2);
    expect(displayWidth("👨‍👩‍👧")).toBe(2);
    expect(displayWidth("e\u0301")).toBe(1);
    expect(displayWidth("\u200b")).toBe(0);
    expect(displayWidth("café ☕")).toBe(7);
  });
});

describe("on a Node built without Intl (no grapheme segmenter)", () => {
  it("counts code points as graphemes: wide characters are still two columns, and a surrogate pair is never cut", async () => {
    vi.stubGlobal("Intl", undefined);
    vi.resetModules();
    try {
      const bare = await import("../../src/contract/one-line.js");
      expect(bare.displayWidth("你好 ok")).toBe(7);
      expect(bare.oneLine("𝐀𝐁𝐂𝐃", 3)).toBe("𝐀𝐁…");
      expect(bare.oneLine("你好世界", 6)).toBe("你好…");
    } finally {
      vi.unstubAllGlobals();
      vi.resetModules();
    }
  });
});
