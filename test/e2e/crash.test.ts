/**
 * opencode crashes mid-answer (SIGKILL of its process group) and a supervisor starts it again on the
 * same port with the same data, against real opencode (both versions). Back up, opencode shows the
 * session idle with the answer stored unfinished: the turn must end `error` ("cut off"), not `final`
 * with half an answer, and soon after the server is back, not a connect timeout later.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { Reply } from "../../src/contract/replies.js";
import { CuttingProxy } from "../../testkit/cutting-proxy.js";
import { OPENCODE_VERSIONS, startTestOpencode, warmUp, type OpencodeServer } from "../../testkit/opencode-server.js";
import { DEFAULT_TEXT, startScriptedModel, type ScriptedModel } from "../../testkit/scripted-model.js";

/**
 * From the server listening again to the turn's end: an attempt that landed on the starting server
 * waits at most 2 s (REOPEN_TRY_MS), the next comes within 1 s, then the stream opens and the turn
 * is reconciled (about 0.5 s).
 */
const BACK_TO_END_MS = 2000 + 1000 + 500;
/** Slack for a shared, loaded machine; the default connect timeout (10 s) is what must not be waited. */
const SLACK_MS = 2500;

const VIAS = ["directly", "through a proxy that holds connections while opencode is down"] as const;

for (const version of OPENCODE_VERSIONS) {
  describe(`opencode ${version}: crashed mid-answer and restarted on the same port and data`, () => {
    let model: ScriptedModel;
    let server: OpencodeServer;
    const closing: Array<{ close(): Promise<void> }> = [];

    beforeAll(async () => {
      model = await startScriptedModel();
      server = await startTestOpencode({ version, modelUrl: model.url });
      // The turn crashed is not the first, slow one.
      await warmUp(server);
    });

    afterAll(async () => {
      await Promise.all(closing.map((c) => c.close()));
      await server?.stop();
      await model?.close();
    });

    for (const via of VIAS) {
      it(`${via}: one terminal reply, an error saying the answer was cut off, within ${BACK_TO_END_MS} ms of the server being back`, async () => {
        const proxy = via === "directly" ? undefined : await CuttingProxy.start(server.url, { holdWhileDown: true });
        if (proxy) closing.push(proxy);
        const replies: Reply[] = [];
        const adapter = new OpenCodeAdapter({ baseUrl: proxy?.url ?? server.url, password: server.password }, (reply) => void replies.push(Reply.parse(reply)));
        closing.push(adapter);
        const terminal = () => replies.filter((r) => r.kind === "final" || r.kind === "error");

        const pending = adapter.prompt("slow please");
        await expect.poll(() => replies.filter((r) => r.kind === "delta").length, { timeout: 20_000 }).toBeGreaterThan(2);
        expect(terminal()).toEqual([]);
        await server.crash();
        await server.restart();
        const backAt = Date.now();
        const result = await pending;
        const backToEnd = Date.now() - backAt;
        // Nothing more comes after the terminal reply.
        await new Promise((resolve) => setTimeout(resolve, 300));

        expect(terminal()).toHaveLength(1);
        expect(replies.at(-1)).toMatchObject({ kind: "error", code: "internal", error: expect.stringContaining("The answer was cut off") });
        expect(result).toMatchObject({ outcome: "error", code: "internal", error: expect.stringContaining("The answer was cut off") });
        expect(backToEnd).toBeLessThan(BACK_TO_END_MS + SLACK_MS);
        console.info(`opencode ${version}, ${via}: the turn ended ${backToEnd} ms after the server was back`);

        const next = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, () => undefined);
        closing.push(next);
        expect(await next.prompt("say hello")).toMatchObject({ outcome: "final", content: DEFAULT_TEXT });
      }, 120_000);
    }
  });
}
