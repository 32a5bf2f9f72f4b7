/** The HTTP side of one opencode server against a loopback node:http server that answers as each test says. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { REDACTED } from "../../src/contract/redact.js";
import { TurnError } from "../../src/contract/turn-error.js";
import { OpencodeHttp } from "../../src/opencode/http.js";

const PASSWORD = "Http-Test-Secret-42";
const open: { server: Server; http: OpencodeHttp }[] = [];

afterEach(async () => {
  for (const { server, http } of open.splice(0)) {
    await http.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serve(handle: (req: IncomingMessage, res: ServerResponse) => void, bodyTimeoutMs = 5_000) {
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const http = new OpencodeHttp({ baseUrl: `http://127.0.0.1:${port}/base`, username: "opencode", password: PASSWORD, directory: "/work dir", connectTimeoutMs: 2_000, bodyTimeoutMs });
  open.push({ server, http });
  return http;
}

const answering = (status: number, body: string) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(body);
};

async function failure(call: Promise<unknown>): Promise<TurnError> {
  const error = await call.then(() => undefined, (thrown: unknown) => thrown);
  expect(error).toBeInstanceOf(TurnError);
  return error as TurnError;
}

describe("a request", () => {
  it("goes to the base path with the directory, Basic auth and a JSON body; the JSON answer is parsed", async () => {
    let seen: { url?: string; auth?: string; type?: string; body: string } = { body: "" };
    const http = await serve((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        seen = { url: req.url, auth: req.headers.authorization, type: req.headers["content-type"], body };
        answering(200, '{"id":"ses_1"}')(req, res);
      });
    });
    expect(await http.call("POST", "/session", { body: { title: "t" } })).toEqual({ id: "ses_1" });
    expect(seen).toEqual({
      url: "/base/session?directory=%2Fwork%20dir",
      auth: `Basic ${Buffer.from(`opencode:${PASSWORD}`).toString("base64")}`,
      type: "application/json",
      body: '{"title":"t"}',
    });
  });

  it("an empty answer is undefined; a 404 with missingIsFine is undefined too", async () => {
    const empty = await serve(answering(200, ""));
    expect(await empty.call("GET", "/x")).toBeUndefined();
    const missing = await serve(answering(404, "gone"));
    expect(await missing.call("POST", "/permission/per_1/reply", { missingIsFine: true })).toBeUndefined();
  });
});

describe("status → error code", () => {
  const cases: [number, { sessionId?: string }, string, RegExp][] = [
    [401, {}, "unauthorized", /rejected the credentials \(HTTP 401\)/],
    [403, {}, "unauthorized", /rejected the credentials \(HTTP 403\)/],
    [404, { sessionId: "ses_gone" }, "session_not_found", /has no session ses_gone/],
    [404, {}, "unreachable", /does not know GET \/x \(HTTP 404\)/],
    [400, {}, "bad_request", /opencode refused GET \/x \(HTTP 400\): the message/],
    [422, {}, "bad_request", /HTTP 422/],
    [502, {}, "unreachable", /is not available \(HTTP 502 on GET \/x\)/],
    [503, {}, "unreachable", /is not available \(HTTP 503/],
    [504, {}, "unreachable", /is not available \(HTTP 504/],
    [500, {}, "internal", /opencode failed on GET \/x \(HTTP 500\): the message/],
  ];
  for (const [status, options, code, message] of cases) {
    it(`${status}${options.sessionId ? " on a session" : ""} is ${code}`, async () => {
      const http = await serve(answering(status, '{"data":{"message":"the message"}}'));
      const error = await failure(http.call("GET", "/x", options));
      expect(error).toMatchObject({ code, status });
      expect(error.message).toMatch(message);
    });
  }

  it("GET /event: a 404 is not an opencode server, any other status is unreachable", async () => {
    const missing = await serve(answering(404, ""));
    expect(await failure(missing.openEvents(new AbortController().signal))).toMatchObject({ code: "unreachable", message: expect.stringContaining("has no opencode event stream") });
    const failing = await serve(answering(500, '{"message":"boom"}'));
    expect(await failure(failing.openEvents(new AbortController().signal))).toMatchObject({ code: "unreachable", message: expect.stringContaining("did not open its event stream (HTTP 500): boom") });
  });

  it("an answer that is not JSON says so; a refused connection is unreachable", async () => {
    const page = await serve(answering(200, "<html>hi</html>"));
    expect(await failure(page.call("GET", "/x"))).toMatchObject({ code: "unreachable", message: expect.stringContaining("a body that is not JSON (<html>hi</html>)") });
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const closed = new OpencodeHttp({ baseUrl: `http://127.0.0.1:${port}`, username: "opencode", password: undefined, directory: undefined, connectTimeoutMs: 2_000, bodyTimeoutMs: 5_000 });
    open.push({ server, http: closed });
    expect(await failure(closed.call("GET", "/x"))).toMatchObject({ code: "unreachable", message: expect.stringContaining("Cannot reach opencode") });
  });

  it("an aborted request is aborted", async () => {
    const http = await serve(() => undefined);
    const controller = new AbortController();
    const call = http.call("GET", "/x", { signal: controller.signal });
    controller.abort();
    expect(await failure(call)).toMatchObject({ code: "aborted" });
  });
});

describe("the server's texts", () => {
  it("are redacted: a body echoing the password and its Basic token shows neither", async () => {
    const token = Buffer.from(`opencode:${PASSWORD}`).toString("base64");
    const http = await serve(answering(400, JSON.stringify({ message: `bad auth ${token} for ${PASSWORD}` })));
    const error = await failure(http.call("GET", "/x"));
    expect(error.message).toBe(`opencode refused GET /x (HTTP 400): bad auth ${REDACTED} for ${REDACTED}`);
  });

  it("are clipped to 300 characters; an empty body says no details", async () => {
    const long = await serve(answering(500, "x".repeat(1000)));
    expect((await failure(long.call("GET", "/x"))).message).toMatch(/: x{300}…$/);
    const empty = await serve(answering(500, ""));
    expect((await failure(empty.call("GET", "/x"))).message).toMatch(/: no details given$/);
  });

  it("the password does not show when the client is inspected or serialized", async () => {
    const http = await serve(answering(200, ""));
    expect(JSON.stringify(http)).not.toContain(PASSWORD);
    expect(inspect(http, { depth: 5, showHidden: true })).not.toContain(PASSWORD);
  });
});

describe("the body deadline", () => {
  it("counts from the headers: a body dripped a byte at a time is cut at bodyTimeoutMs", async () => {
    const http = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write("{");
      const timer = setInterval(() => res.write(" "), 10);
      res.on("close", () => clearInterval(timer));
    }, 200);
    const error = await failure(http.call("GET", "/x"));
    expect(error).toMatchObject({ code: "unreachable", message: expect.stringContaining("sent the headers of GET /x but not the whole answer within 200 ms") });
  });

  it("does not apply to the event stream, which stays open past it", async () => {
    const http = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: 1\n\n");
      setTimeout(() => res.write("data: 2\n\n"), 300);
    }, 100);
    const controller = new AbortController();
    const body = await http.openEvents(controller.signal);
    const seen: string[] = [];
    for await (const chunk of body) {
      seen.push(Buffer.from(chunk).toString());
      if (seen.join("").includes("data: 2")) break;
    }
    controller.abort();
    expect(seen.join("")).toBe("data: 1\n\ndata: 2\n\n");
  });
});
