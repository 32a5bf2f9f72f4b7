/**
 * Turns scripted step by step for the real-opencode tests: a prompt names its turn by a keyword, and
 * each model request of that turn gets the next script of the turn's list (a tool call, then its
 * follow-up, then the answer), counted by the assistant messages since the last user message.
 */
import { isTitleRequest, lastUserText, type ChatRequest, type Script } from "../src/embedded/model-server.js";

/** A model step that calls one tool. */
export const toolCall = (id: string, name: string, args: object): Script => ({ kind: "stream", toolCalls: [{ id, name, arguments: JSON.stringify(args) }] });

/** A model step that streams text, a delta per argument. */
export const say = (...text: string[]): Script => ({ kind: "stream", text });

/** Model steps taken since the last user message: which step of the turn a request is. */
function stepOf(req: ChatRequest): number {
  const messages = req.messages ?? [];
  const lastUser = messages.findLastIndex((m) => m.role === "user");
  return messages.slice(lastUser + 1).filter((m) => m.role === "assistant").length;
}

/**
 * The scripted model's answer to each request: a title for opencode's title requests; for a prompt
 * holding one of `turns()`'s keywords, that turn's script for this step (its last one from then on);
 * "Hello." for any other. The branch names the keyword and step, for the model's request log.
 */
export function scriptsByKeyword(turns: () => Record<string, Script[]>): (req: ChatRequest) => { branch: string; script: Script } {
  return (req) => {
    if (isTitleRequest(req)) return { branch: "title", script: say("Title") };
    const text = lastUserText(req);
    const step = stepOf(req);
    const steps = turns();
    const key = Object.keys(steps).find((k) => text.includes(k));
    const script = key === undefined ? say("Hello.") : steps[key]![Math.min(step, steps[key]!.length - 1)]!;
    return { branch: `${key ?? "default"}:${step}`, script };
  };
}
