import { describe, expect, it } from "vitest";
import { ServerClock, type HostClocks } from "../../src/opencode/server-clock.js";
import { peekEventStamp } from "../../src/opencode/frames.js";

/** Host clocks the test moves by hand: the wall clock may be stepped, the monotonic one only runs forward. */
function fakeClocks(wall: number): HostClocks & { wallMs: number; monotonicMs: number } {
  return {
    wallMs: wall,
    monotonicMs: 1_000,
    wall() {
      return this.wallMs;
    },
    monotonic() {
      return this.monotonicMs;
    },
  };
}

/** The 48-bit stamp of an opencode id (`msg_`/`evt_` + 12 hex). */
const stampOf = (id: string) => Number.parseInt(id.slice(4, 16), 16);
const msOf = (stamp: number) => Math.floor(stamp / 4096);

/** A server whose clock reads `ms`: the stamp of its first id in that millisecond. */
const serverStamp = (ms: number, counter = 1) => (ms % 2 ** 36) * 4096 + counter;

const SERVER_MS = 1_796_185_806_000;
const SECOND = 1_000;

describe("peekEventStamp", () => {
  it("reads the stamp of an event id off the raw frame, as opencode 1.15 and 1.18 write it", () => {
    // Frames as they came from opencode 1.15.13 and 1.18.33.
    expect(peekEventStamp('{"id":"evt_2350455d3001paPMsZGCUg7gk1","type":"server.connected","properties":{}}')).toBe(0x2350455d3001);
    expect(peekEventStamp('{"id":"evt_235047f65001fJCjsMG6XrUt4R","type":"message.updated","properties":{"sessionID":"ses_1"}}')).toBe(0x235047f65001);
    // Its top 36 bits are the server's milliseconds, modulo 2^36: that capture's host (the same
    // machine) read Date.now() = 1796185806350 just after the frame came, 59 ms later.
    expect((1_796_185_806_350 % 2 ** 36) - msOf(0x2350455d3001)).toBe(59);
  });

  it("reads nothing from a frame that has no such id where opencode puts it", () => {
    expect(peekEventStamp('{"id":"evt_0","type":"server.connected","properties":{}}')).toBeUndefined();
    expect(peekEventStamp('{"type":"server.connected","id":"evt_2350455d3001paPMsZGCUg7gk1"}')).toBeUndefined();
    expect(peekEventStamp('{"id":"evt_2350455D3001paPMsZGCUg7gk1","type":"x"}')).toBeUndefined();
    expect(peekEventStamp('{"id":"evt_2350455d30"}')).toBeUndefined();
    expect(peekEventStamp("not json")).toBeUndefined();
  });
});

describe("ServerClock", () => {
  it("tells the server's now from its last stamp plus the monotonic time since, whatever the wall clock says", () => {
    const clocks = fakeClocks(SERVER_MS + 30 * SECOND);
    const clock = new ServerClock(clocks);
    clock.observe(serverStamp(SERVER_MS, 7));
    expect(clock.now()).toBe(serverStamp(SERVER_MS, 0));
    clocks.monotonicMs += 2_500.6;
    clocks.wallMs -= 3_600 * SECOND;
    expect(msOf(clock.now())).toBe(SERVER_MS % 2 ** 36 + 2_500);
  });

  it("keeps the first arrival of a server millisecond: a stamp of the same millisecond that came later tells less", () => {
    const clocks = fakeClocks(SERVER_MS);
    const clock = new ServerClock(clocks);
    clock.observe(serverStamp(SERVER_MS, 1));
    clocks.monotonicMs += 500;
    clock.observe(serverStamp(SERVER_MS, 2));
    expect(msOf(clock.now())).toBe(SERVER_MS % 2 ** 36 + 500);
    clock.observe(serverStamp(SERVER_MS + 499));
    clocks.monotonicMs += 10;
    expect(msOf(clock.now())).toBe(SERVER_MS % 2 ** 36 + 509);
  });

  it("follows the server's stamps across their 48-bit wrap: ids after it sort before opencode's answers again", () => {
    const clocks = fakeClocks(SERVER_MS);
    const clock = new ServerClock(clocks);
    // The last millisecond before the wrap, then the third one after it.
    const beforeWrap = 2 ** 36 - 1;
    clock.observe(serverStamp(beforeWrap, 5));
    const last = stampOf(clock.nextMessageId());
    expect(msOf(last)).toBe(beforeWrap);
    clock.observe(serverStamp(beforeWrap + 3, 1));
    const id = clock.nextMessageId();
    expect(id).toMatch(/^msg_[0-9a-f]{12}[0-9A-Za-z]{14}$/);
    expect(msOf(stampOf(id))).toBe(2);
    clocks.monotonicMs += 10;
    expect(msOf(stampOf(clock.nextMessageId()))).toBe(12);
  });

  it("makes ids on the server's clock, not the host's, whether the host is ahead or behind", () => {
    for (const skew of [30 * SECOND, -30 * SECOND]) {
      const clocks = fakeClocks(SERVER_MS + skew);
      const clock = new ServerClock(clocks);
      clock.observe(serverStamp(SERVER_MS));
      clocks.monotonicMs += 40;
      const id = clock.nextMessageId();
      expect(id).toMatch(/^msg_[0-9a-f]{12}[0-9A-Za-z]{14}$/);
      expect(msOf(stampOf(id))).toBe(SERVER_MS % 2 ** 36 + 40);
    }
  });

  it("sorts its ids after every stamp seen and after its own, strictly increasing, while the wall clock jumps back and forth", () => {
    const clocks = fakeClocks(SERVER_MS);
    const clock = new ServerClock(clocks);
    // The previous turn's answer, in the very millisecond the last event was stamped.
    const answer = `msg_${serverStamp(SERVER_MS, 3).toString(16).padStart(12, "0")}ABCDEFGHIJKLMN`;
    clock.observe(serverStamp(SERVER_MS, 2));
    clock.observe(serverStamp(SERVER_MS, 4));
    const ids: string[] = [];
    for (const step of [-60 * SECOND, 0, 45 * SECOND, -3_600 * SECOND, 0]) {
      clocks.wallMs += step;
      ids.push(clock.nextMessageId());
    }
    expect(ids[0]! > answer).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids.map(stampOf)).size).toBe(ids.length);
    // And they stay on the server's clock: no jump of the host's moved them off it.
    for (const id of ids) expect(msOf(stampOf(id))).toBe(SERVER_MS % 2 ** 36);
  });

  it("an older stamp arriving late does not send ids back before the newest one seen", () => {
    const clocks = fakeClocks(SERVER_MS);
    const clock = new ServerClock(clocks);
    clock.observe(serverStamp(SERVER_MS + 500));
    clock.observe(serverStamp(SERVER_MS));
    expect(stampOf(clock.nextMessageId())).toBe(serverStamp(SERVER_MS + 500) + 1);
  });

  it("before any stamp, uses the host's wall clock (a server that stamps nothing), still strictly increasing", () => {
    const clocks = fakeClocks(SERVER_MS);
    const clock = new ServerClock(clocks);
    const first = clock.nextMessageId();
    expect(stampOf(first)).toBe(serverStamp(SERVER_MS, 0));
    clocks.wallMs -= 10 * SECOND;
    const second = clock.nextMessageId();
    expect(second > first).toBe(true);
  });

  it("gives every id a random tail of its own, across the refills of the random pool", () => {
    const clock = new ServerClock(fakeClocks(SERVER_MS));
    // More ids than one pool holds (256), several times over.
    const tails = Array.from({ length: 2_000 }, () => clock.nextMessageId().slice(16));
    for (const tail of tails) expect(tail).toMatch(/^[0-9A-Za-z]{14}$/);
    expect(new Set(tails).size).toBe(tails.length);
    // Every digit shows up: the tails are not drawn from a few bytes of the pool.
    expect(new Set(tails.join("")).size).toBe(62);
  });
});
