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

  it("v2 asks sent while the stream was away are read back on reconcile, answered by the policies, and never twice", async () => {
    const listed: string[] = [];
    const replies: string[] = [];
    const permission = (sessionID: string) => ({ id: "per_gap", sessionID, action: "bash", resources: ["ls"], source: { type: "tool", messageID: "msg_x", callID: "call_1" } });
    const question = (sessionID: string) => ({ id: "que_gap", sessionID, questions: [{ question: "Go?", options: [{ label: "yes" }] }] });
    const server = await FakeOpencode.start({
      // Still busy when asked; the asks stay listed after their answers (a list read back may lag), and
      // the stream is cut again after both are answered.
      store: () => ({ messages: [], idle: false }),
      onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), E.busy(p.sessionId), { closeStreams: true }, { hold: true }, { closeStreams: true }, { hold: true }, ...E.textTurn(p.sessionId, p.body.messageID, "msg_a", ["done"]).slice(3)],
      intercept: (route, res) => {
        const list = route.match(/^GET \/api\/session\/([^/]+)\/(permission|question)$/);
        if (list) {
          listed.push(route);
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data: [list[2] === "permission" ? permission(list[1]!) : question(list[1]!)] }));
          return true;
        }
        if (!route.startsWith("POST /api/session/")) return false;
        replies.push(route);
        res.writeHead(200, { "content-type": "application/json" }).end("true");
        if (replies.length === 2) server.release();
        return true;
      },
    });
    open.push(server);
    const decided: string[] = [];
    const adapter = adapterFor(server, {
      permissions: (request: PermissionRequest) => (decided.push(`${request.id} ${request.api}`), "once"),
      questions: (request: QuestionRequest) => (decided.push(`${request.id} ${request.api}`), [["yes"]]),
    });
    const result = adapter.prompt("hi", "t");
    // The second gap: once its stream is open, the rest of the answer comes.
    while (server.eventConnections < 3 || listed.length < 4) await new Promise((resolve) => setTimeout(resolve, 10));
    server.release();
    expect(await result).toMatchObject({ outcome: "final", content: "done" });
    const session = server.prompts[0]!.sessionId;
    expect(listed).toEqual(expect.arrayContaining([`GET /api/session/${session}/permission`, `GET /api/session/${session}/question`]));
    expect(decided).toEqual(["per_gap v2", "que_gap v2"]);
    expect(replies).toEqual([`POST /api/session/${session}/permission/per_gap/reply`, `POST /api/session/${session}/question/que_gap/reply`]);
    expect(server.permissionReplies).toHaveLength(0);
  });
});
