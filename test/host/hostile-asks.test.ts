/**
 * The v2 asks (`permission.v2.asked`, `question.v2.asked`, shapes from opencode 1.18's `/doc`), against
 * the loopback stand-in: opencode 1.18.33 itself sends only the v1 ones on `/event`, so they cannot
 * be made on demand. They are answered by the same policies, on the v2 endpoints.
 */
import { afterEach, describe, expect, it } from "vitest";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { Reply } from "../../src/contract/replies.js";
import type { PermissionRequest, QuestionRequest } from "../../src/opencode/events.js";
import * as E from "../../testkit/events.js";
import { FakeOpencode, type ReceivedPrompt, type Step } from "../../testkit/fake-opencode.js";

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

const v2Replies: Array<{ route: string; body: unknown }> = [];

async function fakeWith(ask: (p: ReceivedPrompt) => Step): Promise<FakeOpencode> {
  v2Replies.length = 0;
  const server = await FakeOpencode.start({
    onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), E.busy(p.sessionId), ask(p), { hold: true }, ...E.textTurn(p.sessionId, p.body.messageID, "msg_a", ["ok"]).slice(3)],
    intercept: (route, res, body) => {
      if (!route.startsWith("POST /api/session/")) return false;
      v2Replies.push({ route, body });
      res.writeHead(200, { "content-type": "application/json" }).end("true");
      server.release();
      return true;
    },
  });
  open.push(server);
  return server;
}

function adapterFor(server: FakeOpencode, config: Record<string, unknown>) {
  const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password, connectTimeoutMs: 2000, ...config }, (reply) => void Reply.parse(reply), {
    logger: { warn: () => undefined },
  });
  open.push(adapter);
  return adapter;
}

const ev = (type: string, properties: Record<string, unknown>) => ({ id: "evt_v2", type, properties });

describe("v2 asks", () => {
  it("a permission.v2.asked reaches the policy in the v1 shape and is answered on the v2 endpoint", async () => {
    const seen: PermissionRequest[] = [];
    const server = await fakeWith((p) =>
      ev("permission.v2.asked", {
        id: "per_v2",
        sessionID: p.sessionId,
        action: "bash",
        resources: ["echo hi"],
        save: ["echo *"],
        metadata: { command: "echo hi" },
        source: { type: "tool", messageID: "msg_x", callID: "call_1" },
      }),
    );
    const adapter = adapterFor(server, {
      permissions: (request: PermissionRequest) => {
        seen.push(request);
        return "once";
      },
    });
    const result = await adapter.prompt("hi", "t");
    expect(result).toMatchObject({ outcome: "final", content: "ok" });
    expect(seen).toEqual([
      { id: "per_v2", sessionID: server.prompts[0]!.sessionId, permission: "bash", patterns: ["echo hi"], metadata: { command: "echo hi" }, always: ["echo *"], tool: { messageID: "msg_x", callID: "call_1" }, api: "v2" },
    ]);
    expect(v2Replies).toEqual([{ route: `POST /api/session/${server.prompts[0]!.sessionId}/permission/per_v2/reply`, body: { reply: "once" } }]);
    expect(server.permissionReplies).toHaveLength(0);
  });

  it("a question.v2.asked is answered by the question policy on the v2 endpoint, and rejected there by default", async () => {
    const question = (p: ReceivedPrompt) =>
      ev("question.v2.asked", {
        id: "que_v2",
        sessionID: p.sessionId,
        questions: [{ question: "Proceed?", header: "Confirm", options: [{ label: "yes", description: "" }], custom: true }],
        tool: { messageID: "msg_x", callID: "call_q" },
      });
    const seen: QuestionRequest[] = [];
    let server = await fakeWith(question);
    let result = await adapterFor(server, {
      questions: (request: QuestionRequest) => {
        seen.push(request);
        return [["yes"]];
      },
    }).prompt("hi", "t");
    expect(result).toMatchObject({ outcome: "final" });
    expect(seen[0]).toMatchObject({ id: "que_v2", api: "v2", questions: [{ question: "Proceed?", options: [{ label: "yes" }] }] });
    expect(v2Replies).toEqual([{ route: `POST /api/session/${server.prompts[0]!.sessionId}/question/que_v2/reply`, body: { answers: [["yes"]] } }]);

    server = await fakeWith(question);
    result = await adapterFor(server, {}).prompt("hi", "t");
    expect(result).toMatchObject({ outcome: "final" });
    expect(v2Replies.map((r) => r.route)).toEqual([`POST /api/session/${server.prompts[0]!.sessionId}/question/que_v2/reject`]);
  });
});
