/** Every file `npm run viz` writes into visualizations/, by name, so the test can compare them. */
import { Graphviz } from "@hpcc-js/wasm-graphviz";
import type { AnyStateMachine } from "xstate";
import { toDot } from "./dot.js";
import { toMermaid } from "./mermaid.js";
import { withMeasuredText } from "./svg-text.js";

export async function drawings(machine: AnyStateMachine): Promise<Record<string, string>> {
  const mermaid = toMermaid(machine);
  const dot = toDot(machine);
  const graphviz = await Graphviz.load();
  const caption = `The turn lifecycle of \`machines/turn.machine.ts\` (\`${machine.id}\`), generated from \`turnMachine.root\` by \`npm run viz\`; do not edit by hand.`;
  return {
    "turn.machine.mmd": mermaid,
    "turn.machine.md": `${caption}\n\n\`\`\`mermaid\n${mermaid}\`\`\`\n`,
    "turn.machine.dot": dot,
    "turn.machine.svg": withMeasuredText(graphviz.dot(dot), JSON.parse(graphviz.layout(dot, "json"))),
  };
}
