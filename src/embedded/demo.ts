/**
 * The offline demo: an embedded, isolated opencode wired to a built-in model on loopback. The model
 * is a script, everything else is real: opencode runs its `bash` tool in a temporary directory, and
 * the answer streams reasoning, the tool call and its result, and text. No API key, no network.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import {
  isTitleRequest,
  lastUserText,
  modelProviderConfig,
  startModelServer,
  toolResults,
  type ChatRequest,
  type Script,
} from "./model-server.js";
import { oneLine } from "../contract/one-line.js";
import { startOpencode, type OpencodeProcess } from "./server.js";

export const DEMO_PROVIDER_ID = "opencode-turns-demo";
export const DEMO_MODEL_ID = "offline-demo";

/** The command the demo model asks opencode to run. */
export const DEMO_COMMAND = "pwd && ls -A";

export interface DemoServer extends OpencodeProcess {
  providerID: string;
  modelID: string;
}

export interface StartDemoOptions {
  /** The opencode binary (see `startOpencode`). */
  bin?: string;
  /** Milliseconds between two streamed pieces of reasoning or text, so the streaming shows. Default 12. */
  deltaDelayMs?: number;
  /**
   * `ask`: opencode asks permission before the demo's `bash` call, so a host's permission policy
   * (or the bridge's host) is asked. Default `allow`: the command runs without an ask.
   */
  bash?: "ask" | "allow";
}

/**
 * Starts the demo model and an isolated opencode that uses it; `stop()` ends both. A host can run
 * its integration against it offline (in its own CI): the turns are real opencode turns, only the
 * model is a script.
 */
export async function startDemo(options: StartDemoOptions = {}): Promise<DemoServer> {
  const model = await startModelServer(demoScript(options.deltaDelayMs ?? 12), [DEMO_MODEL_ID]);
  let server: OpencodeProcess;
  try {
    server = await startOpencode({
      ...(options.bin ? { bin: options.bin } : {}),
      isolated: true,
      // The demo's config defines its one provider and model: the bundled catalog would be read for nothing.
      emptyModelCatalog: true,
      config: {
        autoupdate: false,
        share: "disabled",
        provider: { [DEMO_PROVIDER_ID]: modelProviderConfig(model.url, "opencode-turns demo", { [DEMO_MODEL_ID]: "Offline demo" }) },
        model: `${DEMO_PROVIDER_ID}/${DEMO_MODEL_ID}`,
        small_model: `${DEMO_PROVIDER_ID}/${DEMO_MODEL_ID}`,
        ...(options.bash === "ask" ? { permission: { bash: "ask" } } : {}),
      },
    });
  } catch (error) {
    await model.close();
    throw error;
  }
  await writeFile(
    path.join(server.directory, "NOTES.md"),
    "A scratch directory made for one run of the opencode-turns offline demo; it is removed when the demo stops.\n",
  );
  return {
    ...server,
    providerID: DEMO_PROVIDER_ID,
    modelID: DEMO_MODEL_ID,
    stop: async () => {
      await server.stop();
      await model.close();
    },
  };
}

/** Pieces of about `size` characters, cut after spaces, so text streams word by word. */
function pieces(text: string, size = 12): string[] {
  const out: string[] = [];
  let current = "";
  for (const word of text.split(/(?<= )/)) {
    current += word;
    if (current.length >= size) {
      out.push(current);
      current = "";
    }
  }
  if (current) out.push(current);
  return out;
}

/**
 * The demo's answer: first reasoning and a `bash` call, then (with the tool's output in hand)
 * reasoning again and an answer that quotes the output. Titles get a fixed title.
 */
function demoScript(deltaDelayMs: number): (request: ChatRequest) => Script {
  return (request) => {
    if (isTitleRequest(request)) return { kind: "stream", text: ["Offline demo"] };
    const results = toolResults(request);
    const asked = oneLine(lastUserText(request), 80);
    if (results === undefined) {
      return {
        kind: "stream",
        deltaDelayMs,
        reasoning: pieces(
          `The question is "${asked}". I am the offline demo model: no network and no real language model, ` +
            "so I cannot read much, but I can show every kind of reply. Let me look at the directory opencode runs me in.",
        ),
        toolCalls: [
          { id: "call_demo_1", name: "bash", arguments: JSON.stringify({ command: DEMO_COMMAND, description: "Show the working directory" }) },
        ],
      };
    }
    const output = results.join("\n").trim();
    const shown = output.split("\n").slice(0, 6).map((line) => `    ${line}`).join("\n");
    return {
      kind: "stream",
      deltaDelayMs,
      reasoning: pieces("opencode ran the command for real; now I can answer with what it printed."),
      text: pieces(
        `This is the offline demo of opencode-turns, answering "${asked}".\n\n` +
          `opencode ran \`${DEMO_COMMAND}\` in a temporary directory, which printed:\n\n${shown}\n\n` +
          "Everything you saw was a real opencode turn: my thinking came as `reasoning` replies, the command as a " +
          "`tool_call` and its output as a `tool_result`, and this text as `delta` replies, ending with one `final`. " +
          "Only the model is a script. Run without --demo to use your own opencode and its providers, " +
          "or give --url to drive a running `opencode serve`.\n",
      ),
    };
  };
}
