/**
 * An offline OpenAI-compatible chat-completions server on loopback that answers from a script.
 *
 * Point an opencode provider using `@ai-sdk/openai-compatible` at `ModelServer.url` (see
 * `modelProviderConfig`); every `POST /v1/chat/completions` is answered by the `respond` function
 * given to `startModelServer`, streamed as `chat.completion.chunk` SSE frames the way real
 * providers send them. The `--demo` model and the test suite's scripted model are both built on it.
 */
import http from "node:http";
import { writeOrWait } from "../contract/backpressure.js";
import { closerOf, listenOnLoopback } from "../contract/loopback.js";
import type { ChatRequest } from "./chat-request.js";
import { completionJson, frames, type Ctx } from "./chat-completion.js";
export { chunksOf, contentText, isTitleRequest, lastUserText, modelProviderConfig, toolResults, type ChatMessage, type ChatRequest } from "./chat-request.js";

export interface ModelServer {
  /** Base URL to give the provider, e.g. `http://127.0.0.1:PORT/v1`. */
  url: string;
  /** Number of `POST /v1/chat/completions` requests received so far (title requests included). */
  readonly requests: number;
  /** Streamed answers still being written (0 once every client went away or got its `[DONE]`). */
  readonly streaming: number;
  close(): Promise<void>;
}

export type ToolCall = { id: string; name: string; arguments: string };

/** A scripted answer: streamed, or one completion for a request that does not ask for a stream. */
export type Script = {
  kind: "stream";
  reasoning?: string[];
  text?: string[];
  toolCalls?: ToolCall[];
  /** Milliseconds to wait before each reasoning or text delta. */
  deltaDelayMs?: number;
  /** The prompt tokens the answer's usage reports (default 10): many make opencode see a nearly full context and compact. */
  promptTokens?: number;
};

/** Chooses the answer to a request. */
export type Respond = (request: ChatRequest) => Script;


function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

async function streamAnswer(
  res: http.ServerResponse,
  ctx: Ctx,
  script: Script,
  signal: AbortSignal,
): Promise<void> {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  res.flushHeaders();
  for (const f of frames(ctx, script)) {
    if (f.paced && script.deltaDelayMs) await sleep(script.deltaDelayMs, signal);
    if (!(await writeOrWait(res, f.data, signal))) return;
  }
  if (!signal.aborted) res.end();
}

/** Starts the server on a free loopback port; every request is answered by `respond`. */
export async function startModelServer(respond: Respond, modelIds: readonly string[] = []): Promise<ModelServer> {
  let requests = 0;
  let seq = 0;
  const inflight = new Set<AbortController>();

  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && (path === "/v1/models" || path === "/models")) {
      const created = Math.floor(Date.now() / 1000);
      const body = JSON.stringify({
        object: "list",
        data: modelIds.map((id) => ({ id, object: "model", created, owned_by: "opencode-turns" })),
      });
      res.writeHead(200, { "content-type": "application/json" }).end(body);
      return;
    }
    if (req.method !== "POST" || (path !== "/v1/chat/completions" && path !== "/chat/completions")) {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "not found" } }));
      return;
    }
    const parts: Buffer[] = [];
    req.on("data", (b: Buffer) => parts.push(b));
    req.on("error", () => res.destroy());
    req.on("end", () => {
      requests++;
      let body: ChatRequest;
      try {
        body = JSON.parse(Buffer.concat(parts).toString("utf8")) as ChatRequest;
      } catch {
        res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "bad json" } }));
        return;
      }
      const script = respond(body);
      const ctx: Ctx = { id: `chatcmpl-${++seq}`, model: body.model ?? modelIds[0] ?? "model", created: Math.floor(Date.now() / 1000) };
      if (body.stream !== true) {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(completionJson(ctx, script)));
        return;
      }
      const abort = new AbortController();
      inflight.add(abort);
      // The client went away (or close() destroyed the socket): stop writing at once.
      res.on("close", () => abort.abort());
      streamAnswer(res, ctx, script, abort.signal)
        .catch(() => res.destroy())
        .finally(() => inflight.delete(abort));
    });
  });
  const closeServer = closerOf(server);
  const port = await listenOnLoopback(server);

  return {
    url: `http://127.0.0.1:${port}/v1`,
    get requests() {
      return requests;
    },
    get streaming() {
      return inflight.size;
    },
    close() {
      for (const a of inflight) a.abort();
      return closeServer();
    },
  };
}
