import { describe, expect, it } from "vitest";
import { ProgressWatch, StreamPause } from "../../src/opencode/progress-watch.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("StreamPause", () => {
  it("is held while any hold is, and a waiter goes on once the last is released (twice is once)", async () => {
    const pause = new StreamPause();
    const first = pause.hold();
    const second = pause.hold();
    let resumed = false;
    const waiting = pause.released(new AbortController().signal).then(() => (resumed = true));
    first();
    first();
    await sleep(10);
    expect([pause.held, resumed]).toEqual([true, false]);
    second();
    await waiting;
    expect(pause.held).toBe(false);
  });

  it("a waiter ends at once when its stream is cut (the signal aborts)", async () => {
    const pause = new StreamPause();
    pause.hold();
    const cut = new AbortController();
    const waiting = pause.released(cut.signal);
    cut.abort();
    await waiting;
    expect(pause.held).toBe(true);
  });

  it("a lift reads on for its time whatever holds the stream, then holds again", async () => {
    const pause = new StreamPause();
    pause.hold();
    const waiting = pause.released(new AbortController().signal);
    pause.lift(40);
    await waiting;
    expect(pause.held).toBe(false);
    await sleep(60);
    expect(pause.held).toBe(true);
  });

  it("gates a stream: no chunk is pulled while held", async () => {
    const pause = new StreamPause();
    let pulled = 0;
    async function* chunks() {
      for (;;) {
        pulled++;
        yield pulled;
      }
    }
    const refreshed: number[] = [];
    const release = pause.hold();
    const gated = pause.gate(chunks(), new AbortController().signal, { refresh: () => refreshed.push(pulled) });
    expect((await gated.next()).value).toBe(1);
    const next = gated.next();
    await sleep(30);
    expect(pulled).toBe(1);
    release();
    expect((await next).value).toBe(2);
    expect(refreshed).toEqual([1]);
    await gated.return(undefined);
  });
});

describe("ProgressWatch and a paused stream", () => {
  it("a paused period is not the session's silence: the quiet is counted from the resume", async () => {
    const pause = new StreamPause();
    const asked: number[] = [];
    const release = pause.hold();
    const watch = new ProgressWatch(40, async (heardAt) => void asked.push(heardAt), pause);
    try {
      await sleep(150);
      expect(asked).toEqual([]);
      const resumedAt = performance.now();
      release();
      await sleep(25);
      expect(asked).toEqual([]);
      await sleep(100);
      expect(asked.length).toBeGreaterThan(0);
      expect(asked[0]).toBeGreaterThanOrEqual(resumedAt - 1);
    } finally {
      watch.stop();
    }
  });
});
