/**
 * The Stately inspector, live and local. `@statelyai/inspect` turns XState's inspection events into
 * the inspector's; a loopback HTTP + WebSocket server hands them to a browser page that embeds the
 * inspector (a web page on stately.ai) and posts them into it. Unlike the package's own server this
 * one listens on loopback only and on a free port: the events hold the prompt and the answer.
 */
import { createServer } from "node:http";
import type { StatelyInspectionEvent } from "@statelyai/inspect";
import type { InspectionEvent, Observer } from "xstate";
import type { WebSocket } from "ws";
import { listenOnLoopback } from "../contract/loopback.js";
import { toJsonSafe } from "./inspection-log.js";

/** Where the page loads the inspector from. */
const STATELY_INSPECTOR_URL = "https://stately.ai/inspect";
/** Events kept for a viewer that connects late: enough for a long turn's last steps, bounded so a long session does not grow memory. */
const KEPT_FOR_LATE_VIEWERS = 2000;

export interface LiveInspector {
  /** The page to open in a browser, e.g. `http://127.0.0.1:PORT/`. */
  readonly url: string;
  /** Pass as `AdapterOptions.inspect`. */
  readonly inspect: Observer<InspectionEvent>;
  /** Resolves when the first browser page has connected. */
  readonly viewerConnected: Promise<void>;
  /** Sends what is still pending, then closes the viewers' connections and the server. */
  close(): Promise<void>;
}

export async function startInspector(): Promise<LiveInspector> {
  // Loaded here, not with the package: only a host that inspects pays for them.
  const [{ createInspector }, { WebSocketServer }] = await Promise.all([import("@statelyai/inspect"), import("ws")]);
  // Known once it listens; a page is only asked for after that.
  let port = 0;
  const http = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end(bridgePage(`ws://127.0.0.1:${port}/`));
  });
  const sockets = new WebSocketServer({ server: http });
  const kept: string[] = [];
  let connected!: () => void;
  const viewerConnected = new Promise<void>((resolve) => (connected = resolve));
  sockets.on("connection", (socket) => {
    for (const message of kept) socket.send(message);
    connected();
  });
  const inspector = createInspector(
    {
      send(event: StatelyInspectionEvent) {
        const message = JSON.stringify(event);
        kept.push(message);
        if (kept.length > KEPT_FOR_LATE_VIEWERS) kept.shift();
        for (const socket of sockets.clients) socket.send(message);
      },
    },
    // Actor references, Maps and errors in snapshots become plain JSON, without secrets.
    { serialize: (event) => toJsonSafe(event) as StatelyInspectionEvent },
  );
  port = await listenOnLoopback(http);
  return {
    url: `http://127.0.0.1:${port}/`,
    inspect: inspector.inspect,
    viewerConnected,
    async close() {
      // The package converts each event on a zero-delay timer; a timer set now runs after them.
      await new Promise((resolve) => setTimeout(resolve, 0));
      await Promise.all([...sockets.clients].map(closeSocket));
      await new Promise<void>((resolve) => sockets.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** Closes a viewer's connection after what was sent to it, or at once if it does not answer. */
function closeSocket(socket: WebSocket): Promise<void> {
  if (socket.readyState === socket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => socket.terminate(), 1000);
    socket.once("close", () => {
      clearTimeout(force);
      resolve();
    });
    socket.close();
  });
}

/** The page: the inspector in a frame, fed from our WebSocket once it says it is ready. */
function bridgePage(socketUrl: string): string {
  return `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>opencode-turns: Stately inspector</title>
<style>html, body, iframe { margin: 0; width: 100%; height: 100%; border: 0; }</style>
</head>
<body>
<iframe id="inspector" src="${STATELY_INSPECTOR_URL}"></iframe>
<script>
  const frame = document.getElementById("inspector");
  const waiting = [];
  let ready = false;
  window.addEventListener("message", (message) => {
    if (message.data && message.data.type === "@statelyai.connected") {
      ready = true;
      for (const event of waiting.splice(0)) frame.contentWindow.postMessage(event, "*");
    }
  });
  new WebSocket(${JSON.stringify(socketUrl)}).onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (ready) frame.contentWindow.postMessage(event, "*");
    else waiting.push(event);
  };
</script>
</body>
</html>
`;
}
