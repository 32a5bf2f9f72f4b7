/**
 * The test suite's scripted model: the offline OpenAI-compatible server of `src/embedded/model-server.ts`
 * with a script chosen by keywords in the text of the LAST USER message (see `chooseScript`).
 * `opencode serve` is configured with it in `opencode-server.ts`. Nothing here touches the network.
 */
import {
  chunksOf,
  isTitleRequest,
  lastUserText,
  startModelServer,
  toolResults,
  type ChatRequest,
  type ModelServer,
  type Script,
} from "../src/embedded/model-server.js";
import { startProviderFaultProxy, type ProviderFault, type ProviderFaultProxy } from "./provider-fault-proxy.js";

/** What the scripted model recorded about one chat-completions request (tests read it; the shipped server keeps no log). */
export interface RecordedRequest {
  /** `Date.now()` when the request body had arrived. */
  at: number;
  /** The branch of the script that answered it. */
  branch: string;
  model: string | undefined;
  stream: boolean;
  /** Text of the last user message (string content or the joined text parts). */
  lastUserText: string;
  /** Names of the tools offered in the request. */
  tools: string[];
  /** The parsed request body, verbatim. */
  body: unknown;
}

export type ScriptedModel = ModelServer & {
  /** Every chat-completions request the model server received, in arrival order (not those a fault proxy refused). */
  readonly log: readonly RecordedRequest[];
};

export const DEFAULT_TEXT = "Hello from the scripted model.";
export const UNICODE_TEXT = "Héllo wörld — 你好, 世界 🎉👍🏽 done.";
export const TITLE_TEXT = "Scripted title";
/** The answer to a "retry once" prompt, given once opencode has retried past the 429 (see `faultsOfScript`). */
export const RETRIED_TEXT = "Answered after one retry.";
/** What opencode's retry waits after that 429, as its `retry-after-ms` header says (its default wait is 2 s). */
export const RETRY_AFTER_MS = 100;

function chooseScript(req: ChatRequest): { branch: string; script: Script } {
  if (isTitleRequest(req)) {
    return { branch: "title", script: { kind: "stream", text: [TITLE_TEXT] } };
  }
  const results = toolResults(req);
  if (results !== undefined) {
    return { branch: "tool-result", script: { kind: "stream", text: ["Tool said: ", results.join("\n")] } };
  }
  const text = lastUserText(req);
  const has = (kw: string) => text.toLowerCase().includes(kw);

  if (has("two tools")) {
    return {
      branch: "two-tools",
      script: {
        kind: "stream",
        toolCalls: [
          { id: "call_a", name: "bash", arguments: JSON.stringify({ command: "echo one", description: "first" }) },
          { id: "call_b", name: "bash", arguments: JSON.stringify({ command: "echo two", description: "second" }) },
        ],
      },
    };
  }
  if (has("unknown tool")) {
    return {
      branch: "unknown-tool",
      script: { kind: "stream", toolCalls: [{ id: "call_x", name: "no_such_tool", arguments: JSON.stringify({ x: 1 }) }] },
    };
  }
  if (has("ask question")) {
    // opencode's `question` tool: {questions: [{question, header, options: [{label, description}], multiple?}]}
    const args = {
      questions: [
        {
          question: "Shall I proceed?",
          header: "Proceed",
          options: [
            { label: "yes", description: "Go ahead" },
            { label: "no", description: "Stop here" },
          ],
        },
      ],
    };
    return {
      branch: "ask-question",
      script: { kind: "stream", toolCalls: [{ id: "call_q", name: "question", arguments: JSON.stringify(args) }] },
    };
  }
  if (has("delegate")) {
    // opencode's `task` tool: a subagent in a child session, whose prompt asks for a tool in turn.
    const args = { description: "Run a tool", prompt: "please use a tool", subagent_type: "general" };
    return {
      branch: "delegate",
      script: { kind: "stream", toolCalls: [{ id: "call_task", name: "task", arguments: JSON.stringify(args) }] },
    };
  }
  if (has("think, then use a tool")) {
    // A whole turn as taOS sees one: reasoning, a tool call and its result, then text.
    return {
      branch: "think-then-tool",
      script: {
        kind: "stream",
        reasoning: ["Let ", "me ", "run it."],
        toolCalls: [{ id: "call_t", name: "bash", arguments: JSON.stringify({ command: "echo thought-and-tool", description: "run it" }) }],
      },
    };
  }
  if (has("use a tool")) {
    return {
      branch: "use-a-tool",
      script: {
        kind: "stream",
        toolCalls: [
          { id: "call_1", name: "bash", arguments: JSON.stringify({ command: "echo hi-from-tool", description: "say hi" }) },
        ],
      },
    };
  }
  if (has("think")) {
    return {
      branch: "think",
      script: { kind: "stream", reasoning: ["Let ", "me ", "think."], text: ["Thought ", "it ", "through."] },
    };
  }
  if (has("slow")) {
    const text = Array.from({ length: 40 }, (_, i) => `slow ${i} `);
    return { branch: "slow", script: { kind: "stream", text, deltaDelayMs: 150 } };
  }
  if (has("paced")) {
    // Distinct deltas a few ms apart, so each can be timed on its way through (bench/real-opencode.bench.ts).
    const text = Array.from({ length: 100 }, (_, i) => ` p${i}`);
    return { branch: "paced", script: { kind: "stream", text, deltaDelayMs: 5 } };
  }
  if (has("long answer")) {
    const text = Array.from({ length: 3000 }, (_, i) => ` w${i}`);
    return { branch: "long-answer", script: { kind: "stream", text } };
  }
  if (has("retry once")) {
    // Its first request is refused with a 429 (see `faultsOfScript`); this answers the retry.
    return { branch: "retry-once", script: { kind: "stream", text: ["Answered ", "after ", "one ", "retry."] } };
  }
  if (has("unicode")) {
    // Its bytes reach opencode cut inside characters (see `faultsOfScript`).
    return { branch: "unicode", script: { kind: "stream", text: chunksOf(UNICODE_TEXT, 4) } };
  }
  const id = /\[id:([^\]\s]+)\]/.exec(text);
  const answer = ["Hello ", "from ", "the ", "scripted ", "model."];
  if (id) answer.push(` [id:${id[1]}]`);
  return { branch: "default", script: { kind: "stream", text: answer } };
}


/** A script that names each choice, so the request log says which branch answered. */
export type BranchingRespond = (request: ChatRequest) => { branch: string; script: Script };

/** The shipped model server answering from `respond`, with a log of every request (for tests to read). */
export async function startRecordedModel(respond: BranchingRespond, modelIds: readonly string[]): Promise<ScriptedModel> {
  const log: RecordedRequest[] = [];
  const recorded = (request: ChatRequest): Script => {
    const { branch, script } = respond(request);
    log.push({
      at: Date.now(),
      branch,
      model: request.model,
      stream: request.stream === true,
      lastUserText: lastUserText(request),
      tools: (request.tools ?? []).map((t) => t.function?.name ?? "?"),
      body: request,
    });
    return script;
  };
  // Object.assign keeps the server's getters (requests, streaming) live.
  return Object.assign(await startModelServer(recorded, modelIds), { log });
}

/**
 * The provider faults of the scripted model, made by the proxy in front of it: a prompt with
 * "fail500" or "fail401" is refused with that status every time (the model never sees it); the first
 * request of each "retry once" prompt is refused with a 429 and `retry-after-ms`, and its retry goes
 * through; the "unicode" branch's bytes are cut inside characters. One memory of "retry once"
 * prompts per scripted model, so a prompt repeated on another model fails once there too.
 */
export function faultsOfScript(): (req: ChatRequest) => ProviderFault | undefined {
  const rateLimited = new Set<string>();
  return (req) => {
    if (isTitleRequest(req) || toolResults(req) !== undefined) return undefined;
    const text = lastUserText(req).toLowerCase();
    if (text.includes("fail500")) return { kind: "http-error", status: 500, message: "scripted upstream failure" };
    if (text.includes("fail401")) return { kind: "http-error", status: 401, message: "scripted invalid api key" };
    const branch = chooseScript(req).branch;
    if (branch === "retry-once" && !rateLimited.has(text)) {
      rateLimited.add(text);
      return { kind: "http-error", status: 429, message: "scripted rate limit", headers: { "retry-after-ms": String(RETRY_AFTER_MS) } };
    }
    return branch === "unicode" ? { kind: "split-utf8" } : undefined;
  };
}

/** The scripted model behind the proxy that makes its provider faults (`faultsOfScript`). */
export type SplittingScriptedModel = ScriptedModel & {
  /** Cuts inside a character written to opencode so far. */
  readonly cutsInsideCharacters: number;
  /** The requests the proxy refused with an HTTP error, in order (the model never saw them). */
  readonly refusals: ProviderFaultProxy["refusals"];
};

export async function startScriptedModel(): Promise<SplittingScriptedModel> {
  const model = await startRecordedModel(chooseScript, ["scripted-model", "other-model"]);
  const proxy = await startProviderFaultProxy(model.url, faultsOfScript());
  return {
    url: proxy.url,
    log: model.log,
    get requests() {
      return model.requests;
    },
    get streaming() {
      return model.streaming;
    },
    get cutsInsideCharacters() {
      return proxy.cutsInsideCharacters;
    },
    refusals: proxy.refusals,
    async close() {
      await proxy.close();
      await model.close();
    },
  };
}
