import type { Reply } from "../src/contract/replies.js";

/**
 * The replies with each run of consecutive deltas of one turn joined. The hub joins the delta frames
 * that arrive together into one reply, so how many delta replies carry a text depends on how the
 * bytes arrived; the text and the order do not, and that is what tests compare.
 */
export function joinedDeltas(replies: readonly Reply[]): Reply[] {
  const out: Reply[] = [];
  for (const reply of replies) {
    const last = out.at(-1);
    if (reply.kind === "delta" && last?.kind === "delta" && last.trace_id === reply.trace_id) out[out.length - 1] = { ...last, content: last.content + reply.content };
    else out.push(reply);
  }
  return out;
}
