/**
 * The end-to-end scenarios: every claim the engine makes about opencode, proven through
 * OpenCodeAdapter against a real `opencode serve` and the offline scripted model. Each version's
 * test file runs the whole list against its own server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpenCodeAdapter, type PromptOptions } from "../../src/host/adapter.js";
import type { AdapterConfigInput } from "../../src/host/config.js";
import { Reply, TurnResult } from "../../src/contract/replies.js";
import { CuttingProxy } from "../../testkit/cutting-proxy.js";
import { freePort, MODEL_ID, OTHER_MODEL_ID, PROVIDER_ID, startTestOpencode, type OpencodeServer, type OpencodeVersion } from "../../testkit/opencode-server.js";
import { DEFAULT_TEXT, startScriptedModel, UNICODE_TEXT, type SplittingScriptedModel } from "../../testkit/scripted-model.js";

type Turn = { result: TurnResult; replies: Reply[] };

export function describeScenarios(version: OpencodeVersion): void {
  describe(`opencode ${version} end to end`, () => {
    let model: SplittingScriptedModel;
    let server: OpencodeServer;
    const adapters: OpenCodeAdapter[] = [];

    beforeAll(async () => {
      model = await startScriptedModel();
      // bash asks for permission, so every tool scenario goes through the permission policy.
      server = await startTestOpencode({ version, modelUrl: model.url, permission: { bash: "ask" } });
    });

    afterAll(async () => {
      await Promise.all(adapters.map((a) => a.close()));
      await server?.stop();
      await model?.close();
    });

    function adapter(config: Partial<AdapterConfigInput> = {}): { adapter: OpenCodeAdapter; replies: Reply[] } {
      const replies: Reply[] = [];
      const created = new OpenCodeAdapter({ baseUrl: server.url, password: server.password, ...config }, (reply) => {
        replies.push(Reply.parse(reply));
      });
      adapters.push(created);
      return { adapter: created, replies };
    }

    async function turn(text: string, config: Partial<AdapterConfigInput> = {}, options: PromptOptions = {}): Promise<Turn & { adapter: OpenCodeAdapter }> {
      const { adapter: a, replies } = adapter(config);
      const result = await a.prompt(text, undefined, options);
      return { adapter: a, result, replies };
    }

    async function api(method: string, path: string, body?: unknown): Promise<Response> {
      return fetch(`${server.url}${path}`, {
        method,
        headers: { ...server.headers, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    }

    async function storedMessages(sessionId: string): Promise<Array<{ info: Record<string, any>; parts: Array<Record<string, any>> }>> {
      return (await api("GET", `/session/${sessionId}/message`)).json() as never;
    }

    const contents = (replies: Reply[], kind: "delta" | "reasoning") =>
      replies.filter((r) => r.kind === kind).map((r) => (r as { content: string }).content).join("");
    const ofKind = <K extends Reply["kind"]>(replies: Reply[], kind: K) => replies.filter((r): r is Extract<Reply, { kind: K }> => r.kind === kind);

    /** The contract's invariants, for every turn. */
    function expectInvariants({ result, replies }: Turn): void {
      expect(TurnResult.parse(result)).toBeTruthy();
      expect(replies.length).toBeGreaterThan(0);
      expect(new Set(replies.map((r) => r.trace_id))).toEqual(new Set([result.trace_id]));
      const terminals = replies.filter((r) => r.kind === "final" || r.kind === "error");
      expect(terminals).toHaveLength(1);
      expect(replies.at(-1)).toBe(terminals[0]);
      if (result.outcome === "final") expect(result.content).toBe(contents(replies, "delta"));
      for (const kind of ["tool_call", "tool_result"] as const) {
        const ids = ofKind(replies, kind).map((r) => r.call_id);
        expect(new Set(ids).size).toBe(ids.length);
      }
    }

    it("1. text: final equals the deltas and the text opencode stored", async () => {
      const t = await turn("say hello");
      expectInvariants(t);
      expect(t.result).toMatchObject({ outcome: "final", content: DEFAULT_TEXT });
      const stored = await storedMessages(t.adapter.sessionId!);
      const assistant = stored.filter((m) => m.info.role === "assistant").at(-1)!;
      expect(assistant.parts.filter((p) => p.type === "text").map((p) => p.text).join("")).toBe(DEFAULT_TEXT);
      expect(t.result.usage?.tokens.output).toBeGreaterThan(0);
    });

    it("1b. multi-byte text split inside characters arrives whole", async () => {
      const cutsBefore = model.cutsInsideCharacters;
      const t = await turn("unicode please");
      // The model's bytes did reach opencode cut inside characters.
      expect(model.cutsInsideCharacters - cutsBefore).toBeGreaterThan(5);
      expectInvariants(t);
      expect(t.result).toMatchObject({ outcome: "final", content: UNICODE_TEXT });
    });

    it("1c. a long answer: thousands of deltas arrive as few replies, final is their exact concatenation", async () => {
      const t = await turn("long answer please");
      expectInvariants(t);
      // opencode sent 3,000 delta events; the hub joins each run that arrives together into one reply.
      expect(ofKind(t.replies, "delta").length).toBeLessThan(1_000);
      expect(t.result.outcome === "final" && t.result.content).toBe(Array.from({ length: 3000 }, (_, i) => ` w${i}`).join(""));
    });

    it("2. reasoning then text: reasoning replies carry it, final does not", async () => {
      const t = await turn("think first");
      expectInvariants(t);
      expect(contents(t.replies, "reasoning")).toBe("Let me think.");
      expect(t.result).toMatchObject({ outcome: "final", content: "Thought it through." });
      expect(t.replies.findIndex((r) => r.kind === "reasoning")).toBeLessThan(t.replies.findIndex((r) => r.kind === "delta"));
    });

    it("3. a tool call then text: one call with the model's arguments, one result with the output", async () => {
      const t = await turn("please use a tool", { permissions: "once" });
      expectInvariants(t);
      expect(ofKind(t.replies, "tool_call")).toEqual([
        { kind: "tool_call", trace_id: t.result.trace_id, tool: "bash", args: { command: "echo hi-from-tool", description: "say hi" }, call_id: "call_1" },
      ]);
      expect(ofKind(t.replies, "tool_result")).toEqual([
        { kind: "tool_result", trace_id: t.result.trace_id, tool: "bash", result: "hi-from-tool\n", success: true, call_id: "call_1" },
      ]);
      expect(t.result).toMatchObject({ outcome: "final", content: "Tool said: hi-from-tool\n" });
    });

    it("3b. two calls in one step: two calls, two results", async () => {
      const t = await turn("two tools please", { permissions: "once" });
      expectInvariants(t);
      expect(ofKind(t.replies, "tool_call").map((r) => [r.call_id, r.args.command])).toEqual([
        ["call_a", "echo one"],
        ["call_b", "echo two"],
      ]);
      expect(ofKind(t.replies, "tool_result").map((r) => [r.call_id, r.result, r.success]).sort()).toEqual([
        ["call_a", "one\n", true],
        ["call_b", "two\n", true],
      ]);
    });

    it("4. an unknown tool is still exactly one call and one result", async () => {
      const t = await turn("call an unknown tool");
      expectInvariants(t);
      const calls = ofKind(t.replies, "tool_call");
      const results = ofKind(t.replies, "tool_result");
      expect(calls).toHaveLength(1);
      expect(results).toHaveLength(1);
      expect(calls[0]!.tool).toBe("no_such_tool");
      expect(results[0]!.call_id).toBe(calls[0]!.call_id);
      expect(String(results[0]!.result)).toContain("no_such_tool");
      expect(t.result.outcome).toBe("final");
    });

    it("5a. permission ask, default policy: the call fails with the host's message and the turn still ends", async () => {
      const t = await turn("please use a tool");
      expectInvariants(t);
      const [result] = ofKind(t.replies, "tool_result");
      expect(result).toMatchObject({ tool: "bash", success: false });
      expect(String(result!.result)).toContain("not allowed by the host's permission policy");
      expect(t.result.outcome).toBe("final");
    });

    it("5b. permission ask, reject without a message: the call fails and opencode stops the turn", async () => {
      const t = await turn("please use a tool", { permissions: async () => ({ reply: "reject" as const }) });
      expectInvariants(t);
      expect(ofKind(t.replies, "tool_result")[0]).toMatchObject({ success: false, result: expect.stringContaining("rejected permission") });
      // The model is not called again: no answer text, and the turn ends with what it has.
      expect(ofKind(t.replies, "delta")).toEqual([]);
      expect(t.result).toMatchObject({ outcome: "final", content: "" });
    });

    it("5c. a callback policy receives the request and its answer is applied", async () => {
      const asked: Array<Record<string, unknown>> = [];
      const t = await turn("please use a tool", {
        permissions: (request) => {
          asked.push(request);
          return "once";
        },
      });
      expectInvariants(t);
      expect(asked).toHaveLength(1);
      expect(asked[0]).toMatchObject({ permission: "bash", patterns: ["echo hi-from-tool"], tool: { callID: "call_1" } });
      expect(ofKind(t.replies, "tool_result")[0]).toMatchObject({ success: true, result: "hi-from-tool\n" });
    });

    it("5d. a subagent's permission ask (a child session of ours) is answered too, and the turn ends", async () => {
      const asked: Array<Record<string, unknown>> = [];
      const t = await turn("delegate this please", {
        turnTimeoutMs: 30_000,
        permissions: (request) => {
          asked.push(request);
          return "once";
        },
      });
      expectInvariants(t);
      expect(asked).toHaveLength(1);
      expect(asked[0]!.sessionID).not.toBe(t.adapter.sessionId);
      const [call] = ofKind(t.replies, "tool_call");
      expect(call).toMatchObject({ tool: "task", call_id: "call_task" });
      expect(ofKind(t.replies, "tool_result")[0]).toMatchObject({ tool: "task", success: true });
      expect(String(ofKind(t.replies, "tool_result")[0]!.result)).toContain("hi-from-tool");
      expect(t.result.outcome).toBe("final");
    });

    it("6a. the question tool: the policy's answer reaches the model", async () => {
      const questions: unknown[] = [];
      const t = await turn("ask question now", {
        questions: (request) => {
          questions.push(request);
          return [["yes"]];
        },
      });
      expectInvariants(t);
      expect(questions[0]).toMatchObject({ questions: [{ options: [{ label: "yes" }, { label: "no" }] }] });
      const [call] = ofKind(t.replies, "tool_call");
      expect(call?.tool).toBe("question");
      expect(ofKind(t.replies, "tool_result")[0]).toMatchObject({ tool: "question", success: true });
      expect(String(ofKind(t.replies, "tool_result")[0]!.result)).toContain("yes");
      expect(t.result.outcome).toBe("final");
    });

    it("6b. the question tool: rejected by default, and the turn ends", async () => {
      const t = await turn("ask question now");
      expectInvariants(t);
      expect(ofKind(t.replies, "tool_result")[0]).toMatchObject({ tool: "question", success: false });
      expect(t.result.outcome).toBe("final");
    });

    async function expectIdle(sessionId: string): Promise<void> {
      const status = (await (await api("GET", "/session/status")).json()) as Record<string, unknown>;
      expect(status[sessionId]).toBeUndefined();
    }

    it("7a. cancel through an AbortSignal during a slow stream: aborted, and the session is idle", async () => {
      const { adapter: a, replies } = adapter();
      const controller = new AbortController();
      const pending = a.prompt("slow please", undefined, { signal: controller.signal });
      await expect.poll(() => replies.length, { timeout: 15_000 }).toBeGreaterThan(1);
      controller.abort();
      const result = await pending;
      expectInvariants({ result, replies });
      expect(result).toMatchObject({ outcome: "error", code: "aborted" });
      await expectIdle(a.sessionId!);
    });

    it("7b. cancel() during a slow stream: aborted, and the session is idle", async () => {
      const { adapter: a, replies } = adapter();
      const pending = a.prompt("slow please");
      await expect.poll(() => replies.length, { timeout: 15_000 }).toBeGreaterThan(1);
      await a.cancel();
      const result = await pending;
      expectInvariants({ result, replies });
      expect(result).toMatchObject({ outcome: "error", code: "aborted" });
      await expectIdle(a.sessionId!);
    });

    it("8. abort, then an immediate second prompt: the second turn is whole (stale idles do not end it)", async () => {
      const { adapter: a, replies } = adapter();
      const first = a.prompt("slow please", "first");
      await expect.poll(() => replies.length, { timeout: 15_000 }).toBeGreaterThan(1);
      const second = a.prompt("say hello [id:second]", "second");
      await a.cancel();
      expect(await first).toMatchObject({ outcome: "error", code: "aborted" });
      const result = await second;
      expectInvariants({ result, replies: replies.filter((r) => r.trace_id === "second") });
      expect(result).toMatchObject({ outcome: "final", content: `${DEFAULT_TEXT} [id:second]` });
    });

    it("9a. a turn past its deadline ends with timeout", async () => {
      const started = Date.now();
      const t = await turn("slow please", { turnTimeoutMs: 1500 });
      expectInvariants(t);
      expect(t.result).toMatchObject({ outcome: "error", code: "timeout" });
      expect(Date.now() - started).toBeLessThan(10_000);
      await expectIdle(t.adapter.sessionId!);
    });

    it("9b. provider 500s beyond maxProviderRetries: provider_error within a bound", async () => {
      const started = Date.now();
      const t = await turn("fail500 now", { maxProviderRetries: 1 });
      expectInvariants(t);
      expect(t.result).toMatchObject({ outcome: "error", code: "provider_error", error: expect.stringContaining("scripted upstream failure") });
      expect(Date.now() - started).toBeLessThan(20_000);
      await expectIdle(t.adapter.sessionId!);
    });

    it("9c. provider 401: provider_error naming the upstream message", async () => {
      const t = await turn("fail401 now");
      expectInvariants(t);
      expect(t.result).toMatchObject({ outcome: "error", code: "provider_error", error: expect.stringContaining("scripted invalid api key") });
    });

    it("9d. an unknown model: provider_error, not a hang", async () => {
      const t = await turn("say hello", { providerID: PROVIDER_ID, modelID: "no-such-model", turnTimeoutMs: 20_000 });
      expectInvariants(t);
      expect(t.result).toMatchObject({ outcome: "error", code: "provider_error", error: expect.stringContaining("no-such-model") });
    });

    it("9e. a prompt opencode refuses before it starts (unknown agent): bad_request, not a hang", async () => {
      const started = Date.now();
      const t = await turn("say hello", { agent: "no-such-agent", connectTimeoutMs: 3000 });
      expectInvariants(t);
      expect(t.result).toMatchObject({ outcome: "error", code: "bad_request", error: expect.stringContaining("no-such-agent") });
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it("10a. a wrong password is unauthorized", async () => {
      const t = await turn("say hello", { password: "wrong-password" });
      expectInvariants(t);
      expect(t.result).toMatchObject({ outcome: "error", code: "unauthorized" });
      expect(JSON.stringify(t.replies)).not.toContain("wrong-password");
    });

    it("10b. nothing listening is unreachable within the connect timeout", async () => {
      const port = await freePort();
      const started = Date.now();
      const t = await turn("say hello", { baseUrl: `http://127.0.0.1:${port}`, connectTimeoutMs: 2000 });
      expectInvariants(t);
      expect(t.result).toMatchObject({ outcome: "error", code: "unreachable" });
      expect(Date.now() - started).toBeLessThan(2000);
    });

    if (version === "1.18.33") {
      it("11. a model switch through POST /api/session/{id}/model is recorded on the adapter and the next turn", async () => {
        const { adapter: a } = adapter();
        expect((await a.prompt("say hello")).model_changes).toEqual([]);
        const switched = await api("POST", `/api/session/${a.sessionId}/model`, { model: { id: OTHER_MODEL_ID, providerID: PROVIDER_ID } });
        expect(switched.status).toBe(204);
        const result = await a.prompt("say hello");
        const change = { providerID: PROVIDER_ID, modelID: OTHER_MODEL_ID, source: "model.switched", at: expect.any(Number) };
        expect(result.model_changes).toEqual([change]);
        expect(a.modelChanges).toEqual([change]);
        expect(model.log.at(-1)?.model).toBe(OTHER_MODEL_ID);
      });
    } else {
      it("11. opencode 1.15.13 has no /api/session/{id}/model (its web UI answers HTML), so the switch cannot be made there", async () => {
        const { adapter: a } = adapter();
        await a.prompt("say hello");
        const switched = await api("POST", `/api/session/${a.sessionId}/model`, { model: { id: OTHER_MODEL_ID, providerID: PROVIDER_ID } });
        expect(switched.headers.get("content-type")).toContain("text/html");
        await switched.body?.cancel();
        // 1.15.13 announces the model at every prompt: that is not a change.
        expect((await a.prompt("say hello")).model_changes).toEqual([]);
        expect(a.modelChanges).toEqual([]);
      });
    }

    it("11b. a switch made by another client's prompt is recorded by the adapter watching the session", async () => {
      const { adapter: watcher } = adapter({ providerID: PROVIDER_ID, modelID: MODEL_ID });
      await watcher.prompt("say hello");
      const { adapter: other } = adapter({ sessionId: watcher.sessionId!, providerID: PROVIDER_ID, modelID: OTHER_MODEL_ID });
      expect((await other.prompt("say hello")).outcome).toBe("final");
      await expect.poll(() => watcher.modelChanges.length).toBeGreaterThan(0);
      expect(watcher.modelChanges[0]).toMatchObject({ providerID: PROVIDER_ID, modelID: OTHER_MODEL_ID });
    });

    it("12a. five concurrent prompts on one adapter: five whole turns, replies never interleaved", async () => {
      const { adapter: a, replies } = adapter();
      const results = await Promise.all([0, 1, 2, 3, 4].map((i) => a.prompt(`say hello [id:c${i}]`, `c${i}`)));
      expect(results.map((r) => r.outcome === "final" && r.content)).toEqual([0, 1, 2, 3, 4].map((i) => `${DEFAULT_TEXT} [id:c${i}]`));
      const order = replies.map((r) => r.trace_id).filter((id, i, all) => id !== all[i - 1]);
      expect(order).toEqual(["c0", "c1", "c2", "c3", "c4"]);
      for (const result of results) expectInvariants({ result, replies: replies.filter((r) => r.trace_id === result.trace_id) });
    });

    it("12b. ten adapters (ten sessions) at once on one server: all complete", async () => {
      const runs = Array.from({ length: 10 }, (_, i) => adapter()).map(({ adapter: a, replies }, i) =>
        a.prompt(`say hello [id:s${i}]`, `s${i}`).then((result) => ({ result, replies })),
      );
      const done = await Promise.all(runs);
      done.forEach(({ result, replies }, i) => {
        expectInvariants({ result, replies });
        expect(result).toMatchObject({ outcome: "final", content: `${DEFAULT_TEXT} [id:s${i}]` });
      });
      expect(new Set(done.map((d) => d.result.session_id)).size).toBe(10);
    });

    it("12c. two adapters of one process on the same session, prompting at once: their turns take turns, and each is whole", async () => {
      const first = await turn("say hello [id:own0]");
      const sessionId = first.result.session_id!;
      const a = adapter({ sessionId });
      const b = adapter({ sessionId });
      const [ra, rb] = await Promise.all([a.adapter.prompt("say hello [id:own1]", "own1"), b.adapter.prompt("say hello [id:own2]", "own2")]);
      expectInvariants({ result: ra, replies: a.replies });
      expectInvariants({ result: rb, replies: b.replies });
      expect(ra).toMatchObject({ outcome: "final", content: `${DEFAULT_TEXT} [id:own1]` });
      expect(rb).toMatchObject({ outcome: "final", content: `${DEFAULT_TEXT} [id:own2]` });
      // One answer each, in the order the prompts came: nothing folded into the other turn.
      const answers = (await storedMessages(sessionId)).filter((m) => m.info.role === "assistant");
      const texts = answers.map((m) => m.parts.filter((p) => p.type === "text").map((p) => p.text).join(""));
      expect(texts).toEqual([`${DEFAULT_TEXT} [id:own0]`, `${DEFAULT_TEXT} [id:own1]`, `${DEFAULT_TEXT} [id:own2]`]);
    });

    const SLOW_TEXT = Array.from({ length: 40 }, (_, i) => `slow ${i} `).join("");

    it("14a. the event stream cut mid-answer (and held off for a second) is reopened and reconciled: final is the whole text", async () => {
      const proxy = await CuttingProxy.start(server.url);
      try {
        const { adapter: a, replies } = adapter({ baseUrl: proxy.url });
        const pending = a.prompt("slow please");
        await expect.poll(() => replies.length, { timeout: 15_000 }).toBeGreaterThan(2);
        proxy.cutEventStreams(1_000);
        const result = await pending;
        expectInvariants({ result, replies });
        expect(result).toMatchObject({ outcome: "final", content: SLOW_TEXT });
        // Deltas were missed in the gap and came back in one piece, over a second stream.
        expect(replies.filter((r) => r.kind === "delta").length).toBeLessThan(40);
        expect(proxy.eventStreams).toBe(2);
      } finally {
        await proxy.close();
      }
    });

    it("14b. a turn that ends while the stream is away ends from the stored messages, whole", async () => {
      const proxy = await CuttingProxy.start(server.url);
      try {
        const { adapter: a, replies } = adapter({ baseUrl: proxy.url, connectTimeoutMs: 20_000 });
        const pending = a.prompt("slow please");
        await expect.poll(() => replies.length, { timeout: 15_000 }).toBeGreaterThan(2);
        // The slow answer takes 6 to 8 s: it is over before the stream comes back.
        proxy.cutEventStreams(9_000);
        const result = await pending;
        expectInvariants({ result, replies });
        expect(result).toMatchObject({ outcome: "final", content: SLOW_TEXT });
        expect(replies.filter((r) => r.kind === "delta").length).toBeLessThan(40);
      } finally {
        await proxy.close();
      }
    });

    it("14c. a permission ask raised while the stream is away is found on reconnect and answered (no hang)", async () => {
      const proxy = await CuttingProxy.start(server.url);
      try {
        const asked: unknown[] = [];
        const { adapter: a, replies } = adapter({ baseUrl: proxy.url, turnTimeoutMs: 25_000, permissions: (request) => (asked.push(request), "once") });
        proxy.cutWhenPrompted(1_500);
        const result = await a.prompt("please use a tool");
        expectInvariants({ result, replies });
        expect(asked).toHaveLength(1);
        expect(result).toMatchObject({ outcome: "final", content: "Tool said: hi-from-tool\n" });
        expect(ofKind(replies, "tool_result")[0]).toMatchObject({ success: true, result: "hi-from-tool\n" });
        expect(proxy.eventStreams).toBe(2);
      } finally {
        await proxy.close();
      }
    });

    it("14d. the v2 ask lists a reconcile reads: 1.18 answers {data: []} per session, 1.15 has none (its web page)", async () => {
      const t = await turn("say hello");
      expectInvariants(t);
      for (const kind of ["permission", "question"]) {
        const answer = await (await api("GET", `/api/session/${t.adapter.sessionId}/${kind}`)).text();
        if (version === "1.15.13") expect(() => JSON.parse(answer)).toThrow();
        else expect(JSON.parse(answer)).toEqual({ data: [] });
      }
    });

    it("13. a text file attachment reaches opencode and is stored as a file part", async () => {
      const data = Buffer.from("the attached note\n").toString("base64");
      const t = await turn("say hello", {}, { attachments: [{ mime: "text/plain", data, filename: "note.txt" }] });
      expectInvariants(t);
      expect(t.result.outcome).toBe("final");
      const stored = await storedMessages(t.adapter.sessionId!);
      const user = stored.find((m) => m.info.role === "user")!;
      expect(user.parts.find((p) => p.type === "file")).toMatchObject({ mime: "text/plain", filename: "note.txt", url: `data:text/plain;base64,${data}` });
      expect(user.parts.some((p) => p.type === "text" && String(p.text).includes("the attached note"))).toBe(true);
    });
  });
}
