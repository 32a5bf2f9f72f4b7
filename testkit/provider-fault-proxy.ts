/**
 * An HTTP proxy in front of the scripted model that makes provider faults for the requests `faultOf`
 * picks, here in the test fixture so the shipped model server needs no option for them:
 * - `split-utf8`: the model's response re-written as byte slices cut inside multi-byte UTF-8
 *   sequences, each slice its own write a few ms apart (so its own TCP segment): a provider whose
 *   bytes arrive split mid-character;
 * - `http-error`: answered by the proxy itself with that status, its headers and an OpenAI-style
 *   error body, the model never asked: a provider that is down (500), refuses the key (401), or
 *   rate-limits with a `retry-after-ms` that opencode's retry waits for (429).
 * Every other request goes through as it is.
 */
import http from "node:http";
import { writeOrWait } from "../src/contract/backpressure.js";
import { closerOf, listenOnLoopback } from "../src/contract/loopback.js";
import type { ChatRequest } from "../src/embedded/model-server.js";

export type ProviderFault =
  | { kind: "split-utf8" }
  | { kind: "http-error"; status: number; message: string; headers?: Readonly<Record<string, string>> };

/** A request the proxy answered with an HTTP error itself. */
export interface Refusal {
  /** `Date.now()` when it was answered. */
  at: number;
  status: number;
}

export interface ProviderFaultProxy {
  /** The proxy's base URL, with the target's path (e.g. `http://127.0.0.1:PORT/v1`). */
  url: string;
  /** Slices written that end inside a character, over every split response so far. */
  readonly cutsInsideCharacters: number;
  /** Every request answered with an `http-error` fault, in order. */
  readonly refusals: readonly Refusal[];
  close(): Promise<void>;
}

/** Byte offsets that fall strictly inside multi-byte UTF-8 sequences of `buf`. */
export function cutsInsideCharacters(buf: Uint8Array): number[] {
  const cuts: number[] = [];
  for (let i = 1; i < buf.length; i++) {
    // A continuation byte (10xxxxxx): cutting before it splits a character.
    if ((buf[i]! & 0xc0) === 0x80) cuts.push(i);
  }
  // Every other split point: still plenty of splits, and slices that are not all 1 byte long.
  return cuts.filter((_, k) => k % 2 === 0);
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function faultOfBody(body: Buffer, faultOf: (request: ChatRequest) => ProviderFault | undefined): ProviderFault | undefined {
  try {
    return faultOf(JSON.parse(body.toString("utf8")) as ChatRequest);
  } catch {
    // Not JSON: the model server answers it (400).
    return undefined;
  }
}

/** Starts the proxy on a free loopback port, forwarding every request to `target` (a base URL). */
export async function startProviderFaultProxy(
  target: string,
  faultOf: (request: ChatRequest) => ProviderFault | undefined,
): Promise<ProviderFaultProxy> {
  const upstream = new URL(target);
  let cuts = 0;
  const refusals: Refusal[] = [];

  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (b: Buffer) => parts.push(b));
    req.on("end", () => {
      const body = Buffer.concat(parts);
      const fault = req.method === "POST" ? faultOfBody(body, faultOf) : undefined;
      if (fault?.kind === "http-error") {
        refusals.push({ at: Date.now(), status: fault.status });
        res.writeHead(fault.status, { ...fault.headers, "content-type": "application/json" }).end(JSON.stringify({ error: { message: fault.message } }));
        return;
      }
      const forwarded = http.request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.flushHeaders();
          if (fault?.kind !== "split-utf8") {
            answer.pipe(res);
            return;
          }
          void relaySplit(answer, res).catch(() => res.destroy());
        },
      );
      forwarded.on("error", () => res.destroy());
      // opencode went away: the model server sees its client go too.
      res.on("close", () => forwarded.destroy());
      forwarded.end(body);
    });
  });

  async function relaySplit(answer: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    for await (const chunk of answer as AsyncIterable<Buffer>) {
      let start = 0;
      const inside = cutsInsideCharacters(chunk);
      for (const cut of [...inside, chunk.length]) {
        if (!(await writeOrWait(res, chunk.subarray(start, cut)))) return;
        start = cut;
        await pause(2);
      }
      cuts += inside.length;
    }
    res.end();
  }

  const close = closerOf(server);
  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}${upstream.pathname.replace(/\/$/, "")}`,
    get cutsInsideCharacters() {
      return cuts;
    },
    refusals,
    close,
  };
}
