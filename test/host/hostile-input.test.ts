/**
 * Bad input gets a clear error: a JavaScript host's wrong arguments are `bad_request` before any
 * request, an https URL with a certificate Node does not trust says so, `prompt()` then `cancel()` in
 * the same tick cancels that turn, a weak password is warned about, proxy variables are ignored.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Reply } from "../../src/contract/replies.js";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { WEAK_PASSWORD_WARNING } from "../../src/contract/redact.js";
import * as E from "../../testkit/events.js";
import { FakeOpencode } from "../../testkit/fake-opencode.js";

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

async function fake(onPrompt?: ConstructorParameters<typeof FakeOpencode>[0]) {
  const server = await FakeOpencode.start(onPrompt);
  open.push(server);
  return server;
}

describe("a JavaScript host's wrong arguments", () => {
  it("a traceId that is not a string, or a null prompt text, is bad_request before any request is sent", async () => {
    const server = await fake();
    const replies: unknown[] = [];
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, (reply) => void replies.push(reply));
    open.push(adapter);
    const loose = adapter as unknown as { prompt(text: unknown, traceId?: unknown): ReturnType<OpenCodeAdapter["prompt"]> };
    const byNumber = await loose.prompt("hi", 5);
    const byObject = await loose.prompt("hi", { id: 1 });
    const byNull = await loose.prompt(null, "t-null");
    expect(byNumber).toMatchObject({ outcome: "error", code: "bad_request", error: "traceId must be a string, not a number (5)." });
    expect(byObject).toMatchObject({ outcome: "error", code: "bad_request", error: "traceId must be a string, not an object." });
    expect(byNull).toMatchObject({ outcome: "error", code: "bad_request", trace_id: "t-null", error: "The prompt text must be a string, not null." });
    // Every reply is valid: a trace id of the contract's type, not the host's number.
    for (const reply of replies) Reply.parse(reply);
    expect(replies).toHaveLength(3);
    expect(server.requests.filter((r) => r.url !== "/event" && !r.url.startsWith("/event?"))).toEqual([]);
    expect(server.prompts).toHaveLength(0);
  });
});

describe("prompt() then cancel() in the same tick", () => {
  it("cancels that turn before it starts: nothing is sent, the result is aborted", async () => {
    const server = await fake({ onPrompt: (p) => E.textTurn(p.sessionId, p.body.messageID, "msg_a", ["hi"]) });
    const replies: Reply[] = [];
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, (reply) => void replies.push(Reply.parse(reply)));
    open.push(adapter);
    const turn = adapter.prompt("hi", "t");
    await adapter.cancel();
    expect(await turn).toMatchObject({ outcome: "error", code: "aborted" });
    expect(replies.map((r) => r.kind)).toEqual(["error"]);
    expect(server.prompts).toHaveLength(0);
    // Only that turn: the next one runs.
    expect(await adapter.prompt("again", "t2")).toMatchObject({ outcome: "final", content: "hi" });
  });

  it("with a turn running, cancel() cancels the running one and the queued one still runs", async () => {
    const server = await fake({ onPrompt: (p) => E.textTurn(p.sessionId, p.body.messageID, `msg_a${p.body.messageID}`, ["ok"]) });
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, () => undefined);
    open.push(adapter);
    await adapter.prompt("warm", "t0");
    const first = adapter.prompt("one", "t1");
    const second = adapter.prompt("two", "t2");
    await adapter.cancel();
    expect(await first).toMatchObject({ outcome: "error", code: "aborted" });
    expect(await second).toMatchObject({ outcome: "final", content: "ok" });
  });
});

describe("an https URL with a certificate Node does not trust", () => {
  const dir = mkdtempSync(join(tmpdir(), "opencode-turns-tls-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("says so, and how to fix it, rather than 'is the server running'", async () => {
    const key = join(dir, "key.pem");
    const cert = join(dir, "cert.pem");
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"], { stdio: "ignore" });
    const server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) => res.end("{}"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    open.push({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const adapter = new OpenCodeAdapter({ baseUrl: url, password: "x-Strong-Password-1", connectTimeoutMs: 2000 }, () => undefined);
    open.push(adapter);
    const result = await adapter.prompt("hi", "t");
    expect(result).toMatchObject({ outcome: "error", code: "unreachable", error: expect.stringContaining("TLS certificate this process does not trust") });
    expect(result.outcome === "error" && result.error).not.toContain("is the server running");
  });
});

describe("a password too weak to redact everywhere", () => {
  it("is warned about once, when the adapter is made, and ordinary text with it in is left as it is", async () => {
    const server = await FakeOpencode.start({
      password: "opencode",
      onPrompt: (p) => E.textTurn(p.sessionId, p.body.messageID, `msg_a_${p.body.messageID}`, ["opencode answered: ", "all good"]),
    });
    open.push(server);
    const warnings: string[] = [];
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: "opencode" }, () => undefined, { logger: { warn: (text: string) => void warnings.push(text) } });
    open.push(adapter);
    expect(warnings).toEqual([WEAK_PASSWORD_WARNING]);
    const result = await adapter.prompt("hi", "t-weak");
    expect(result).toMatchObject({ outcome: "final", content: "opencode answered: all good" });
    expect(warnings).toHaveLength(1);
  });

  it("a strong one is not warned about", async () => {
    const server = await fake();
    const warnings: string[] = [];
    open.push(new OpenCodeAdapter({ baseUrl: server.url, password: "a-long-strong-password-1" }, () => undefined, { logger: { warn: (text: string) => void warnings.push(text) } }));
    expect(warnings).toEqual([]);
  });
});

describe("proxy environment variables", () => {
  const names = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] as const;
  const before = Object.fromEntries(names.map((name) => [name, process.env[name]]));
  afterEach(() => {
    for (const name of names) {
      if (before[name] === undefined) delete process.env[name];
      else process.env[name] = before[name];
    }
  });

  it("are ignored: a proxy that does not exist changes nothing, the turn goes to baseUrl directly", async () => {
    // Port 9 (discard) on loopback: nothing listens; a client that honoured these would fail to connect.
    for (const name of names) process.env[name] = "http://127.0.0.1:9";
    const server = await fake({ onPrompt: (p) => E.textTurn(p.sessionId, p.body.messageID, `msg_a_${p.body.messageID}`, ["direct"]) });
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, () => undefined);
    open.push(adapter);
    expect(await adapter.prompt("hi", "t-proxy")).toMatchObject({ outcome: "final", content: "direct" });
    expect(server.prompts).toHaveLength(1);
  });
});
