/**
 * Auto-compaction mid-turn, live on opencode 1.18.33 and 1.15.13 (both compact alike): the model's
 * context is configured small (`limit.context` 20,000, `limit.output` 2,000) and the turn's first
 * answer reports 19,000 prompt tokens, so opencode finds the context overflowing, asks the model for
 * a summary, adds its synthetic "continue" user message and answers again. The answer after the
 * compaction must reach the host and end the turn.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Reply, type Vocabulary } from "../../src/contract/replies.js";
import { isTitleRequest, lastUserText, type ChatRequest, type Script } from "../../src/embedded/model-server.js";
import { OpenCodeAdapter } from "../../src/host/adapter.js";
import { MODEL_ID, OPENCODE_VERSIONS, PROVIDER_ID, startTestOpencode, type OpencodeServer } from "../../testkit/opencode-server.js";
import { startRecordedModel, type ScriptedModel } from "../../testkit/scripted-model.js";

const BEFORE = "Before compaction.";
const AFTER = "After compaction, the answer.";

/**
 * A prompt's first request reports the nearly full context; a request offering no tools is the
 * compaction's summary (opencode's compaction agent has none); any other is the answer, which
 * opencode asks for under its synthetic continue message.
 */
function scripted(): (req: ChatRequest) => { branch: string; script: Script } {
  const prompts = new Set<string>();
  return (req) => {
    if (isTitleRequest(req)) return { branch: "title", script: { kind: "stream", text: ["Title"] } };
    if ((req.tools ?? []).length === 0) return { branch: "summary", script: { kind: "stream", text: ["Summary: the user asked to fill the context."] } };
    const text = lastUserText(req);
    if (text.startsWith("FILL THE CONTEXT") && !prompts.has(text)) {
      prompts.add(text);
      return { branch: "full", script: { kind: "stream", text: [BEFORE], promptTokens: 19_000 } };
    }
    return { branch: "after", script: { kind: "stream", text: [AFTER] } };
  };
}

for (const version of OPENCODE_VERSIONS) describe(`opencode ${version}: auto-compaction mid-turn, live`, () => {
  let model: ScriptedModel;
  let server: OpencodeServer;

  beforeAll(async () => {
    model = await startRecordedModel(scripted(), [MODEL_ID]);
    server = await startTestOpencode({
      version,
      modelUrl: model.url,
      extraConfig: { provider: { [PROVIDER_ID]: { models: { [MODEL_ID]: { limit: { context: 20_000, output: 2_000 } } } } } },
    });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await model?.close();
  });

  async function compactingTurn(vocabulary: Vocabulary) {
    const replies: Reply[] = [];
    const adapter = new OpenCodeAdapter({ baseUrl: server.url, password: server.password }, (reply) => void replies.push(Reply.parse(reply)), {
      logger: { warn: () => undefined },
    });
    const from = model.log.length;
    try {
      const result = await adapter.prompt(`FILL THE CONTEXT [${vocabulary}], then answer`, `t-${vocabulary}`, { vocabulary });
      const requests = model.log.slice(from).filter((entry) => entry.branch !== "title");
      const branches = requests.map((entry) => entry.branch);
      const continued = requests.find((entry) => entry.branch === "after")?.lastUserText;
      const deltas = replies.flatMap((reply) => (reply.kind === "delta" ? [reply.content] : []));
      return { result, replies, branches, continued, deltas };
    } finally {
      await adapter.close();
    }
  }

  it("the answer after the compaction ends the turn: full vocabulary, with a compaction reply before it", async () => {
    const { result, replies, branches, continued, deltas } = await compactingTurn("full");
    // The answer, the summary, the answer under opencode's continue message: opencode compacted.
    expect(branches).toEqual(["full", "summary", "after"]);
    expect(continued).toMatch(/^Continue if you have next steps/);
    expect(result.outcome).toBe("final");
    const content = result.outcome === "final" ? result.content : "";
    // The text streamed before the compaction was already the host's deltas, so the final keeps it too.
    expect(content).toBe(deltas.join(""));
    expect(content).toBe(BEFORE + AFTER);
    expect(replies.at(-1)).toMatchObject({ kind: "final", content });
    const compaction = replies.findIndex((reply) => reply.kind === "compaction");
    const answer = replies.findIndex((reply) => reply.kind === "delta" && reply.content !== "" && AFTER.startsWith(reply.content));
    expect(compaction).toBeGreaterThanOrEqual(0);
    expect(compaction).toBeLessThan(answer);
  }, 60_000);

  it("the core vocabulary gets the same final, and no compaction reply", async () => {
    const { result, replies, branches, deltas } = await compactingTurn("core");
    expect(branches).toEqual(["full", "summary", "after"]);
    expect(result).toMatchObject({ outcome: "final", content: deltas.join("") });
    expect(result).toMatchObject({ outcome: "final", content: BEFORE + AFTER });
    expect(replies.map((reply) => reply.kind)).not.toContain("compaction");
  }, 60_000);
});
