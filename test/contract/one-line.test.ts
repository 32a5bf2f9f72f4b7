import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { oneLine } from "../../src/contract/one-line.js";

describe("oneLine", () => {
  it("folds white space and cuts with an ellipsis past the limit", () => {
    expect(oneLine("  a\n\tb  c ", 10)).toBe("a b c");
    expect(oneLine("abcdefghij", 5)).toBe("abcd…");
  });

  it("is never longer than the limit and never holds a line break", () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 50 }), (text, limit) => {
        const line = oneLine(text, limit);
        expect(line.length).toBeLessThanOrEqual(limit);
        expect(line).not.toMatch(/\s{2}|\n/);
      }),
    );
  });
});
