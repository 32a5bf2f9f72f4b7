/**
 * Draws the turn machine from the machine itself, into visualizations/: the Mermaid diagram
 * (turn.machine.mmd, and turn.machine.md to read it rendered), the Graphviz source (turn.machine.dot)
 * and its SVG (turn.machine.svg, rendered offline by Graphviz compiled to WebAssembly), which the
 * README shows. test/diagram.test.ts fails when they are stale.
 *
 *   npm run viz
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { turnMachine } from "../machines/turn.machine.js";
import { drawings } from "./drawings.js";

const dir = new URL("../visualizations/", import.meta.url);
mkdirSync(dir, { recursive: true });
for (const [name, text] of Object.entries(await drawings(turnMachine))) {
  writeFileSync(new URL(name, dir), text);
  process.stdout.write(`visualizations/${name}\n`);
}
