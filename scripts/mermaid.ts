/**
 * The turn machine (or any XState v5 machine) as a Mermaid stateDiagram-v2, walked from its root.
 * Deterministic (document order of states and transitions), so the committed diagram can be checked.
 * Mermaid rules followed: a state is mentioned only in its parent's block (Mermaid moves a state into
 * the last block that names it), so edges between states of different parents go at the top level;
 * `:` and `;` end a label, so they are written as the entities `#58;` and `#59;`; composite states
 * carry no description (Mermaid drops those), so their invokes and internal transitions are notes;
 * Mermaid titles a state with its first description line, so a state's name is always that line.
 */
import type { AnyStateMachine, AnyStateNode } from "xstate";
import { machineGraph, triggerOf, type Edge } from "./machine-graph.js";

const label = (text: string) => text.replace(/[:;]/g, (c) => (c === ":" ? "#58;" : "#59;"));
const RESERVED = new Set(["default", "state", "note", "class", "classdef", "direction", "end", "hide", "scale"]);

export function toMermaid(machine: AnyStateMachine): string {
  const graph = machineGraph(machine);
  const keyCount = new Map<string, number>();
  for (const n of graph.states) keyCount.set(n.key, (keyCount.get(n.key) ?? 0) + 1);
  /** The state's key when no other state has it, else its path; Mermaid ids are words, not keywords. */
  const idOf = (n: AnyStateNode): string => {
    const id = (keyCount.get(n.key) === 1 ? n.key : n.path.join("_")).replace(/\W/g, "_");
    return RESERVED.has(id.toLowerCase()) ? `${id}_state` : id;
  };
  const notes = new Map<AnyStateNode, string[]>();
  for (const n of graph.states) {
    const lines = [...(graph.invokes.get(n) ?? []).map((i) => `invoke ${i}`), ...(graph.internal.get(n) ?? []).map((t) => `internal ${t}`)];
    if (lines.length) notes.set(n, lines);
  }
  const edgeLine = (e: Edge) => `${idOf(e.from)} --> ${idOf(e.to)} : ${label(triggerOf(e))}`;

  const out: string[] = ["stateDiagram-v2"];
  const rootNote = graph.internal.get(graph.root);
  if (rootNote) out.push(...rootNote.map((l) => `  %% in every state: ${l}`));
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
        // Mermaid titles a state with its first description line: the name goes first so it stays shown.
        out.push(`${pad}${id} : ${child.key}`, ...note.map((l) => `${pad}${id} : ${label(l)}`));
      } else {
        out.push(`${pad}${id}`);
      }
      if (child.type === "final") out.push(`${pad}${id} --> [*]`);
    }
    for (const e of graph.edges) if (sameParent(e) && e.from.parent === scope) out.push(`${pad}${edgeLine(e)}`);
  };
  emit(graph.root, 1);
  const crossing = graph.edges.filter((e) => !sameParent(e));
  if (crossing.length) out.push("  %% between states of different parents: kept at the top level");
  for (const e of crossing) out.push(`  ${edgeLine(e)}`);
  return `${out.join("\n")}\n`;
}
