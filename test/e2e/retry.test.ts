/**
 * Provider retries against real opencode 1.18.33 and 1.15.13: the fault proxy in front of the
 * scripted model answers the first request of a "retry once" prompt with a 429 and
 * `retry-after-ms: 100` (see `faultsOfScript`), so opencode reports a `session.status` retry, waits
 * the 100 ms the header asks (not its default 2 s and more) and asks again, and that request is
 * answered. One server per version; each turn its own session and prompt, so each is refused once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoreReply, Reply, type TurnResult, type Vocabulary } from "../../src/contract/replies.js";
import type { AdapterConfigInput } from "../../src/host/config.js";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { OPENCODE_VERSIONS, startTestOpencode, warmUp, type OpencodeServer } from "../../testkit/opencode-server.js";
import { RETRIED_TEXT, RETRY_AFTER_MS, startScriptedModel, type SplittingScriptedModel } from "../../testkit/scripted-model.js";

type Turn = { result: TurnResult; replies: Reply[]; kinds: Reply["kind"][]; deltas: string };

/** The invariants of both vocabularies: every reply valid, exactly one terminal reply, and it last. */
function expectInvariants({ replies }: Turn): void {
  for (const reply of replies) Reply.parse(reply);
  expect(replies.filter((r) => r.kind === "final" || r.kind === "error")).toHaveLength(1);
  expect(["final", "error"]).toContain(replies.at(-1)?.kind);
}

for (const version of OPENCODE_VERSIONS) describe(`opencode ${version}: a provider retry, live`, () => {
  let model: SplittingScriptedModel;
  let server: OpencodeServer;

  beforeAll(async () => {
    model = await startScriptedModel();
    server = await startTestOpencode({ version, modelUrl: model.url });
    // The first turn on a fresh server takes seconds: not to be counted in the retry's wait.
    await warmUp(server);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await model?.close();
  });

  async function retriedTurn(prompt: string, vocabulary: Vocabulary, config: Partial<AdapterConfigInput> = {}): Promise<Turn> {
    const replies: Reply[] = [];
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password, vocabulary, ...config }, (reply) => void replies.push(reply), {
      logger: { warn: () => undefined },
    });
    try {
      const result = await adapter.prompt(prompt, `t-${vocabulary}`);
      const deltas = replies.flatMap((reply) => (reply.kind === "delta" ? [reply.content] : [])).join("");
      return { result, replies, kinds: replies.map((reply) => reply.kind), deltas };
    } finally {
      await adapter.close();
    }
  }

  /** The refusal and the answered request of `prompt`: opencode asked again after the header's wait. */
  function expectRetriedAfterHeader(prompt: string, refusalsBefore: number): void {
    const refusals = model.refusals.slice(refusalsBefore);
    expect(refusals.map((refusal) => refusal.status)).toEqual([429]);
    const answered = model.log.filter((entry) => entry.lastUserText === prompt && entry.branch !== "title");
    expect(answered.map((entry) => entry.branch)).toEqual(["retry-once"]);
    const waited = answered[0]!.at - refusals[0]!.at;
    expect(waited).toBeGreaterThanOrEqual(RETRY_AFTER_MS - 5);
    // Without the header opencode waits at least 2 s (1.18.33: 2 to 2.5 s) before its first retry.
    expect(waited).toBeLessThan(2_000);
  }

  it("full vocabulary: one retry reply, attempt 1 with the provider's message, before any delta; then the final", async () => {
    const prompt = "retry once [full]";
    const refusalsBefore = model.refusals.length;
    const turn = await retriedTurn(prompt, "full");
    expectInvariants(turn);
    const retries = turn.replies.filter((reply) => reply.kind === "retry");
    expect(retries).toEqual([{ kind: "retry", trace_id: "t-full", attempt: 1, message: expect.stringContaining("scripted rate limit") }]);
    const firstDelta = turn.kinds.indexOf("delta");
    expect(firstDelta).toBeGreaterThan(-1);
    expect(turn.kinds.indexOf("retry")).toBeLessThan(firstDelta);
    expect(turn.result).toMatchObject({ outcome: "final", content: RETRIED_TEXT });
    expect(turn.deltas).toBe(RETRIED_TEXT);
    expect(turn.replies.at(-1)).toEqual({ kind: "final", trace_id: "t-full", content: RETRIED_TEXT });
    expectRetriedAfterHeader(prompt, refusalsBefore);
  }, 30_000);

  it("core vocabulary: the same retried turn gives no retry reply, only the six kinds, and the final", async () => {
    const prompt = "retry once [core]";
    const refusalsBefore = model.refusals.length;
    const turn = await retriedTurn(prompt, "core");
    expectInvariants(turn);
    expect(turn.replies.every((reply) => CoreReply.safeParse(reply).success)).toBe(true);
    expect(turn.kinds).not.toContain("retry");
    expect(turn.result).toMatchObject({ outcome: "final", content: RETRIED_TEXT });
    expect(turn.deltas).toBe(RETRIED_TEXT);
    expect(turn.replies.at(-1)).toEqual({ kind: "final", trace_id: "t-core", content: RETRIED_TEXT });
    expectRetriedAfterHeader(prompt, refusalsBefore);
  }, 30_000);

  it("maxProviderRetries 0: the retry reply, then an honest provider_error naming the provider's message, not a hang", async () => {
    const started = Date.now();
    const turn = await retriedTurn("retry once [cap 0]", "full", { maxProviderRetries: 0 });
    expectInvariants(turn);
    expect(turn.kinds.filter((kind) => kind === "retry")).toHaveLength(1);
    expect(turn.replies.find((reply) => reply.kind === "retry")).toMatchObject({ attempt: 1, message: expect.stringContaining("scripted rate limit") });
    expect(turn.kinds.indexOf("retry")).toBeLessThan(turn.kinds.indexOf("error"));
    expect(turn.result).toMatchObject({
      outcome: "error",
      code: "provider_error",
      error: expect.stringMatching(/failed 1 time in a row.*scripted rate limit/),
    });
    expect(turn.replies.at(-1)).toMatchObject({ kind: "error", code: "provider_error" });
    expect(Date.now() - started).toBeLessThan(20_000);
    // Stopped on opencode too: the session is not left busy (retrying or answering).
    const sessionId = turn.result.session_id;
    expect(sessionId).toMatch(/^ses/);
    const status = async () => ((await (await fetch(`${server.url}/session/status`, { headers: server.headers })).json()) as Record<string, unknown>)[sessionId!];
    await expect.poll(status, { timeout: 5_000 }).toBeUndefined();
  }, 30_000);
});
