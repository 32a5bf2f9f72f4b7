import { PassThrough, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { writeOrWait } from "../../src/contract/backpressure.js";

/** A stream that takes one chunk, then asks the writer to wait until `release()`. */
function slowStream() {
  const taken: string[] = [];
  let release!: () => void;
  const stream = new Writable({
    highWaterMark: 1,
    write(chunk, _encoding, callback) {
      taken.push(String(chunk));
      release = callback;
    },
  });
  return { stream, taken, release: () => release() };
}

describe("writeOrWait", () => {
  it("answers true at once, without a promise, when the stream takes the data", () => {
    const stream = new PassThrough();
    expect(writeOrWait(stream, "line\n")).toBe(true);
    expect(String(stream.read())).toBe("line\n");
  });

  it("waits for the drain when the stream is full, then answers true", async () => {
    const { stream, taken, release } = slowStream();
    const written = writeOrWait(stream, "a");
    expect(written).toBeInstanceOf(Promise);
    let settled = false;
    void (written as Promise<boolean>).then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    release();
    await expect(written).resolves.toBe(true);
    expect(taken).toEqual(["a"]);
  });

  it("answers false when the signal aborts the wait, and at once for a destroyed stream", async () => {
    const { stream } = slowStream();
    const controller = new AbortController();
    const written = writeOrWait(stream, "a", controller.signal);
    controller.abort();
    await expect(written).resolves.toBe(false);
    stream.destroy();
    await expect(writeOrWait(stream, "b")).resolves.toBe(false);
  });
});
