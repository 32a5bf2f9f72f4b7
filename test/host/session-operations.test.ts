import { describe, expect, it } from "vitest";
import type { ServerResponse } from "node:http";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { Reply } from "../../src/contract/replies.js";
import * as E from "../../testkit/events.js";
import { FakeOpencode } from "../../testkit/fake-opencode.js";
import { closedAfterEach } from "../../testkit/closing.js";
import { joinedDeltas } from "../../testkit/replies.js";

const { open, fake } = closedAfterEach();

function adapterFor(server: FakeOpencode, config: Record<string, unknown> = {}) {
  const replies: Reply[] = [];
  const adapter = new OpenCodeAdapter(
    { baseUrl: server.url, password: server.password, connectTimeoutMs: 2000, providerID: "p", modelID: "m", ...config },
    (reply) => void replies.push(Reply.parse(reply)),
    { logger: { warn: () => undefined } },
  );
  open.push(adapter);
  return { adapter, replies };
}

const json = (res: ServerResponse, status: number, value: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));

describe("a slash command as a turn", () => {
  it("goes on while opencode holds its answer: the ask in it is answered, and the turn ends at the idle", async () => {
    const bodies: unknown[] = [];
    let answerCommand: () => void = () => undefined;
    const server = await fake({
      intercept: (route, res, body) => {
        if (route === "GET /command") return json(res, 200, [{ name: "greet", template: "Hi $ARGUMENTS", hints: [] }]), true;
        // The turn goes on only once its ask is answered: the answer is the proof it was.
        if (route.startsWith("POST /permission/")) setImmediate(() => server.release());
        if (!/^POST \/session\/[^/]+\/command$/.test(route)) return false;
        bodies.push(body);
        const { messageID } = body as { messageID: string };
        const s = [...server.sessions][0]!;
        // opencode answers a command only after its turn; here after the test saw the turn end.
        answerCommand = () => json(res, 200, { info: { id: "msg_a" }, parts: [] });
        const [user, text, busy, assistant, ...rest] = E.textTurn(s, messageID, "msg_a", ["Hello ", "Alice."]);
        void server.play([user!, text!, busy!, E.permissionAsked(s, "per_1"), { hold: true }, assistant!, ...rest]);
        return true;
      },
    });
    const { adapter, replies } = adapterFor(server, { permissions: "once" });
    const result = await adapter.command("/greet", "Alice", "t-cmd");
    expect(result).toMatchObject({ outcome: "final", content: "Hello Alice." });
    expect(bodies).toEqual([{ messageID: expect.stringMatching(/^msg_/), command: "greet", arguments: "Alice", model: "p/m" }]);
    expect(server.permissionReplies.map((r) => r.id)).toEqual(["per_1"]);
    expect(joinedDeltas(replies)).toMatchObject([{ kind: "delta", content: "Hello Alice." }, { kind: "final", content: "Hello Alice." }]);
    answerCommand();
  });

  it("names an unknown command, with the ones there are, before anything is run", async () => {
    const server = await fake({ intercept: (route, res) => route === "GET /command" && (json(res, 200, [{ name: "review" }]), true) });
    const { adapter } = adapterFor(server);
    const result = await adapter.command("nope", "", "t-nope");
    expect(result).toMatchObject({ outcome: "error", code: "bad_request", error: expect.stringContaining('no slash command "nope" (it has: review)') });
  });
});

describe("a summarize as a turn", () => {
  it("takes opencode's own compaction message as its user message: the summary is the answer", async () => {
    const bodies: unknown[] = [];
    const server = await fake({
      intercept: (route, res, body) => {
        if (!/^POST \/session\/[^/]+\/summarize$/.test(route)) return false;
        bodies.push(body);
        const s = [...server.sessions][0]!;
        const compaction = E.toolPart(s, "msg_c", "prt_c", "none", undefined, {});
        (compaction.properties as { part: Record<string, unknown> }).part = { id: "prt_c", sessionID: s, messageID: "msg_c", type: "compaction", auto: false };
        const [, , ...turn] = E.textTurn(s, "msg_c", "msg_sum", ["SUMMARY: ", "hello."]);
        void server.play([E.userMessage(s, "msg_c"), compaction, ...turn]).then(() => json(res, 200, true));
        return true;
      },
    });
    const { adapter, replies } = adapterFor(server);
    await adapter.ensureSession();
    const result = await adapter.summarize("t-sum");
    expect(result).toMatchObject({ outcome: "final", content: "SUMMARY: hello." });
    expect(bodies).toEqual([{ providerID: "p", modelID: "m" }]);
    expect(replies.at(-1)).toEqual({ kind: "final", trace_id: "t-sum", content: "SUMMARY: hello." });
  });

  it("is refused without a model to write the summary", async () => {
    const server = await fake();
    const { adapter } = adapterFor(server, { providerID: undefined, modelID: undefined });
    expect(await adapter.summarize("t")).toMatchObject({ outcome: "error", code: "bad_request" });
  });
});

describe("structured output", () => {
  const assistantWith = (s: string, user: string, info: Record<string, unknown>) =>
    ({ type: "message.updated", properties: { sessionID: s, info: { id: "msg_a", sessionID: s, parentID: user, role: "assistant", time: { created: 1, completed: 2 }, ...info } } }) as never;

  it("sends the format as json_schema and puts the object on final and the result", async () => {
    const server = await fake({
      onPrompt: ({ sessionId: s, body }) => [E.userMessage(s, body.messageID), E.assistantMessage(s, "msg_a", body.messageID), assistantWith(s, body.messageID, { structured: { ok: true } }), ...E.idleEnd(s)],
    });
    const { adapter, replies } = adapterFor(server);
    const result = await adapter.prompt("answer", "t-f", { format: { type: "object" } });
    expect(server.prompts[0]!.body).toMatchObject({ format: { type: "json_schema", schema: { type: "object" } } });
    expect(result).toMatchObject({ outcome: "final", content: "", structured: { ok: true } });
    expect(replies).toEqual([{ kind: "final", trace_id: "t-f", content: "", structured: { ok: true } }]);
  });

  it("ends with an error when the model gave no object", async () => {
    const server = await fake({
      onPrompt: ({ sessionId: s, body }) => [
        E.userMessage(s, body.messageID),
        E.assistantMessage(s, "msg_a", body.messageID),
        assistantWith(s, body.messageID, { error: { name: "StructuredOutputError", data: { message: "Model did not produce structured output", retries: 0 } } }),
        ...E.idleEnd(s),
      ],
    });
    const { adapter } = adapterFor(server);
    const result = await adapter.prompt("answer", "t-e", { format: { type: "object" } });
    expect(result).toMatchObject({ outcome: "error", code: "provider_error", error: "The model did not answer in the requested format: Model did not produce structured output" });
  });
});

describe("the session operations' errors", () => {
  it("are TurnErrors with the contract's code and without the password", async () => {
    const server = await fake({
      intercept: (route, res) => {
        if (/^POST \/session\/[^/]+\/fork$/.test(route)) return json(res, 404, { name: "NotFoundError" }), true;
        if (/^POST \/session\/[^/]+\/unrevert$/.test(route)) return json(res, 400, { data: { message: `bad: ${server.password}` } }), true;
        return false;
      },
    });
    const { adapter } = adapterFor(server);
    await expect(adapter.revert("msg_1")).rejects.toMatchObject({ name: "TurnError", code: "session_not_found" });
    await adapter.ensureSession();
    await expect(adapter.fork()).rejects.toMatchObject({ code: "session_not_found" });
    // A revert to a message the session does not have is refused before opencode is asked.
    await expect(adapter.revert("msg_1")).rejects.toMatchObject({ code: "bad_request", message: expect.stringContaining("has no message msg_1") });
    const refused = await adapter.unrevert().catch((error: Error) => error);
    expect(refused).toMatchObject({ code: "bad_request" });
    expect((refused as Error).message).toContain("bad: [redacted]");
    await expect(adapter.revert("nope")).rejects.toMatchObject({ code: "bad_request" });
    expect(await adapter.history()).toEqual([]);
    await adapter.close();
    await expect(adapter.sessions()).rejects.toMatchObject({ code: "closed" });
  });
});
