/**
 * A hostile or broken server, through the whole adapter against the loopback stand-in: answers that
 * drip forever, streams of bytes without events, lines that never end, credentials echoed back,
 * answers of the wrong shape, attachments opencode must not be sent.
 */
import type { ServerResponse } from "node:http";
import { inspect } from "node:util";
import { describe, expect, it, vi } from "vitest";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { MAX_TIMER_MS } from "../../src/host/config.js";
import { Reply } from "../../src/contract/replies.js";
import { REDACTED } from "../../src/contract/redact.js";
import * as E from "../../testkit/events.js";
import { FakeOpencode, type ReceivedPrompt, type Step } from "../../testkit/fake-opencode.js";
import { closedAfterEach } from "../../testkit/closing.js";

const { open, fake } = closedAfterEach();

function adapterFor(server: FakeOpencode, config: Record<string, unknown> = {}) {
  const replies: Reply[] = [];
  const warnings: string[] = [];
  const adapter = new OpenCodeAdapter(
    { baseUrl: server.url, password: server.password, connectTimeoutMs: 2000, ...config },
    (reply) => void replies.push(Reply.parse(reply)),
    { logger: { warn: (message: string) => warnings.push(message) } },
  );
  open.push(adapter);
  return { adapter, replies, warnings };
}

const answer = (p: ReceivedPrompt, words: string[]): Step[] => E.textTurn(p.sessionId, p.body.messageID, `msg_a_${p.body.messageID}`, words);

/** Sends the headers, then one byte of a body that never ends every 20 ms (so no idle timeout trips). */
function drip(res: ServerResponse): true {
  res.writeHead(200, { "content-type": "application/json" });
  res.write("{");
  const timer = setInterval(() => res.write(" "), 20);
  res.on("close", () => clearInterval(timer));
  return true;
}

const token = (password: string) => Buffer.from(`opencode:${password}`).toString("base64");

describe("answers that send headers and then drip their body forever", () => {
  it("POST /session: without a deadline the body timeout ends the turn (`unreachable`), and nothing is prompted", async () => {
    const server = await fake({ intercept: (route, res) => route === "POST /session" && drip(res) });
    const { adapter, replies } = adapterFor(server, { bodyTimeoutMs: 300 });
    const result = await adapter.prompt("hi", "t");
    expect(result).toMatchObject({ outcome: "error", code: "unreachable", error: expect.stringContaining("not the whole answer within 300 ms") });
    expect(replies).toHaveLength(1);
    expect(server.prompts).toHaveLength(0);
  });

  it("POST /session: the deadline, cancel() and close() end the turn while the body drips", async () => {
    const server = await fake({ intercept: (route, res) => route === "POST /session" && drip(res) });
    const timed = adapterFor(server, { turnTimeoutMs: 200 });
    expect(await timed.adapter.prompt("hi")).toMatchObject({ outcome: "error", code: "timeout" });

    const cancelled = adapterFor(server);
    const turn = cancelled.adapter.prompt("hi");
    await vi.waitFor(() => expect(server.requests.filter((r) => r.url.startsWith("/session")).length).toBeGreaterThanOrEqual(2), { timeout: 5000 });
    await cancelled.adapter.cancel();
    expect(await turn).toMatchObject({ outcome: "error", code: "aborted" });

    const closed = adapterFor(server);
    const next = closed.adapter.prompt("hi");
    await vi.waitFor(() => expect(server.requests.filter((r) => r.url.startsWith("/session")).length).toBeGreaterThanOrEqual(3), { timeout: 5000 });
    await closed.adapter.close();
    expect(await next).toMatchObject({ outcome: "error", code: "closed" });
  });

  it("GET /session/{id} of a configured session: the body timeout ends it", async () => {
    const server = await fake({ intercept: (route, res) => route === "GET /session/ses_given" && drip(res) });
    const { adapter } = adapterFor(server, { sessionId: "ses_given", bodyTimeoutMs: 300 });
    expect(await adapter.prompt("hi")).toMatchObject({ outcome: "error", code: "unreachable", error: expect.stringContaining("GET /session/ses_given") });
  });

  it("an error answer is read only so far: a huge error body does not fill memory, its message is still shown", async () => {
    const server = await fake({
      intercept: (route, res) => {
        if (!route.endsWith("/prompt_async")) return false;
        res.writeHead(400, { "content-type": "text/plain" });
        res.write(`bad prompt ${"x".repeat(1000)}`);
        // Ten megabytes more would follow; the adapter stops reading long before.
        const chunk = "y".repeat(64 * 1024);
        let sent = 0;
        const pump = () => {
          while (sent < 160 && res.write(chunk)) sent++;
          if (sent < 160) res.once("drain", pump);
          else res.end();
        };
        pump();
        return true;
      },
    });
    const { adapter } = adapterFor(server);
    expect(await adapter.prompt("hi")).toMatchObject({ outcome: "error", code: "bad_request", error: expect.stringMatching(/^opencode refused .*bad prompt x+…$/) });
  });
});

describe("a stream of bytes but no events", () => {
  it.each([
    ["comments only", ": keep-alive\n\n"],
    ["frames that are not JSON", "data: keep-alive\n\n"],
  ])("%s: the watchdog counts events, not bytes, so the turn ends `stream_lost` (no heartbeat)", async (_, noise) => {
    let keepAlive: NodeJS.Timeout | undefined;
    const server = await fake({
      onPrompt: (p, s) => {
        keepAlive = setInterval(() => void s.play([{ raw: noise }]), 30);
        return [E.userMessage(p.sessionId, p.body.messageID)];
      },
      store: (sessionId) => ({ messages: [{ info: { id: server.prompts[0]!.body.messageID, sessionID: sessionId, role: "user" }, parts: [] }], idle: false }),
    });
    open.push({ close: async () => clearInterval(keepAlive) });
    const { adapter } = adapterFor(server, { heartbeatTimeoutMs: 300 });
    expect(await adapter.prompt("hi")).toMatchObject({ outcome: "error", code: "stream_lost", error: expect.stringContaining("no heartbeat") });
  });

  it("a data line that never ends is silence too", async () => {
    let drip: NodeJS.Timeout | undefined;
    const server = await fake({
      onPrompt: (p, s) => {
        drip = setInterval(() => void s.play([{ raw: "a" }]), 30);
        return [E.userMessage(p.sessionId, p.body.messageID), { raw: 'data: {"type":"message.part.delta","properties":{"delta":"' }];
      },
      store: () => ({ messages: [], idle: false }),
    });
    open.push({ close: async () => clearInterval(drip) });
    const { adapter } = adapterFor(server, { heartbeatTimeoutMs: 300 });
    expect(await adapter.prompt("hi")).toMatchObject({ outcome: "error", code: "stream_lost", error: expect.stringContaining("no heartbeat") });
  });

  it("a line longer than the cap cuts the stream (`stream_lost` naming the cap) instead of growing", async () => {
    const big = "a".repeat(1024 * 1024);
    const server = await fake({
      // Every connection gets the turn's user message, then an unterminated line of 17 MiB.
      onPrompt: (p) => [E.userMessage(p.sessionId, p.body.messageID), { raw: "data: " }, ...Array.from({ length: 17 }, () => ({ raw: big }))],
      intercept: (route, res) => {
        if (route !== "GET /event" || server.eventConnections === 0) return false;
        server.eventConnections++;
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(`data: ${JSON.stringify({ type: "server.connected", properties: {} })}\n\ndata: `);
        for (let i = 0; i < 17; i++) res.write(big);
        return true;
      },
      store: () => ({ messages: [], idle: false }),
    });
    const { adapter } = adapterFor(server);
    const result = await adapter.prompt("hi");
    expect(result).toMatchObject({ outcome: "error", code: "stream_lost", error: expect.stringContaining("longer than 16777216 characters") });
    // Cut at the cap, the stream was reopened (and cut again), not given up at once.
    expect(server.eventConnections).toBeGreaterThan(1);
  });
});

describe("credentials never leave the library", () => {
  /** Answers with the request's own headers in the body, as a debugging proxy might. */
  const echo =
    (status: number, match: (route: string) => boolean) =>
    (route: string, res: ServerResponse, _body: unknown, req: import("node:http").IncomingMessage) => {
      if (!match(route)) return false;
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ data: { message: `bad request, headers were ${JSON.stringify(req.headers)}` } }));
      return true;
    };

  it("an error body that echoes the request headers is redacted: no password, no Basic token", async () => {
    for (const [status, route] of [
      [400, "/prompt_async"],
      [500, "/prompt_async"],
      [503, "GET /event"],
    ] as const) {
      const server = await fake({ password: "s3cret-Pass/word+", intercept: echo(status, (r) => r.endsWith(route)) });
      const { adapter, replies } = adapterFor(server);
      const result = await adapter.prompt("hi");
      const text = JSON.stringify([result, replies]);
      expect(result.outcome).toBe("error");
      expect(text).toContain(REDACTED);
      expect(text).not.toContain(server.password);
      expect(text).not.toContain(token(server.password));
    }
  });

  it("credentials in baseUrl are used for auth and never shown: not in errors, inspect or JSON", async () => {
    const server = await fake({ password: "pw-in-url", onPrompt: (p) => answer(p, ["ok"]) });
    const url = new URL(server.url);
    url.username = "opencode";
    url.password = server.password;
    const replies: Reply[] = [];
    const adapter = new OpenCodeAdapter({ baseUrl: url.href }, (r) => void replies.push(r));
    open.push(adapter);
    expect(await adapter.prompt("hi")).toMatchObject({ outcome: "final", content: "ok" });
    expect(server.requests.every((r) => r.authorization === `Basic ${token(server.password)}`)).toBe(true);
    for (const text of [inspect(adapter, { depth: 6 }), JSON.stringify(adapter)]) {
      expect(text).not.toContain(server.password);
      expect(text).not.toContain(token(server.password));
    }
  });
});

describe("error codes that say what happened", () => {
  it("a 404 on /event is `unreachable` (not an opencode server), not `bad_request`", async () => {
    const server = await fake({ eventStatus: 404 });
    const { adapter } = adapterFor(server);
    expect(await adapter.prompt("hi")).toMatchObject({ outcome: "error", code: "unreachable", error: expect.stringContaining("has no opencode event stream") });
  });

  it("a 503 from a proxy in front of opencode is `unreachable`", async () => {
    const server = await fake({ promptStatus: { status: 503, body: "upstream down" } });
    const { adapter } = adapterFor(server);
    expect(await adapter.prompt("hi")).toMatchObject({ outcome: "error", code: "unreachable", error: expect.stringContaining("upstream down") });
  });

  it("a session answer of the wrong shape is one clear sentence, not a schema dump", async () => {
    const server = await fake({
      intercept: (route, res) => route === "POST /session" && (res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ session: "ses_x" })), true),
    });
    const { adapter } = adapterFor(server);
    const result = await adapter.prompt("hi");
    expect(result).toMatchObject({ outcome: "error", code: "unreachable" });
    const error = result.outcome === "error" ? result.error : "";
    expect(error).toMatch(/^opencode at .* answered POST \/session with something unexpected \(.* at id\): \{"session":"ses_x"\}; is baseUrl an opencode server/);
    expect(error).not.toContain("\n");
  });

  it("an answer that is not JSON (a web page) says so", async () => {
    const server = await fake({
      intercept: (route, res) => route === "POST /session" && (res.writeHead(200, { "content-type": "text/html" }).end("<html>login</html>"), true),
    });
    const { adapter } = adapterFor(server);
    expect(await adapter.prompt("hi")).toMatchObject({ outcome: "error", code: "unreachable", error: expect.stringContaining("not JSON (<html>login</html>)") });
  });
});

describe("config limits", () => {

  it("the largest timer delay is accepted and honoured: the turn is not cut short", async () => {
    const server = await fake({ onPrompt: (p) => [{ wait: 50 }, ...answer(p, ["still here"])] });
    const { adapter } = adapterFor(server, { turnTimeoutMs: MAX_TIMER_MS });
    expect(await adapter.prompt("hi")).toMatchObject({ outcome: "final", content: "still here" });
  });
});

describe("attachments are checked before anything is sent", () => {
  const data = Buffer.from("hello").toString("base64");

  it("a file: URL (opencode would read that file of its machine into the prompt) is `bad_request` by default", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["ok"]) });
    const { adapter } = adapterFor(server);
    for (const url of ["file:///etc/passwd", "FILE:///etc/passwd", "https://example.com/a.txt", "ftp://x/y", "relative/path.txt"]) {
      const result = await adapter.prompt("read", undefined, { attachments: [{ mime: "text/plain", url }] });
      expect(result).toMatchObject({ outcome: "error", code: "bad_request", error: expect.stringMatching(/^Attachment 0 was not sent: its url /) });
    }
    // Not even the session was created.
    expect(server.requests).toHaveLength(0);
  });

  it("a host that opts in to file: URLs may send them", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["ok"]) });
    const { adapter } = adapterFor(server, { attachmentSchemes: ["data", "file"] });
    expect(await adapter.prompt("read", undefined, { attachments: [{ mime: "text/plain", url: "file:///srv/notes.txt" }] })).toMatchObject({ outcome: "final" });
    expect(server.prompts[0]!.body.parts[1]).toEqual({ type: "file", mime: "text/plain", url: "file:///srv/notes.txt" });
  });

  it("types outside the allowlist are refused, also when a data: URL says the type; a host may widen the list", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["ok"]) });
    const { adapter } = adapterFor(server);
    for (const attachment of [
      { mime: "application/zip", data },
      { mime: "application/json", data },
      { mime: "text/plain", url: `data:application/octet-stream;base64,${data}` },
    ]) {
      expect(await adapter.prompt("x", undefined, { attachments: [attachment] })).toMatchObject({ outcome: "error", code: "bad_request", error: expect.stringContaining("is not allowed") });
    }
    expect(server.prompts).toHaveLength(0);
    for (const mime of ["text/markdown", "image/png", "application/pdf"]) {
      expect(await adapter.prompt("x", undefined, { attachments: [{ mime, data }] })).toMatchObject({ outcome: "final" });
    }
    const wide = adapterFor(server, { attachmentTypes: ["*/*"] });
    expect(await wide.adapter.prompt("x", undefined, { attachments: [{ mime: "application/zip", data }] })).toMatchObject({ outcome: "final" });
    expect(() => adapterFor(server, { attachmentTypes: ["zip"] })).toThrow(/attachmentTypes\.0: expected a MIME type/);
  });
});

describe("options a host can get wrong", () => {
  it("a signal that is not an AbortSignal (the controller itself) is `bad_request`, and the adapter goes on", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["ok"]) });
    const { adapter, replies } = adapterFor(server);
    const result = await adapter.prompt("hi", "t", { signal: new AbortController() as never });
    expect(result).toMatchObject({ outcome: "error", code: "bad_request", error: expect.stringContaining("not the controller") });
    expect(replies).toEqual([{ kind: "error", trace_id: "t", code: "bad_request", error: expect.any(String) }]);
    await adapter.cancel();
    expect(await adapter.prompt("again")).toMatchObject({ outcome: "final", content: "ok" });
    await adapter.close();
  });
  it("a signal that looks like one but throws when listened to ends that turn; cancel() and the next prompt work", async () => {
    const server = await fake({ onPrompt: (p) => answer(p, ["ok"]) });
    const { adapter } = adapterFor(server);
    const hostile = {
      aborted: false,
      addEventListener() {
        throw new Error("no listeners here");
      },
      removeEventListener() {
        throw new Error("nor here");
      },
    };
    expect(await adapter.prompt("hi", "t", { signal: hostile as never })).toMatchObject({ outcome: "error", code: "internal", error: expect.stringContaining("no listeners here") });
    await adapter.cancel();
    expect(await adapter.prompt("again")).toMatchObject({ outcome: "final", content: "ok" });
    await adapter.close();
  });
});
