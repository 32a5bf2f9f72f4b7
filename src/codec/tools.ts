import type { Reply } from "../contract/replies.js";
import type { Part } from "../opencode/events.js";
import { type CallTrack, type CodecResult, NONE, type TurnState, unchanged } from "./state.js";

// Tool calls: one `tool_call` and one `tool_result` per call.

export function onToolPart(part: Part, state: TurnState): CodecResult {
  const callId = part.callID || part.id;
  const status = part.state?.status;
  const known = state.calls.get(callId);
  // The first name seen is the model's (an unknown tool later runs under the name "invalid"), and
  // once the call is out its name is fixed, so call and result always agree.
  const tool = known?.called || (known && known.tool !== "unknown") ? known.tool : part.tool || "unknown";
  let track: CallTrack = known ?? { tool, called: false, resulted: false };
  if (track.tool !== tool) track = { ...track, tool };
  const replies: Reply[] = [];
  const finished = status === "completed" || status === "error";
  if (!track.called && (status === "running" || finished)) {
    replies.push({ kind: "tool_call", trace_id: state.traceId, tool, args: part.state?.input ?? {}, call_id: callId });
    track = { ...track, called: true };
  }
  if (!track.resulted && finished) {
    const success = status === "completed";
    const result = success ? (part.state?.output ?? "") : (part.state?.error ?? "tool failed");
    replies.push({ kind: "tool_result", trace_id: state.traceId, tool, result, success, call_id: callId });
    track = { ...track, resulted: true };
  }
  if (track === known) return unchanged(state);
  return { state: { ...state, calls: state.calls.set(callId, track) }, replies: replies.length === 0 ? NONE : replies };
}
