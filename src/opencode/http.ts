import { Pool, errors as undiciErrors, request, type Dispatcher } from "./undici.js";
import { credentialForms, redactor } from "../contract/redact.js";
import type { ErrorCode } from "../contract/replies.js";
import { TurnError } from "../contract/turn-error.js";

/** Where an opencode server is and how to talk to it. */
export interface ServerTarget {
  baseUrl: string;
  username: string;
  password: string | undefined;
  directory: string | undefined;
  connectTimeoutMs: number;
  /** The whole body of an answer (not of the event stream) must arrive within this. */
  bodyTimeoutMs: number;
}

export interface RequestOptions {
  body?: unknown;
  signal?: AbortSignal;
  /** The session the path names: a 404 then means that session does not exist. */
  sessionId?: string;
  /** A 404 answers `undefined` instead of failing (replying to an ask that is already settled). */
  missingIsFine?: boolean;
  /** The answer comes only once a turn is over (a slash command, a compaction): no timeout waits for it. */
  waitsForTurn?: boolean;
}

/** The server's own text in an error reply is clipped here: enough for its message, not for an HTML page. */
/**
 * Statuses a proxy in front of opencode answers while opencode is down or restarting (nginx's 502,
 * a load balancer's 503, a gateway's 504): the server is not available, rather than refusing.
 */
export const UPSTREAM_DOWN = new Set([502, 503, 504]);

const MESSAGE_LIMIT = 300;
/**
 * An idle pooled connection is kept this long. Turns call opencode in bursts a few seconds apart;
 * half a minute keeps the connection between them without holding sockets for idle hosts.
 */
const KEEP_ALIVE_MS = 30_000;
/** Of an error answer only the message is used: more than this is not read. */
const ERROR_BODY_LIMIT = 64 * 1024;
/** How long close() lets requests still in flight (an abort sent on the way out) finish before it cuts them. */
const CLOSE_GRACE_MS = 2_000;

/**
 * The HTTP side of one opencode server: an undici pool with keep-alive, Basic auth on every request,
 * and every status checked. Failures become a TurnError with the contract's code.
 */
export class OpencodeHttp {
  readonly origin: string;
  /** The target, less the password. */
  readonly target: Omit<ServerTarget, "password">;
  private readonly prefix: string;
  private readonly pool: Pool;
  /** A private field: it carries the credentials, which must not show when the object is inspected. */
  readonly #headers: Record<string, string>;
  /** Removes the credentials from a text (a server may echo the request's headers in an error). */
  readonly redact: (text: string) => string;

  constructor({ password, ...target }: ServerTarget) {
    this.target = target;
    const url = new URL(target.baseUrl);
    this.origin = url.origin;
    this.prefix = url.pathname.replace(/\/+$/, "");
    this.pool = new Pool(this.origin, {
      connect: { timeout: target.connectTimeoutMs },
      keepAliveTimeout: KEEP_ALIVE_MS,
    });
    this.redact = redactor(credentialForms(target.username, password));
    this.#headers = { accept: "application/json" };
    if (password !== undefined) {
      this.#headers.authorization = `Basic ${Buffer.from(`${target.username}:${password}`).toString("base64")}`;
    }
  }

  /** Calls an endpoint and returns its parsed JSON body (undefined when empty). */
  async call(method: "GET" | "POST", path: string, options: RequestOptions = {}): Promise<unknown> {
    const headers = options.body === undefined ? this.#headers : { ...this.#headers, "content-type": "application/json" };
    let response;
    let text: string;
    try {
      response = await request(this.pool, {
        method,
        path: this.path(path),
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: options.signal,
        // A server that accepts the connection but never answers is as dead as one that refuses it.
        headersTimeout: options.waitsForTurn ? 0 : this.target.connectTimeoutMs,
        bodyTimeout: this.target.bodyTimeoutMs,
      });
      text = await this.readBody(response.body, `${method} ${path}`, response.statusCode >= 300 ? ERROR_BODY_LIMIT : Infinity);
    } catch (error) {
      throw this.transportError(error, `${method} ${path}`);
    }
    if (response.statusCode === 404 && options.missingIsFine) return undefined;
    if (response.statusCode >= 300) throw this.statusError(response.statusCode, text, `${method} ${path}`, options.sessionId);
    if (text.length === 0) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw new TurnError(
        "unreachable",
        `opencode at ${this.origin} answered ${method} ${path} with a body that is not JSON (${this.redact(clip(text))}); is baseUrl an opencode server?`,
      );
    }
  }

  /** Opens `GET /event` and returns its body once the status is known to be 200. */
  async openEvents(signal: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
    let response;
    try {
      response = await request(this.pool, {
        method: "GET",
        path: this.path("/event"),
        headers: { ...this.#headers, accept: "text/event-stream" },
        signal,
        headersTimeout: this.target.connectTimeoutMs,
        // A silent stream is the heartbeat watchdog's call, not a body timeout's.
        bodyTimeout: 0,
      });
    } catch (error) {
      throw this.transportError(error, "GET /event");
    }
    if (response.statusCode !== 200) {
      const text = await this.readBody(response.body, "GET /event", ERROR_BODY_LIMIT).catch(() => "");
      throw this.statusError(response.statusCode, text, "GET /event");
    }
    return response.body;
  }

  /**
   * Closes the pool once the requests in flight are done, or cuts them after a short grace: a server
   * that drips an answer must not hold close() open.
   */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<"cut">((resolve) => (timer = setTimeout(() => resolve("cut"), Math.min(CLOSE_GRACE_MS, this.target.connectTimeoutMs))));
    const ended = await Promise.race([this.pool.close().then(() => "closed" as const), grace]);
    clearTimeout(timer);
    if (ended === "cut") await this.pool.destroy();
  }

  /**
   * Reads a body whole within the body timeout, counted from the headers (undici's own timeout is
   * between chunks, so a server that drips a byte at a time would never trip it). Past `limit`
   * bytes the rest is not read.
   */
  private async readBody(body: Dispatcher.ResponseData["body"], what: string, limit: number): Promise<string> {
    const ms = this.target.bodyTimeoutMs;
    const timer = setTimeout(() => {
      body.destroy(new TurnError("unreachable", `opencode at ${this.origin} sent the headers of ${what} but not the whole answer within ${ms} ms; is the server healthy?`));
    }, ms);
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of body) {
        chunks.push(chunk as Buffer);
        size += (chunk as Buffer).length;
        if (size >= limit) {
          body.destroy();
          break;
        }
      }
      return Buffer.concat(chunks).toString("utf8");
    } finally {
      clearTimeout(timer);
    }
  }

  private path(path: string): string {
    const full = this.prefix + path;
    if (this.target.directory === undefined) return full;
    const separator = full.includes("?") ? "&" : "?";
    return `${full}${separator}directory=${encodeURIComponent(this.target.directory)}`;
  }

  private transportError(error: unknown, what: string): TurnError {
    if (error instanceof TurnError) return error;
    const where = this.origin;
    if (error instanceof undiciErrors.ConnectTimeoutError) {
      return new TurnError("unreachable", `opencode at ${where} did not accept a connection within ${this.target.connectTimeoutMs} ms; is the server running?`);
    }
    if (error instanceof undiciErrors.HeadersTimeoutError) {
      return new TurnError("unreachable", `opencode at ${where} accepted ${what} but did not answer within ${this.target.connectTimeoutMs} ms; is the server healthy?`);
    }
    if ((error as { name?: string }).name === "AbortError" || error instanceof undiciErrors.RequestAbortedError) {
      return new TurnError("aborted", `${what} was cancelled`);
    }
    if (error instanceof undiciErrors.BodyTimeoutError) {
      return new TurnError("unreachable", `opencode at ${where} stopped sending its answer to ${what} for ${this.target.bodyTimeoutMs} ms; is the server healthy?`);
    }
    const code = (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;
    if (code !== undefined && UNTRUSTED_CERTIFICATE.has(code)) {
      return new TurnError(
        "unreachable",
        `opencode at ${where} answered with a TLS certificate this process does not trust (${code}); give Node its CA (NODE_EXTRA_CA_CERTS=ca.pem) or check the host name in baseUrl.`,
      );
    }
    if (code === "EPROTO" || code === "ERR_SSL_WRONG_VERSION_NUMBER") {
      return new TurnError("unreachable", `opencode at ${where} does not speak TLS (${code}); is baseUrl http://, not https://?`);
    }
    const reason = code ?? (error instanceof Error ? error.message : String(error));
    return new TurnError("unreachable", `Cannot reach opencode at ${where} (${this.redact(reason)}); is the server running and the URL right?`);
  }

  private statusError(status: number, body: string, what: string, sessionId?: string): TurnError {
    const answered = (code: ErrorCode, message: string) => new TurnError(code, message, status);
    if (status === 401 || status === 403) {
      return answered(
        "unauthorized",
        `opencode at ${this.origin} rejected the credentials (HTTP ${status}); check the server password (OPENCODE_SERVER_PASSWORD) and username.`,
      );
    }
    const message = this.redact(serverMessage(body));
    if (what === "GET /event") {
      // Without its event stream nothing can be done: whatever the status, the server is not usable here.
      return status === 404
        ? answered("unreachable", `${this.origin} has no opencode event stream (GET /event: HTTP 404); is baseUrl an opencode server?`)
        : answered("unreachable", `opencode at ${this.origin} did not open its event stream (HTTP ${status}): ${message}`);
    }
    if (status === 404 && sessionId !== undefined) {
      return answered("session_not_found", `opencode at ${this.origin} has no session ${sessionId} (HTTP 404); create a new one or check the id.`);
    }
    if (status === 404) {
      return answered("unreachable", `${this.origin} does not know ${what} (HTTP 404); is baseUrl an opencode server of a supported version?`);
    }
    if (status >= 400 && status < 500) {
      return answered("bad_request", `opencode refused ${what} (HTTP ${status}): ${message}`);
    }
    if (UPSTREAM_DOWN.has(status)) {
      return answered("unreachable", `opencode at ${this.origin} is not available (HTTP ${status} on ${what}): ${message}`);
    }
    return answered("internal", `opencode failed on ${what} (HTTP ${status}): ${message}`);
  }
}

/** Node's codes for a certificate it does not trust: self-signed, an unknown issuer, expired, or for another name. */
const UNTRUSTED_CERTIFICATE = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** The human part of an opencode error body: `{data: {message}}`, `{message}`, `{error}`, or the text. */
function serverMessage(body: string): string {
  if (body.length === 0) return "no details given";
  try {
    const json = JSON.parse(body) as Record<string, unknown>;
    const data = json.data as Record<string, unknown> | undefined;
    const found = data?.message ?? json.message ?? json.error ?? (Array.isArray(json.errors) ? JSON.stringify(json.errors) : undefined);
    if (typeof found === "string") return clip(found);
    if (found !== undefined) return clip(JSON.stringify(found));
  } catch {
    // Not JSON: the text is the message.
  }
  return clip(body);
}

function clip(text: string): string {
  return text.length > MESSAGE_LIMIT ? `${text.slice(0, MESSAGE_LIMIT)}…` : text;
}
