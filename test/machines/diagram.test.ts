import { readFileSync } from "node:fs";
import { Graphviz } from "@hpcc-js/wasm-graphviz";
import type { AnyStateNode } from "xstate";
import { describe, expect, it } from "vitest";
import { turnMachine } from "../../machines/turn.machine.js";
import { drawings } from "../../scripts/drawings.js";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");
const keys = (node: AnyStateNode): string[] => Object.values(node.states).flatMap((child) => [child.key, ...keys(child)]);

/** Where Graphviz put every piece of text (xdot "T" operations), as boxes in points. */
interface TextBox {
  owner: string;
  text: string;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}
type DrawOp = { op: string; size?: number; pt?: [number, number]; align?: "l" | "c" | "r"; width?: number; text?: string };

function textBoxes(layout: { objects?: Array<{ name: string; _ldraw_?: DrawOp[] }>; edges?: Array<{ tail: number; head: number; _ldraw_?: DrawOp[] }> }): TextBox[] {
  const owners = [...(layout.objects ?? []).map((o) => ({ owner: o.name, ops: o._ldraw_ })), ...(layout.edges ?? []).map((e) => ({ owner: `edge ${e.tail}->${e.head}`, ops: e._ldraw_ }))];
  const boxes: TextBox[] = [];
  for (const { owner, ops } of owners) {
    let size = 14;
    for (const op of ops ?? []) {
      if (op.op === "F") size = op.size!;
      if (op.op !== "T" || !op.text?.trim()) continue;
      const [x, y] = op.pt!;
      const x0 = op.align === "l" ? x : op.align === "r" ? x - op.width! : x - op.width! / 2;
      // The baseline is at y (pointing up); letters reach about 0.8 of the size above it and 0.2 below.
      boxes.push({ owner, text: op.text.trim(), x0, x1: x0 + op.width!, y0: y - 0.2 * size, y1: y + 0.8 * size });
    }
  }
  return boxes;
}

describe("the state diagrams", async () => {
  const files = await drawings(turnMachine);
  const states = keys(turnMachine.root);
  const layout = JSON.parse((await Graphviz.load()).layout(files["turn.machine.dot"]!, "json"));

  it.each(Object.keys(files))("committed visualizations/%s is what `npm run viz` draws from the machine now", (name) => {
    expect(read(`visualizations/${name}`)).toBe(files[name]);
  });

  it("the README shows the SVG", () => {
    expect(read("README.md")).toContain("(visualizations/turn.machine.svg)");
  });

  it("every state is shown by its name, in both diagrams", () => {
    expect(states).toEqual(expect.arrayContaining(["idle", "live", "streaming", "receiving", "answeringAsk", "done", "errored"]));
    const svgText = [...files["turn.machine.svg"]!.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!.trim());
    for (const state of states) expect(svgText).toContain(state);
    // Mermaid titles a state with its first description line: the name must be that line.
    const mermaid = files["turn.machine.mmd"]!;
    for (const state of states) {
      const described = mermaid.match(new RegExp(`^\\s*${state} : (.*)$`, "m"));
      if (described) expect(described[1]).toBe(state);
      else expect(mermaid).toMatch(new RegExp(`^\\s*(state )?${state}( \\{)?$`, "m"));
    }
  });

  it("guards show with their arguments", () => {
    for (const drawing of [files["turn.machine.mmd"]!, files["turn.machine.svg"]!]) {
      expect(drawing).toContain("[not(hasRefusal)]");
      expect(drawing).not.toContain("[not]");
    }
  });

  it("no two labels overlap in the SVG (the lines of one label are set by Graphviz itself)", () => {
    const boxes = textBoxes(layout);
    expect(boxes.length).toBeGreaterThan(states.length);
    const overlaps: string[] = [];
    for (const [i, a] of boxes.entries()) {
      for (const b of boxes.slice(i + 1)) {
        if (a.owner !== b.owner && a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1) overlaps.push(`"${a.text}" (${a.owner}) and "${b.text}" (${b.owner})`);
      }
    }
    expect(overlaps).toEqual([]);
  });

  it("no name or line is wider than its box, whatever font the viewer has: each text is drawn at the width Graphviz measured (textLength)", () => {
    const svg = read("visualizations/turn.machine.svg");
    const fonts = new Set([...svg.matchAll(/font-family="([^"]+)"/g)].map((m) => m[1]));
    // A family a viewer without Helvetica still has; textLength makes its widths not matter.
    expect([...fonts]).toEqual(["Helvetica,Arial,sans-serif"]);
    const problems: string[] = [];
    let checked = 0;
    // One segment per Graphviz group (the graph, each cluster, node and edge): its first shape, then its texts.
    for (const group of svg.split(/(?=<g id=")/).slice(1)) {
      const kind = /class="([a-z]+)"/.exec(group)?.[1];
      for (const [, attributes, text] of group.matchAll(/<text ([^>]*)>([^<]*)<\/text>/g)) {
        const attr = (name: string) => new RegExp(`\\b${name}="([^"]+)"`).exec(attributes!)?.[1];
        const length = Number(attr("textLength"));
        if (!(length > 0) || attr("lengthAdjust") !== "spacingAndGlyphs") {
          problems.push(`"${text}" has no textLength: a wider font than Helvetica draws it wider than its box`);
          continue;
        }
        if (kind === "edge") continue;
        const x = Number(attr("x"));
        const anchor = attr("text-anchor");
        const x0 = anchor === "start" ? x : anchor === "end" ? x - length : x - length / 2;
        const shape = /<(?:path|polygon)[^>]* (?:d|points)="([^"]+)"/.exec(group)![1]!;
        const xs = [...shape.matchAll(/(-?[\d.]+),(-?[\d.]+)/g)].map((m) => Number(m[1]));
        checked++;
        if (x0 < Math.min(...xs) || x0 + length > Math.max(...xs)) problems.push(`"${text}" (${kind}) runs out of its box`);
      }
    }
    expect(checked).toBeGreaterThan(states.length);
    expect(problems).toEqual([]);
  });

  it("fits the README: at most 880 points wide, so text shows at three quarters of its size or more in a 880-pixel column", () => {
    const [, , width] = String(layout.bb).split(",").map(Number);
    expect(width).toBeLessThanOrEqual(880);
  });
});
