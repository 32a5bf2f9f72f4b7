import { FULL_ONLY_KINDS, type Reply } from "../src/contract/replies.js";

// What tests of the full vocabulary share: its replies brought back to the core vocabulary.

const fullOnly = new Set<string>(FULL_ONLY_KINDS);

/** The full vocabulary's replies without what only it says: what the core vocabulary gives for the same events. */
export function asCore(replies: readonly Reply[]): Reply[] {
  return replies.flatMap((reply): Reply[] => {
    if (fullOnly.has(reply.kind)) return [];
    if (reply.kind !== "tool_result") return [reply];
    const { title: _title, files: _files, ...core } = reply as Extract<Reply, { kind: "tool_result" }> & { title?: string; files?: unknown };
    return [core as Reply];
  });
}

/** The steps' tokens and cost, summed as the turn's `usage` sums them. */
export function summedSteps(replies: readonly Reply[]) {
  const steps = replies.filter((r): r is Extract<Reply, { kind: "step" }> => r.kind === "step");
  if (steps.length === 0) return undefined;
  const sum = { tokens: { input: 0, output: 0, reasoning: 0, cache: { read: 0, write: 0 } }, cost: 0 };
  for (const { tokens, cost } of steps) {
    sum.tokens.input += tokens.input;
    sum.tokens.output += tokens.output;
    sum.tokens.reasoning += tokens.reasoning;
    sum.tokens.cache.read += tokens.cache.read;
    sum.tokens.cache.write += tokens.cache.write;
    sum.cost += cost;
  }
  return sum;
}
