import net from "node:net";
import { describe, expect, it } from "vitest";
import { closerOf, listenOnLoopback } from "../../src/contract/loopback.js";

describe("listenOnLoopback", () => {
  it("listens on 127.0.0.1 only, on the port it resolves with", async () => {
    const server = net.createServer((socket) => socket.end("hi"));
    const port = await listenOnLoopback(server);
    try {
      expect(server.address()).toMatchObject({ address: "127.0.0.1", port });
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(port, "127.0.0.1");
        socket.on("data", (data) => resolve(String(data)));
        socket.on("error", reject);
      });
      expect(answer).toBe("hi");
    } finally {
      await new Promise((closed) => server.close(closed));
    }
  });

  it("rejects when the server cannot listen", async () => {
    const server = net.createServer();
    await listenOnLoopback(server);
    await expect(listenOnLoopback(server)).rejects.toThrow();
    await new Promise((closed) => server.close(closed));
  });
});

describe("closerOf", () => {
  it("closes a server a keep-alive client still holds a connection to, once however often called", async () => {
    const server = net.createServer();
    const close = closerOf(server);
    const port = await listenOnLoopback(server);
    const client = net.connect(port, "127.0.0.1");
    await new Promise((connected) => client.once("connect", connected));
    const ended = new Promise((gone) => client.once("close", gone));
    const first = close();
    expect(close()).toBe(first);
    await first;
    await ended;
    expect(server.listening).toBe(false);
  });
});
