import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../src/contract/backoff.js";

describe("backoffDelay", () => {
  it("doubles from the first wait and stops at the cap: the stream reopen's 250, 500, then every second", () => {
    expect([0, 1, 2, 3, 4].map((retry) => backoffDelay({ firstMs: 250, maxMs: 1000 }, retry))).toEqual([250, 500, 1000, 1000, 1000]);
  });

  it("the webhook's default: 250 ms doubling up to 8 s", () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((retry) => backoffDelay({ firstMs: 250, maxMs: 8000 }, retry))).toEqual([250, 500, 1000, 2000, 4000, 8000, 8000]);
  });
});
