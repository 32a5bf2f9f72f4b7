/**
 * The turn machine (or any XState v5 machine) as a Mermaid stateDiagram-v2, walked from its root.
 * Deterministic (document order of states and transitions), so the committed diagram can be checked.
 * Mermaid rules followed: a state is mentioned only in its parent's block (Mermaid moves a state into
 * the last block that names it), so edges between states of different parents go at the top level;
 * `:` and `;` end a label, so they are written as the entities `#58;` and `#59;`; composite states
 * carry no description (Mermaid drops those), so their invokes and internal transitions are notes.
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from "xstate";

type Named = string | { type?: string } | ((...args: never[]) => unknown);

const nameOf = (x: Named): string => (typeof x === "string" ? x : typeof x === "function" ? x.name || "inline" : (x.type ?? "inline"));
const label = (text: string) => text.replace(/[:;]/g, (c) => (c === ":" ? "#58;" : "#59;"));
const RESERVED = new Set(["default", "state", "note", "class", "classdef", "direction", "end", "hide", "scale"]);

function all(node: AnyStateNode): AnyStateNode[] {
  return Object.values(node.states).flatMap((child) => [child, ...all(child)]);
}

function eventLabel(t: AnyTransitionDefinition): string {
  const type = t.eventType as string;
  if (type === "") return "always";
  const actor = /^xstate\.(done|error)\.actor\.(.+)$/.exec(type);
  if (actor) return `${actor[1]}: ${actor[2]}`;
  if (type.startsWith("xstate.after.")) {
    const delay = t.source.after.find((a) => a.eventType === type)?.delay;
    return `after ${typeof delay === "number" ? `${delay}ms` : typeof delay === "string" ? delay : "(delay)"}`;
  }
  const doneState = /^xstate\.done\.state\.(.+)$/.exec(type);
  return doneState ? `done: ${doneState[1]}` : type;
}

const guardOf = (t: AnyTransitionDefinition) => (t.guard ? ` [${nameOf(t.guard as Named)}]` : "");
const actionsOf = (t: AnyTransitionDefinition) => (t.actions.length ? ` / ${t.actions.map((a) => nameOf(a as Named)).join(", ")}` : "");

interface Edge {
  from: AnyStateNode;
  to: AnyStateNode;
  text: string;
}

export function toMermaid(machine: AnyStateMachine): string {
  const nodes = all(machine.root);
  const keyCount = new Map<string, number>();
  for (const n of nodes) keyCount.set(n.key, (keyCount.get(n.key) ?? 0) + 1);
  /** The state's key when no other state has it, else its path; Mermaid ids are words, not keywords. */
  const idOf = (n: AnyStateNode): string => {
    const id = (keyCount.get(n.key) === 1 ? n.key : n.path.join("_")).replace(/\W/g, "_");
    return RESERVED.has(id.toLowerCase()) ? `${id}_state` : id;
  };

  const edges: Edge[] = [];
  /** What a state does that is not an edge: invoked actors and internal (targetless) transitions. */
  const notes = new Map<AnyStateNode, string[]>();
  for (const n of nodes) {
    const lines: string[] = n.invoke.map((i) => `invoke ${i.id}${typeof i.src === "string" && i.src !== i.id ? ` (${i.src})` : ""}`);
    const transitions = [...[...n.transitions.values()].flat(), ...(n.always ?? [])];
    for (const t of transitions) {
      const text = `${eventLabel(t)}${guardOf(t)}`;
      if (!t.target?.length) lines.push(`internal ${text}${actionsOf(t)}`);
      for (const to of t.target ?? []) edges.push({ from: n, to, text });
    }
    if (lines.length) notes.set(n, lines);
  }

  const out: string[] = ["stateDiagram-v2"];
  const sameParent = (e: Edge) => e.from.parent === e.to.parent;
  const emit = (scope: AnyStateNode, depth: number): void => {
    const pad = "  ".repeat(depth);
    const initial = scope.initial?.target[0];
    if (initial) out.push(`${pad}[*] --> ${idOf(initial)}`);
    for (const child of Object.values(scope.states)) {
      const id = idOf(child);
      const note = notes.get(child);
      if (Object.keys(child.states).length > 0) {
        out.push(`${pad}state ${id} {`);
        emit(child, depth + 1);
        out.push(`${pad}}`);
        if (note) out.push(`${pad}note right of ${id}`, ...note.map((l) => `${pad}  ${l}`), `${pad}end note`);
      } else if (note) {
        for (const l of note) out.push(`${pad}${id} : ${label(l)}`);
      } else {
        out.push(`${pad}${id}`);
      }
      if (child.type === "final") out.push(`${pad}${id} --> [*]`);
    }
    for (const e of edges) if (sameParent(e) && e.from.parent === scope) out.push(`${pad}${idOf(e.from)} --> ${idOf(e.to)} : ${label(e.text)}`);
  };
  emit(machine.root, 1);
  const crossing = edges.filter((e) => !sameParent(e));
  if (crossing.length) out.push("  %% between states of different parents: kept at the top level");
  for (const e of crossing) out.push(`  ${idOf(e.from)} --> ${idOf(e.to)} : ${label(e.text)}`);
  return `${out.join("\n")}\n`;
}

/** Puts `diagram` between the README's diagram markers. */
export function withDiagram(readme: string, diagram: string): string {
  const start = "<!-- turn-diagram:start -->";
  const end = "<!-- turn-diagram:end -->";
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from === -1 || to < from) throw new Error("README.md has no turn-diagram markers");
  return `${readme.slice(0, from + start.length)}\n\`\`\`mermaid\n${diagram}\`\`\`\n${readme.slice(to)}`;
}
