/**
 * The scripted model (testkit/scripted-model.ts) in a child process, for the benches against real
 * opencode: the model's work is opencode's upstream, not the engine's. Prints `{ url }` as one JSON line.
 *
 *   node --import tsx bench/model-process.ts
 */
import { startScriptedModel } from "../testkit/scripted-model.js";

const model = await startScriptedModel();
process.stdout.write(`${JSON.stringify({ url: model.url })}\n`);
process.on("SIGTERM", () => void model.close().then(() => process.exit(0)));
