import type { FileChange, Reply } from "../contract/replies.js";
import type { Part } from "../opencode/events.js";
import { ToolDetails } from "../opencode/vocabulary-events.js";
import type { FullTrack } from "./full-track.js";
import { without, type TurnState } from "./state.js";

// A tool while it runs (`tool_update`: its title and output so far) and what its result adds in the
// full vocabulary (its title, the files it changed). The core rule (tools.ts) has already made the
// call and result replies; these rules add to them.

/**
 * After the core rule has handled `part`: a `tool_update` when the running call's title or output
 * changed, and the `tool_result` (if this update made it) with its title and files.
 */
export function onToolDetails(part: Part, after: TurnState, core: readonly Reply[], full: FullTrack): { full: FullTrack; replies: Reply[] } | undefined {
  const callId = part.callID || part.id;
  const details = ToolDetails.safeParse(part.state ?? {});
  if (!details.success) return undefined;
  const { title, metadata } = details.data;
  const resultAt = core.findIndex((r) => r.kind === "tool_result" && r.call_id === callId);
  if (resultAt >= 0) {
    const files = filesOf(details.data);
    const result = { ...(core[resultAt] as Extract<Reply, { kind: "tool_result" }>), ...(title === undefined ? {} : { title }), ...(files === undefined ? {} : { files }) };
    const replies = core.map((r, i) => (i === resultAt ? result : r));
    return { full: full.updates.has(callId) ? { ...full, updates: without(full.updates, callId) } : full, replies };
  }
  const track = after.calls.get(callId);
  if (part.state?.status !== "running" || !track?.called || track.resulted) return undefined;
  // An empty output so far says nothing: bash reports one before its first byte.
  const output = metadata?.output || undefined;
  if (title === undefined && output === undefined) return undefined;
  const key = JSON.stringify([title, output]);
  if (full.updates.get(callId) === key) return undefined;
  const update: Reply = {
    kind: "tool_update",
    trace_id: after.traceId,
    call_id: callId,
    tool: track.tool,
    ...(title === undefined ? {} : { title }),
    ...(output === undefined ? {} : { output }),
  };
  return { full: { ...full, updates: new Map(full.updates).set(callId, key) }, replies: [...core, update] };
}

/** The files a tool changed, from opencode's own metadata: edit's `filediff`, apply_patch's `files`. write reports none. */
function filesOf({ metadata }: ToolDetails): FileChange[] | undefined {
  if (metadata?.files !== undefined && metadata.files.length > 0) {
    return metadata.files.map((f) => ({ path: f.filePath, additions: lines(f.additions), deletions: lines(f.deletions), patch: f.patch }));
  }
  const diff = metadata?.filediff;
  return diff === undefined ? undefined : [{ path: diff.file, additions: lines(diff.additions), deletions: lines(diff.deletions), patch: diff.patch }];
}

function lines(n: number): number {
  return Number.isInteger(n) && n >= 0 ? n : 0;
}
