/**
 * Writes the turn machine's Mermaid diagram: visualizations/turn.machine.mmd (also printed),
 * visualizations/turn.machine.md, and the README's diagram section. test/diagram.test.ts fails when
 * they are stale.
 *
 *   npm run viz
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { turnMachine } from "../machines/turn.machine.js";
import { toMermaid, withDiagram } from "./mermaid.js";

const diagram = toMermaid(turnMachine);
const dir = new URL("../visualizations/", import.meta.url);
mkdirSync(dir, { recursive: true });
writeFileSync(new URL("turn.machine.mmd", dir), diagram);
const caption = `The turn lifecycle of \`machines/turn.machine.ts\` (\`${turnMachine.id}\`), generated from \`turnMachine.root\` by \`npm run viz\`; do not edit by hand.`;
writeFileSync(new URL("turn.machine.md", dir), `${caption}\n\n\`\`\`mermaid\n${diagram}\`\`\`\n`);
const readme = new URL("../README.md", import.meta.url);
writeFileSync(readme, withDiagram(readFileSync(readme, "utf8"), diagram));
process.stdout.write(diagram);
