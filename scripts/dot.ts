/**
 * The turn machine (or any XState v5 machine) as Graphviz DOT, for an SVG that reads at README width:
 * every state by name (bold), what it invokes and its internal transitions in small print under it,
 * composite states as boxes around their children, one edge per pair of states (its triggers one per
 * line), guards with their arguments. The actions of transitions between states are left to the
 * code, as in the Mermaid diagram: on the picture they would double every label; the transitions
 * that change no state show theirs, since that is all they do.
 */
import type { AnyStateMachine, AnyStateNode } from "xstate";
import { machineGraph, triggerOf, type Edge } from "./machine-graph.js";

const FONT = "Helvetica,Arial,sans-serif";
/** How much more Graphviz straightens the main flow (initial states, each state to the next one written) than other edges. */
const MAIN_FLOW = 8;

/** The machine reads top to bottom: a state's move to the state written after it is the way a turn usually goes. */
function isMainFlow(e: Edge): boolean {
  const siblings = e.from.parent ? Object.values(e.from.parent.states) : [];
  return siblings[siblings.indexOf(e.from) + 1] === e.to;
}

const html = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const small = (lines: string[], br = "<br/>") => lines.map((l) => `${br}<font point-size="9" color="#57606a">${html(l)}</font>`).join("");
/** A box's title: the state's name in bold, what it does in small print under it (left-aligned in a composite state's box). */
const title = (name: string, lines: string[], box: boolean) =>
  box ? `<<b>${html(name)}</b>${small(lines, '<br align="left"/>')}<br align="left"/>>` : `<<b>${html(name)}</b>${small(lines)}>`;

export function toDot(machine: AnyStateMachine): string {
  const graph = machineGraph(machine);
  const idOf = (n: AnyStateNode) => n.path.join("_");
  const isComposite = (n: AnyStateNode) => Object.keys(n.states).length > 0;
  /** A composite state's own transitions leave from an invisible point at the bottom of its box, clipped at the box (`ltail`). */
  const exitOf = (n: AnyStateNode) => `${idOf(n)}__exit`;
  const leaves = (n: AnyStateNode): AnyStateNode[] => Object.values(n.states).flatMap((c) => (isComposite(c) ? leaves(c) : [c]));
  const details = (n: AnyStateNode) => [...(graph.invokes.get(n) ?? []).map((i) => `invokes ${i}`), ...(graph.internal.get(n) ?? [])];

  const startOf = (n: AnyStateNode) => `${idOf(n) || "root"}__start`;
  // A final state is drawn again (dashed) beside each state that ends there, inside the same box (at
  // the top for the states before \`live\`), so the edges stay short instead of running around every
  // box on the way down; only the outermost box's own exits reach the real one.
  const proxies = new Map<AnyStateNode, Map<string, AnyStateNode>>();
  const targetOf = (e: Edge): string => {
    const cluster = e.from.parent;
    // Into a composite state: to its start marker, the way it is entered.
    if (isComposite(e.to)) return startOf(e.to);
    if (e.to.type !== "final" || cluster === undefined || (isComposite(e.from) && cluster === e.to.parent)) return idOf(e.to);
    const id = `${idOf(e.to)}__in_${idOf(cluster) || "root"}`;
    proxies.set(cluster, (proxies.get(cluster) ?? new Map()).set(id, e.to));
    return id;
  };
  // One edge per pair of states: their triggers, one per line.
  const pairs = new Map<string, Edge[]>();
  for (const e of graph.edges) {
    const key = `${isComposite(e.from) ? exitOf(e.from) : idOf(e.from)} -> ${targetOf(e)}`;
    pairs.set(key, [...(pairs.get(key) ?? []), e]);
  }

  const exits = new Set(graph.edges.filter((e) => isComposite(e.from)).map((e) => e.from));

  const out: string[] = [
    `digraph ${JSON.stringify(machine.id)} {`,
    `  graph [rankdir=TB, compound=true, newrank=true, nodesep=0.25, ranksep=0.3, fontname="${FONT}", fontsize=12, labeljust=l];`,
    `  node [shape=box, style="rounded,filled", fillcolor="#f6f8fa", color="#57606a", fontname="${FONT}", fontsize=12, margin="0.12,0.05"];`,
    `  edge [fontname="${FONT}", fontsize=10, color="#57606a", fontcolor="#24292f", arrowsize=0.7];`,
  ];
  const rootDetails = graph.internal.get(graph.root);
  if (rootDetails) out.push(`  label=${title(machine.id, rootDetails.map((l) => `in every state: ${l}`), true)};`, `  labelloc=t;`);

  const emit = (scope: AnyStateNode, depth: number): void => {
    const pad = "  ".repeat(depth);
    const initial = scope.initial?.target[0];
    if (initial) {
      out.push(`${pad}${startOf(scope)} [shape=point, width=0.1, label="", color="#24292f"];`);
      out.push(`${pad}${startOf(scope)} -> ${isComposite(initial) ? startOf(initial) : idOf(initial)} [weight=${MAIN_FLOW}];`);
    }
    for (const child of Object.values(scope.states)) {
      const label = title(child.key, details(child), isComposite(child));
      if (isComposite(child)) {
        out.push(`${pad}subgraph cluster_${idOf(child)} {`, `${pad}  label=${label};`, `${pad}  style=rounded; color="#8c959f"; bgcolor="#ffffff";`);
        emit(child, depth + 1);
        out.push(`${pad}}`);
      } else {
        out.push(`${pad}${idOf(child)} [label=${label}${child.type === "final" ? ", peripheries=2" : ""}];`);
      }
    }
    for (const [id, final] of proxies.get(scope) ?? []) out.push(`${pad}${id} [label=<<b>${html(final.key)}</b>>, style="rounded,dashed", peripheries=2];`);
    if (exits.has(scope)) {
      out.push(`${pad}${exitOf(scope)} [shape=point, style=invis, width=0.01];`);
      // Below everything in the box; weight 0, so it does not pull anything sideways.
      const inside = [...proxies].filter(([cluster]) => cluster === scope || cluster.path.join(".").startsWith(`${scope.path.join(".")}.`));
      for (const id of [...leaves(scope).map(idOf), ...inside.flatMap(([, copies]) => [...copies.keys()])]) {
        out.push(`${pad}${id} -> ${exitOf(scope)} [style=invis, weight=0];`);
      }
    }
  };
  emit(graph.root, 1);
  // The final states at the bottom, below the copies drawn inside the boxes.
  const finals = graph.states.filter((n) => n.type === "final" && n.parent === graph.root);
  if (finals.length > 1) out.push(`  { rank=same; ${finals.map(idOf).join("; ")} }`);
  for (const copies of proxies.values()) for (const [id, final] of copies) out.push(`  ${id} -> ${idOf(final)} [style=invis];`);

  for (const [key, edges] of pairs) {
    const { from } = edges[0]!;
    // A space either side keeps labels that Graphviz sets side by side from touching.
    const attributes = [`label=<${edges.map((e) => `&#160;${html(triggerOf(e))}&#160;`).join("<br/>")}>`];
    if (isComposite(from)) attributes.push(`ltail=cluster_${idOf(from)}`);
    if (edges.some(isMainFlow)) attributes.push(`weight=${MAIN_FLOW}`);
    out.push(`  ${key} [${attributes.join(", ")}];`);
  }
  out.push("}");
  return `${out.join("\n")}\n`;
}
