import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { startInspector, type LiveInspector } from "../../src/observe/inspector.js";
import * as E from "../../testkit/events.js";
import { FakeOpencode } from "../../testkit/fake-opencode.js";

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

/** A stand-in for the browser page: connects to the inspector's socket and keeps what it is sent. */
async function viewer(inspector: LiveInspector): Promise<{ messages: Array<Record<string, any>>; closed: Promise<void> }> {
  const socket = new WebSocket(inspector.url.replace("http", "ws"));
  const messages: Array<Record<string, any>> = [];
  socket.on("message", (data) => messages.push(JSON.parse(String(data))));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
  return { messages, closed };
}

describe("the live Stately inspector", () => {
  it("serves the page on loopback that embeds the inspector and feeds it from its own socket", async () => {
    const inspector = await startInspector();
    open.push(inspector);
    expect(inspector.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await (await fetch(inspector.url)).text();
    expect(page).toContain('src="https://stately.ai/inspect"');
    expect(page).toContain(JSON.stringify(inspector.url.replace("http", "ws")));
  });

  it("streams a turn's actors, events and snapshots to a viewer, in the inspector's format and without the password", async () => {
    const password = "pw-for-the-inspector-test";
    const server = await FakeOpencode.start({ password, onPrompt: (p) => E.textTurn(p.sessionId, p.body.messageID, "msg_a", ["Hi"]) });
    open.push(server);
    const inspector = await startInspector();
    const view = await viewer(inspector);
    await inspector.viewerConnected;
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password }, () => undefined, { inspect: inspector.inspect });
    try {
      expect(await adapter.prompt("hi")).toMatchObject({ outcome: "final" });
    } finally {
      await adapter.close();
      await inspector.close();
    }
    await view.closed;
    expect(JSON.stringify(view.messages)).not.toContain(password);
    const root = view.messages.find((m) => m.type === "@xstate.actor" && m.name === "turn");
    expect(root).toMatchObject({ _version: expect.any(String), definition: expect.stringContaining('"connectingStream"') });
    const events = view.messages.filter((m) => m.type === "@xstate.event" && m.sessionId === root!.sessionId).map((m) => m.event.type);
    expect(events).toEqual(expect.arrayContaining(["START", "EVENTS", "STREAM.READY"]));
    expect(view.messages.filter((m) => m.type === "@xstate.snapshot").at(-1)?.snapshot).toMatchObject({ status: "done", value: "done" });
  });

  it("a viewer that connects late gets what happened before it", async () => {
    const inspector = await startInspector();
    open.push(inspector);
    const { createActor, createMachine } = await import("xstate");
    createActor(createMachine({ id: "early" }), { inspect: inspector.inspect }).start().stop();
    await new Promise((resolve) => setTimeout(resolve, 0));
    const view = await viewer(inspector);
    await inspector.close();
    await view.closed;
    expect(view.messages.some((m) => m.type === "@xstate.actor" && m.name === "early")).toBe(true);
  });
});
