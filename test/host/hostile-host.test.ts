/**
 * A host that does what it should not, and a prompt whose answer never ends, through the whole
 * adapter against the loopback stand-in: the turn still ends, the host's process lives, and no
 * secret reaches the host.
 */
import type { ServerResponse } from "node:http";
import { describe, expect, it, vi } from "vitest";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { Reply, TurnResult } from "../../src/contract/replies.js";
import { REDACTED } from "../../src/contract/redact.js";
import * as E from "../../testkit/events.js";
import { FakeOpencode, type ReceivedPrompt, type Step } from "../../testkit/fake-opencode.js";
import { closedAfterEach } from "../../testkit/closing.js";
import { joinedDeltas } from "../../testkit/replies.js";

const { open, fake } = closedAfterEach();

const answer = (p: ReceivedPrompt, words: string[]): Step[] => E.textTurn(p.sessionId, p.body.messageID, `msg_a_${p.body.messageID}`, words);
const kinds = (replies: Reply[]) => replies.map((r) => `${r.trace_id}:${r.kind}`);

/** Headers, then a body that never ends, one byte every 20 ms (no idle timeout trips). */
function drip(res: ServerResponse): true {
  res.writeHead(200, { "content-type": "application/json" });
  const timer = setInterval(() => res.write(" "), 20);
  res.on("close", () => clearInterval(timer));
  return true;
}

describe("prompt_async sends its headers and then drips forever", () => {
  const dripping = (server: () => FakeOpencode) => (route: string, res: ServerResponse) => {
    if (!route.endsWith("/prompt_async")) return false;
    server().prompts.push({ sessionId: "", body: { messageID: "", parts: [] }, headers: {} });
    return drip(res);
  };

  it("the deadline, cancel() and close() each end the turn within the grace, and opencode is told to stop", async () => {
    const server: FakeOpencode = await fake({ intercept: dripping(() => server) });
    const make = (config: Record<string, unknown> = {}) => {
      const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password, connectTimeoutMs: 1000, ...config }, () => undefined);
      open.push(adapter);
      return adapter;
    };
    // The deadline leaves time to post the prompt (two seconds), so it fires while the answer drips.
    expect(await make({ turnTimeoutMs: 2000 }).prompt("hi")).toMatchObject({ outcome: "error", code: "timeout" });
    expect(server.prompts).toHaveLength(1);
    await vi.waitFor(() => expect(server.aborts).toHaveLength(1));

    const cancelled = make();
    const turn = cancelled.prompt("hi");
    await vi.waitFor(() => expect(server.prompts).toHaveLength(2), { timeout: 5000 });
    await cancelled.cancel();
    expect(await turn).toMatchObject({ outcome: "error", code: "aborted" });
    await vi.waitFor(() => expect(server.aborts).toHaveLength(2));

    const closed = make();
    const next = closed.prompt("hi");
    await vi.waitFor(() => expect(server.prompts).toHaveLength(3), { timeout: 5000 });
    await closed.close();
    expect(await next).toMatchObject({ outcome: "error", code: "closed" });
  });

  it("without a deadline the body timeout ends it, and opencode is told to stop the turn it may have started", async () => {
    const server: FakeOpencode = await fake({ intercept: dripping(() => server) });
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password, bodyTimeoutMs: 300 }, () => undefined);
    open.push(adapter);
    expect(await adapter.prompt("hi")).toMatchObject({ outcome: "error", code: "unreachable", error: expect.stringContaining("prompt_async") });
    await vi.waitFor(() => expect(server.aborts).toHaveLength(1));
  });

  it("close() does not wait for an abort whose answer drips forever: requests still in flight are cut", async () => {
    const server: FakeOpencode = await fake({
      intercept: (route, res) => {
        if (route.endsWith("/abort")) server.aborts.push(route);
        return (route.endsWith("/prompt_async") || route.endsWith("/abort")) && drip(res);
      },
    });
    // Without a cut, close() would wait for the abort's body timeout (a minute).
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password, connectTimeoutMs: 1000 }, () => undefined);
    const turn = adapter.prompt("hi");
    await vi.waitFor(() => expect(server.requests.some((r) => r.url.includes("/prompt_async"))).toBe(true), { timeout: 5000 });
    await adapter.close();
    expect(await turn).toMatchObject({ outcome: "error", code: "closed" });
    expect(server.aborts).toHaveLength(1);
  });
});

describe("a sink that never settles", () => {
  it("close() resolves; the running, queued and later prompts all answer `closed` without waiting for the sink", async () => {
    const server = await fake({ onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), ...answer(p, ["stuck"]).slice(1)] });
    const seen: Reply[] = [];
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password, connectTimeoutMs: 2000 }, (reply) => {
      seen.push(reply);
      return new Promise<void>(() => undefined);
    });
    open.push(adapter);
    const running = adapter.prompt("one", "t1");
    const queued = adapter.prompt("two", "t2");
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    await adapter.close();
    const later = await adapter.prompt("three", "t3");
    expect(later).toMatchObject({ trace_id: "t3", outcome: "error", code: "closed" });
    // The first turn had its answer (the sink holds its first delta forever); the second never ran.
    expect(await running).toMatchObject({ trace_id: "t1", outcome: "final", content: "stuck" });
    expect(await queued).toMatchObject({ trace_id: "t2", outcome: "error", code: "closed" });
    expect(server.prompts).toHaveLength(1);
    // The sink was never called twice at once.
    expect(seen).toHaveLength(1);
  });
});

describe("a sink that prompts its own adapter", () => {
  it("awaiting prompt() inside the sink is refused with an error, not a deadlock; its reply comes after the running turn's", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["a", "b"]) });
    const replies: Reply[] = [];
    let nested: TurnResult | undefined;
    const adapter: OpenCodeAdapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, async (reply) => {
      replies.push(reply);
      if (reply.trace_id === "outer" && reply.kind === "delta" && nested === undefined) nested = await adapter.prompt("inner", "inner");
    });
    open.push(adapter);
    expect(await adapter.prompt("outer", "outer")).toMatchObject({ outcome: "final", content: "ab" });
    expect(nested).toMatchObject({ trace_id: "inner", outcome: "error", code: "bad_request", error: expect.stringContaining("inside this adapter's sink") });
    expect(TurnResult.parse(nested)).toMatchObject({ model_changes: [] });
    await vi.waitFor(() => expect(kinds(joinedDeltas(replies))).toEqual(["outer:delta", "outer:final", "inner:error"]));
    expect(server.prompts).toHaveLength(1);
  });

  it("a prompt() made once the sink has returned (deferred) runs as the next turn", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, [String(p.body.parts[0]?.text)]) });
    const replies: Reply[] = [];
    let next: Promise<TurnResult> | undefined;
    const adapter: OpenCodeAdapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, (reply) => {
      replies.push(reply);
      if (reply.kind === "final" && reply.trace_id === "first") setImmediate(() => (next = adapter.prompt("second", "second")));
    });
    open.push(adapter);
    await adapter.prompt("first", "first");
    await vi.waitFor(() => expect(next).toBeDefined());
    expect(await next).toMatchObject({ outcome: "final", content: "second" });
  });

  it("a permission policy that awaits prompt() on its own adapter is refused too, and the turn goes on", async () => {
    const server = await fake({
      onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), E.permissionAsked(p.sessionId, "per_1"), { hold: true }, ...answer(p, ["done"]).slice(1)],
    });
    let nested: TurnResult | undefined;
    const adapter: OpenCodeAdapter = new OpenCodeAdapter(
      {
        baseUrl: server.url,
        password: server.password,
        permissions: async () => {
          nested = await adapter.prompt("from the policy", "nested");
          return "once" as const;
        },
      },
      () => undefined,
    );
    open.push(adapter);
    const turn = adapter.prompt("hi");
    await vi.waitFor(() => expect(server.permissionReplies).toEqual([{ id: "per_1", body: { reply: "once" } }]));
    server.release();
    expect(await turn).toMatchObject({ outcome: "final", content: "done" });
    expect(nested).toMatchObject({ outcome: "error", code: "bad_request", error: expect.stringContaining("sink or policy") });
  });

  it("another adapter's sink may prompt this one and await it", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, [String(p.body.parts[0]?.text)]) });
    const other = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, () => undefined);
    let relayed: TurnResult | undefined;
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, async (reply) => {
      if (reply.kind === "final") relayed = await other.prompt(`relay ${reply.content}`);
    });
    open.push(other, adapter);
    await adapter.prompt("x");
    expect(relayed).toMatchObject({ outcome: "final", content: "relay x" });
  });
});

describe("a sink that throws while the logger is broken", () => {
  it("no unhandled rejection, and the sink still gets every reply, the terminal one included", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["x", "y"]) });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const detached = { prefix: "log", warn(this: { prefix: string }, message: string) { return `${this.prefix.length}${message}`; } };
      const throwers: Array<() => never> = [
        () => { throw new Error("host bug"); },
        () => { throw null; },
        () => { throw Object.defineProperty(new Error(), "message", { get() { throw new Error("nested"); } }); },
      ];
      for (const logger of [{}, { warn: detached.warn }, { warn: () => { throw new Error("logger down"); } }]) {
        for (const thrower of throwers) {
          const replies: Reply[] = [];
          const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, (reply) => {
            replies.push(reply);
            thrower();
          }, { logger: logger as never });
          open.push(adapter);
          expect(await adapter.prompt("hi", "t")).toMatchObject({ outcome: "final", content: "xy" });
          expect(joinedDeltas(replies).map((r) => r.kind)).toEqual(["delta", "final"]);
        }
      }
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("a policy that throws something odd is rejected and logged, the turn goes on", async () => {
    const server = await fake({
      onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), E.permissionAsked(p.sessionId, "per_1"), { hold: true }, ...answer(p, ["done"]).slice(1)],
    });
    const warnings: string[] = [];
    const adapter = new OpenCodeAdapter(
      { baseUrl: server.url, password: server.password, permissions: () => { throw null; } },
      () => undefined,
      { logger: { warn: (m: string) => warnings.push(m) } },
    );
    open.push(adapter);
    const turn = adapter.prompt("hi");
    await vi.waitFor(() => expect(server.permissionReplies).toHaveLength(1));
    server.release();
    expect(await turn).toMatchObject({ outcome: "final", content: "done" });
    expect(server.permissionReplies).toEqual([{ id: "per_1", body: { reply: "reject", message: expect.any(String) } }]);
    expect(warnings).toEqual([expect.stringContaining("the permission policy threw")]);
  });
});

describe("secrets in what reaches the host", () => {
  it("a tool that prints the server password (its environment) shows it redacted in tool replies; logs are redacted too", async () => {
    const password = "env-Secret-123";
    const server = await fake({
      password,
      onPrompt: (p) => [
        E.userMessage(p.sessionId, p.body.messageID),
        E.assistantMessage(p.sessionId, "msg_a", p.body.messageID),
        E.toolPart(p.sessionId, "msg_a", "prt_tool", "call_1", "bash", { status: "running", input: { command: `echo ${password}` } }),
        E.toolPart(p.sessionId, "msg_a", "prt_tool", "call_1", "bash", { status: "completed", input: { command: `echo ${password}` }, output: `OPENCODE_SERVER_PASSWORD=${password}\n` }),
        ...answer(p, ["ok"]).slice(1),
      ],
    });
    const replies: Reply[] = [];
    const warnings: string[] = [];
    const adapter = new OpenCodeAdapter(
      { baseUrl: server.url, password },
      (reply) => {
        replies.push(reply);
        if (reply.kind === "tool_result") throw new Error(`sink failed on ${password}`);
      },
      { logger: { warn: (m: string) => warnings.push(m) } },
    );
    open.push(adapter);
    expect(await adapter.prompt("hi")).toMatchObject({ outcome: "final" });
    const text = JSON.stringify([replies, warnings]);
    expect(replies.map((r) => r.kind)).toEqual(["tool_call", "tool_result", "delta", "final"]);
    expect(text).toContain(REDACTED);
    expect(text).not.toContain(password);
  });
});
