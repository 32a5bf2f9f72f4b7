import { readFileSync } from "node:fs";
import type { AnyStateNode } from "xstate";
import { describe, expect, it } from "vitest";
import { turnMachine } from "../machines/turn.machine.js";
import { toMermaid, withDiagram } from "../scripts/mermaid.js";

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), "utf8");

describe("the state diagram", () => {
  const diagram = toMermaid(turnMachine);

  it("committed in visualizations/ is the machine's current shape (run `npm run viz` if not)", () => {
    expect(read("visualizations/turn.machine.mmd")).toBe(diagram);
  });

  it("in visualizations/turn.machine.md is the same diagram", () => {
    expect(read("visualizations/turn.machine.md")).toContain(`\`\`\`mermaid\n${diagram}\`\`\``);
  });

  it("in the README is the same diagram", () => {
    const readme = read("README.md");
    expect(withDiagram(readme, diagram)).toBe(readme);
  });

  it("names every state of the machine", () => {
    const keys = (node: AnyStateNode): string[] => Object.values(node.states).flatMap((child) => [child.key, ...keys(child)]);
    const states = keys(turnMachine.root);
    expect(states).toContain("answeringAsk");
    for (const state of states) expect(diagram).toMatch(new RegExp(`\\b${state}\\b`));
  });
});
