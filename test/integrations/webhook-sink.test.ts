import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { Reply } from "../../src/contract/replies.js";
import { parseHeader, WebhookSink } from "../../src/integrations/webhook-sink.js";

/** What the receiver does with one POST. */
type Behaviour = "ok" | "fail" | "stall" | "drop" | "reject";

interface Received {
  key: string;
  body: Reply;
  headers: IncomingMessage["headers"];
  answered: Behaviour;
}

/** A reply route that follows a script, one behaviour per POST, then answers 204. */
async function receiver(script: Behaviour[] = []) {
  const received: Received[] = [];
  const acknowledged: Received[] = [];
  const sockets = new Set<Socket>();
  const stalled: ServerResponse[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const behaviour = script.shift() ?? "ok";
    const entry = { key: String(req.headers["idempotency-key"]), body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Reply, headers: req.headers, answered: behaviour };
    received.push(entry);
    if (behaviour === "ok") {
      acknowledged.push(entry);
      res.writeHead(204).end();
    } else if (behaviour === "fail") res.writeHead(503).end("busy");
    else if (behaviour === "reject") res.writeHead(400).end("bad");
    else if (behaviour === "drop") req.socket.destroy();
    else stalled.push(res);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/openclaw/sessions/agent-1/reply`;
  const close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  opened.push({ close });
  return { url, received, acknowledged, stalled };
}

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const thing of opened.splice(0).reverse()) await thing.close();
});

function sink(url: string, warnings: string[], options: Partial<ConstructorParameters<typeof WebhookSink>[0]> = {}) {
  const created = new WebhookSink({ url, backoffMs: 5, timeoutMs: 300, logger: { warn: (m: string) => warnings.push(m) }, ...options });
  opened.push(created);
  return created;
}

const deltas = (n: number): Reply[] => Array.from({ length: n }, (_, i) => ({ kind: "delta", trace_id: "t-1", content: `piece ${i}` }));

describe("WebhookSink", () => {
  it("delivers every reply once, in order, through failures, a stall and dropped connections", async () => {
    const route = await receiver(["fail", "stall", "ok", "drop", "fail", "ok", "ok", "drop", "stall", "fail", "ok"]);
    const warnings: string[] = [];
    const webhook = sink(route.url, warnings);
    const replies = [...deltas(6), { kind: "final", trace_id: "t-1", content: "done" } as Reply];
    // Given all at once, as a turn's burst: the sink still sends them one at a time.
    await Promise.all(replies.map((reply) => webhook.deliver(reply)));

    expect(route.acknowledged.map((r) => r.body)).toEqual(replies);
    expect(warnings).toEqual([]);
    expect(webhook.delivered).toEqual({ ok: 7, failed: 0 });
    // Nothing acknowledged was sent again: after its 2xx, a key never comes back.
    route.acknowledged.forEach((ack) => {
      const after = route.received.slice(route.received.indexOf(ack) + 1);
      expect(after.some((r) => r.key === ack.key)).toBe(false);
    });
    // Every try of one reply carried the same key, and the failed tries came back.
    expect(new Set(route.received.map((r) => r.key)).size).toBe(replies.length);
    expect(route.received.length).toBeGreaterThan(replies.length);
    // The stalled ones were retried, not waited for forever.
    expect(route.stalled.length).toBe(2);
  });

  it("does not retry a 4xx: the reply is reported on the logger and the next one goes", async () => {
    const route = await receiver(["reject"]);
    const warnings: string[] = [];
    const webhook = sink(route.url, warnings);
    const [first, second] = deltas(2) as [Reply, Reply];
    await webhook.deliver(first);
    await webhook.deliver(second);
    expect(route.received.map((r) => [r.body, r.answered])).toEqual([
      [first, "reject"],
      [second, "ok"],
    ]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("HTTP 400");
    expect(warnings[0]).toContain("delta reply of trace t-1");
    expect(webhook.delivered).toEqual({ ok: 1, failed: 1 });
  });

  it("gives up after its tries on a receiver that keeps failing, and the next reply is still tried", async () => {
    const route = await receiver(["fail", "fail", "fail", "ok"]);
    const warnings: string[] = [];
    const webhook = sink(route.url, warnings, { attempts: 3 });
    const [first, second] = deltas(2) as [Reply, Reply];
    await webhook.deliver(first);
    await webhook.deliver(second);
    expect(route.received.map((r) => r.answered)).toEqual(["fail", "fail", "fail", "ok"]);
    expect(route.acknowledged.map((r) => r.body)).toEqual([second]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("HTTP 503");
  });

  it("resolves, and reports, when nothing listens at the URL", async () => {
    const route = await receiver();
    await opened.pop()!.close();
    const warnings: string[] = [];
    const webhook = sink(route.url, warnings, { attempts: 2 });
    await webhook.deliver(deltas(1)[0]!);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/ECONNREFUSED/);
    expect(webhook.delivered.failed).toBe(1);
  });

  it("sends the given headers and the JSON body; a query token stays out of the messages", async () => {
    const route = await receiver(["reject"]);
    const warnings: string[] = [];
    const webhook = sink(`${route.url}?token=sekrit`, warnings, { headers: { Authorization: "Bearer abc", "X-Agent": "agent-1" } });
    await webhook.deliver(deltas(1)[0]!);
    const headers = route.received[0]!.headers;
    expect(headers.authorization).toBe("Bearer abc");
    expect(headers["x-agent"]).toBe("agent-1");
    expect(headers["content-type"]).toBe("application/json");
    expect(warnings.join("")).not.toContain("sekrit");
    expect(warnings.join("")).not.toContain("abc");
  });

  it("refuses a URL that is not http(s) or carries credentials", () => {
    expect(() => new WebhookSink({ url: "ftp://example.com/x" })).toThrow(/http\(s\)/);
    expect(() => new WebhookSink({ url: "http://user:pw@127.0.0.1/x" })).toThrow(/--sink-header/);
  });

  it("parses `Name: value` headers", () => {
    expect(parseHeader("Authorization: Bearer a:b")).toEqual(["authorization", "Bearer a:b"]);
    expect(parseHeader("no colon")).toBeUndefined();
    expect(parseHeader(": empty name")).toBeUndefined();
    expect(parseHeader("bad name: x")).toBeUndefined();
  });
});
