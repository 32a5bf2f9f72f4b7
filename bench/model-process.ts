/**
 * The scripted model (testkit/scripted-model.ts) in a child process, for the benches against real
 * opencode: the model's work is opencode's upstream, not the engine's. Prints `{ url }` as one JSON line.
 *
 *   node --import tsx bench/model-process.ts
 */
import { startScriptedModel } from "../testkit/scripted-model.js";
import { serveUntilStopped } from "./child-server.js";

const model = await startScriptedModel();
serveUntilStopped({ url: model.url }, model);
