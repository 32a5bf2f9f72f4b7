/**
 * A child process serving the loopback stand-in for opencode (testkit/fake-opencode.ts), so
 * its CPU is not billed to the bench. A prompt whose text starts with "big" is answered by the big
 * turn: DELTAS deltas of ours with a frame of another session after every NOISE_EVERY of ours;
 * anything else by a three-word turn. Prints `{ url, password }` as one JSON line.
 *
 *   node --import tsx bench/stand-in.ts DELTAS NOISE_EVERY
 */
import * as E from "../testkit/events.js";
import { FakeOpencode, type Step } from "../testkit/fake-opencode.js";
import { serveUntilStopped } from "./child-server.js";

const deltas = Number(process.argv[2] ?? 200_000);
const noiseEvery = Number(process.argv[3] ?? 4);
const SESSION = "ses_BIGTURN_SESSION";
const MESSAGE = "msg_BIGTURN_MESSAGE";
const CHUNK = 64 * 1024;

/** The big turn's wire text, built once with placeholders for the session and user message. */
function bigTurnTemplate(): string {
  const words = Array.from({ length: deltas }, (_, i) => ` w${i}`);
  const ours = E.textTurn(SESSION, MESSAGE, "msg_assistant_big", words);
  const frames: string[] = [];
  let noise = 0;
  for (const [i, event] of ours.entries()) {
    frames.push(`data: ${JSON.stringify(event)}\n\n`);
    if (i % noiseEvery === noiseEvery - 1) {
      const other = `ses_other${noise % 5}`;
      const n = noise++;
      frames.push(`data: ${JSON.stringify(E.delta(other, "msg_other", "prt_other", ` n${n}`))}\n\n`);
    }
  }
  return frames.join("");
}

const template = bigTurnTemplate();

const server = await FakeOpencode.start({
  onPrompt: (prompt) => {
    const text = String(prompt.body.parts[0]?.text);
    if (!text.startsWith("big")) return E.textTurn(prompt.sessionId, prompt.body.messageID, `msg_a_${prompt.body.messageID}`, ["Hello", " there", " again"]);
    const bytes = Buffer.from(template.replaceAll(SESSION, prompt.sessionId).replaceAll(MESSAGE, prompt.body.messageID));
    const steps: Step[] = [];
    for (let at = 0; at < bytes.length; at += CHUNK) steps.push({ raw: bytes.subarray(at, at + CHUNK) });
    return steps;
  },
});
// What the stand-in records about every request is not needed here and would grow without end.
setInterval(() => {
  server.requests.length = 0;
  server.prompts.length = 0;
}, 1000).unref();
serveUntilStopped({ url: server.url, password: server.password }, server);
