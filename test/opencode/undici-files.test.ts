import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as undici from "undici";
import { describe, expect, it } from "vitest";
import { errors, Pool, request } from "../../src/opencode/undici.js";

// The library takes three files of undici instead of its index (src/opencode/undici.ts): what they
// give must be undici's own, and nothing may bring the index back, in the library or the CLI.
const root = fileURLToPath(new URL("../..", import.meta.url));

describe("undici, by file", () => {
  it("is undici's own Pool and errors, shared with a host that imports undici", () => {
    expect(Pool).toBe(undici.Pool);
    expect(errors).toBe(undici.errors);
    expect(new errors.ConnectTimeoutError()).toBeInstanceOf(undici.errors.UndiciError);
  });

  it("request() sends through a pool as its method would, and reads the answer", async () => {
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk));
      req.on("end", () => res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ method: req.method, path: req.url, body })));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const response = await request(pool, { method: "POST", path: "/session/x", body: "hello" });
      expect(response.statusCode).toBe(201);
      expect(await response.body.json()).toEqual({ method: "POST", path: "/session/x", body: "hello" });
    } finally {
      await pool.close();
      server.close();
    }
  });

  it("the built library loads none of undici's index: not the index, not fetch's WebSocket, not its mocks", async () => {
    const probe = `
      import { createRequire } from "node:module";
      await import(${JSON.stringify(`${root}dist/index.js`)});
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((file) => file.includes("/node_modules/undici/"));
      console.log(JSON.stringify(loaded.map((file) => file.slice(file.indexOf("/node_modules/undici/") + "/node_modules/undici/".length))));`;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", probe], { cwd: root });
    const loaded = JSON.parse(stdout) as string[];
    expect(loaded).toContain("lib/dispatcher/pool.js");
    expect(loaded).not.toContain("index.js");
    expect(loaded.filter((file) => file.startsWith("lib/web/websocket/") || file.startsWith("lib/mock/") || file.startsWith("lib/cache/"))).toEqual([]);
  });

  it("the CLI's bundle holds the files it uses, not undici's index", () => {
    const bundle = readFileSync(`${root}dist/src/cli/main.js`, "utf8");
    expect(bundle).toContain("// node_modules/undici/lib/dispatcher/pool.js");
    expect(bundle).not.toContain("// node_modules/undici/index.js");
    expect(bundle).not.toContain("// node_modules/undici/lib/web/websocket/");
  });
});
