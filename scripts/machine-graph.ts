/**
 * An XState v5 machine as a graph to draw: its states (walked from `machine.root` in document order,
 * so the output is deterministic), its transitions as edges, and what a state does that is not an
 * edge (invoked actors, targetless transitions, the root's own transitions). `mermaid.ts` and `dot.ts` draw it.
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from "xstate";

export interface Edge {
  from: AnyStateNode;
  to: AnyStateNode;
  /** What fires it: an event, `done: actor`, `after delay`, or nothing for an eventless transition. */
  event: string | undefined;
  /** The guard as written, arguments included, e.g. `not(mayBeRefused)`. */
  guard: string | undefined;
  actions: string[];
}

export interface MachineGraph {
  root: AnyStateNode;
  /** Every state below the root, parents before children. */
  states: AnyStateNode[];
  edges: Edge[];
  /** Per state: the actors it invokes. */
  invokes: Map<AnyStateNode, string[]>;
  /** Per state: its targetless transitions, as `event [guard] / actions` (the root's, `event [guard] → target / actions`). */
  internal: Map<AnyStateNode, string[]>;
}

type Named = string | { type?: string; params?: unknown } | ((...args: never[]) => unknown);

/** An action or guard by name; a guard built from others (`not`, `and`, `or`) with its arguments. */
export function nameOf(x: Named): string {
  if (typeof x === "string") return x;
  if (typeof x === "function") {
    const inner = (x as { guards?: Named[] }).guards;
    const name = x.name || "inline";
    return inner ? `${name}(${inner.map(nameOf).join(", ")})` : name;
  }
  const params = x.params === undefined || typeof x.params === "function" ? "" : `(${JSON.stringify(x.params)})`;
  return `${x.type ?? "inline"}${params}`;
}

function eventOf(t: AnyTransitionDefinition): string | undefined {
  const type = t.eventType as string;
  if (type === "") return undefined;
  const actor = /^xstate\.(done|error)\.actor\.(.+)$/.exec(type);
  if (actor) return `${actor[1]}: ${actor[2]}`;
  if (type.startsWith("xstate.after.")) {
    const delay = t.source.after.find((a) => a.eventType === type)?.delay;
    return `after ${typeof delay === "number" ? `${delay}ms` : typeof delay === "string" ? delay : "(delay)"}`;
  }
  const doneState = /^xstate\.done\.state\.(.+)$/.exec(type);
  return doneState ? `done: ${doneState[1]}` : type;
}

/** `event [guard]`, the way a transition is labelled; an eventless one is its guard alone. */
export function triggerOf(e: Pick<Edge, "event" | "guard">): string {
  return [e.event, e.guard && `[${e.guard}]`].filter(Boolean).join(" ") || "always";
}

export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const all = (node: AnyStateNode): AnyStateNode[] => Object.values(node.states).flatMap((child) => [child, ...all(child)]);
  const nodes = [machine.root, ...all(machine.root)];
  const edges: Edge[] = [];
  const invokes = new Map<AnyStateNode, string[]>();
  const internal = new Map<AnyStateNode, string[]>();
  for (const n of nodes) {
    if (n.invoke.length) invokes.set(n, n.invoke.map((i) => (typeof i.src === "string" && i.src !== i.id ? `${i.id} (${i.src})` : i.id)));
    const transitions = [...[...n.transitions.values()].flat(), ...(n.always ?? [])];
    const lines: string[] = [];
    for (const t of transitions) {
      const edge = { event: eventOf(t), guard: t.guard ? nameOf(t.guard as Named) : undefined, actions: t.actions.map((a) => nameOf(a as Named)) };
      // The root's transitions hold in every state: written in its label, not drawn from a box around everything.
      const targets = t.target ?? [];
      if (!targets.length || n === machine.root) {
        const to = targets.length ? ` → ${targets.map((x) => x.key).join(", ")}` : "";
        lines.push(`${triggerOf(edge)}${to}${edge.actions.length ? ` / ${edge.actions.join(", ")}` : ""}`);
      } else for (const to of targets) edges.push({ from: n, to, ...edge });
    }
    if (lines.length) internal.set(n, lines);
  }
  return { root: machine.root, states: nodes.slice(1), edges, invokes, internal };
}
