import { afterEach, describe, expect, it } from "vitest";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { Reply } from "../../src/contract/replies.js";
import { claimSession } from "../../src/host/session-claims.js";
import * as E from "../../testkit/events.js";
import { FakeOpencode, type ReceivedPrompt, type Step } from "../../testkit/fake-opencode.js";

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

const settled = async (promise: Promise<unknown>) => {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
};

describe("claimSession", () => {
  it("lets claims on one session go first come, first served, and claims on other sessions at once", async () => {
    const first = claimSession("http://a", "ses_1");
    const second = claimSession("http://a", "ses_1");
    const third = claimSession("http://a", "ses_1");
    const elsewhere = claimSession("http://b", "ses_1");
    // Only a claim with none held before it is free (its turn needs no wait).
    expect([first.free, second.free, third.free, elsewhere.free]).toEqual([true, false, false, true]);
    expect(await settled(first.ready)).toBe(true);
    expect(await settled(elsewhere.ready)).toBe(true);
    expect(await settled(second.ready)).toBe(false);
    first.release();
    expect(await settled(second.ready)).toBe(true);
    expect(await settled(third.ready)).toBe(false);
    second.release();
    expect(await settled(third.ready)).toBe(true);
    third.release();
    elsewhere.release();
    expect(await settled(claimSession("http://a", "ses_1").ready)).toBe(true);
  });

  it("a claim given up before its turn came still holds the next one until the claims ahead are released", async () => {
    const first = claimSession("http://a", "ses_2");
    const quitter = claimSession("http://a", "ses_2");
    quitter.release();
    const next = claimSession("http://a", "ses_2");
    expect(next.free).toBe(false);
    expect(await settled(next.ready)).toBe(false);
    first.release();
    expect(await settled(next.ready)).toBe(true);
    next.release();
  });

  it("wait() is true once the turn comes, false when given up first (and then the turn is not taken)", async () => {
    const first = claimSession("http://a", "ses_3");
    const second = claimSession("http://a", "ses_3");
    const giveUp = new AbortController();
    const waited = second.wait(giveUp.signal);
    giveUp.abort();
    expect(await waited).toBe(false);
    expect(await first.wait(new AbortController().signal)).toBe(true);
    const aborted = new AbortController();
    aborted.abort();
    expect(await first.wait(aborted.signal)).toBe(false);
    first.release();
    second.release();
  });
});

describe("two adapters of one process on one session", () => {
  const answer = (prompt: ReceivedPrompt, words: string[]): Step[] => E.textTurn(prompt.sessionId, prompt.body.messageID, `msg_a_${prompt.body.messageID}`, words);

  /** Two adapters on one session; `bConfig` is the second one's own. */
  async function twoAdapters(bConfig: { turnTimeoutMs?: number } = {}) {
    // The first prompt's answer waits for the test; the others answer at once.
    const server = await FakeOpencode.start({
      onPrompt: (p, fake) => (fake.prompts.length === 1 ? [{ hold: true }, ...answer(p, ["first"])] : answer(p, ["next"])),
    });
    open.push(server);
    server.sessions.add("ses_shared");
    const make = (config: { turnTimeoutMs?: number } = {}) => {
      const replies: Reply[] = [];
      const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password, sessionId: "ses_shared", connectTimeoutMs: 2000, ...config }, (r) => {
        replies.push(Reply.parse(r));
      });
      open.push(adapter);
      return { adapter, replies };
    };
    return { server, a: make(), b: make(bConfig) };
  }

  it("the second adapter's turn waits for the first's to end before it prompts", async () => {
    const { server, a, b } = await twoAdapters();
    const ra = a.adapter.prompt("one", "t1");
    await expect.poll(() => server.prompts.length).toBe(1);
    const rb = b.adapter.prompt("two", "t2");
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(server.prompts.length).toBe(1);
    server.release();
    expect(await ra).toMatchObject({ outcome: "final", content: "first" });
    expect(await rb).toMatchObject({ outcome: "final", content: "next" });
    expect(server.prompts.map((p) => p.body.parts[0]!.text)).toEqual(["one", "two"]);
  });

  it("cancel() ends a turn that is waiting for the other adapter's turn, before it prompts", async () => {
    const { server, a, b } = await twoAdapters();
    const ra = a.adapter.prompt("one", "t1");
    await expect.poll(() => server.prompts.length).toBe(1);
    const rb = b.adapter.prompt("two", "t2");
    await new Promise((resolve) => setTimeout(resolve, 50));
    await b.adapter.cancel();
    expect(await rb).toMatchObject({ outcome: "error", code: "aborted" });
    expect(b.replies).toEqual([expect.objectContaining({ kind: "error", code: "aborted", trace_id: "t2" })]);
    server.release();
    expect(await ra).toMatchObject({ outcome: "final", content: "first" });
    expect(server.prompts.length).toBe(1);
  });

  it("the turn's AbortSignal ends its wait for the other adapter's turn at once", async () => {
    const { server, a, b } = await twoAdapters();
    const ra = a.adapter.prompt("one", "t1");
    await expect.poll(() => server.prompts.length).toBe(1);
    const controller = new AbortController();
    const rb = b.adapter.prompt("two", "t2", { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    expect(await rb).toMatchObject({ outcome: "error", code: "aborted" });
    expect(server.prompts.length).toBe(1);
    server.release();
    expect(await ra).toMatchObject({ outcome: "final", content: "first" });
  });

  it("the deadline counts the wait: a turn whose deadline passes while it waits ends with timeout, without prompting", async () => {
    const { server, a, b } = await twoAdapters({ turnTimeoutMs: 200 });
    const ra = a.adapter.prompt("one", "t1");
    await expect.poll(() => server.prompts.length).toBe(1);
    const rb = b.adapter.prompt("two", "t2");
    expect(await rb).toMatchObject({ outcome: "error", code: "timeout" });
    expect(b.replies).toEqual([expect.objectContaining({ kind: "error", code: "timeout", trace_id: "t2" })]);
    expect(server.prompts.length).toBe(1);
    server.release();
    expect(await ra).toMatchObject({ outcome: "final", content: "first" });
  });

  it("close() ends a waiting turn with closed, and the other adapter's turns go on", async () => {
    const { server, a, b } = await twoAdapters();
    const ra = a.adapter.prompt("one", "t1");
    await expect.poll(() => server.prompts.length).toBe(1);
    const rb = b.adapter.prompt("two", "t2");
    await new Promise((resolve) => setTimeout(resolve, 50));
    await b.adapter.close();
    expect(await rb).toMatchObject({ outcome: "error", code: "closed" });
    server.release();
    expect(await ra).toMatchObject({ outcome: "final", content: "first" });
    expect(await a.adapter.prompt("three", "t3")).toMatchObject({ outcome: "final", content: "next" });
  });
});
