import type { z } from "zod";
import {
  AskSettled,
  childSessionOf,
  MessageUpdated,
  ModelSwitched,
  isPartDelta,
  PartUpdated,
  PermissionAsked,
  QuestionAsked,
  SessionChanged,
  SessionError,
  SessionIdle,
  SessionStatus,
  sessionIdOf,
  StoredMessage,
  type ModelRef,
  type Part,
  type PermissionRequest,
  type QuestionRequest,
} from "./events.js";
import type { ErrorCode, ModelChange, Reply, Usage } from "./replies.js";

// The pure heart of the engine: opencode events in, host replies out. No I/O, no clock, no
// randomness; the state is never mutated, only replaced.

export type Ask =
  | { readonly kind: "permission"; readonly request: PermissionRequest }
  | { readonly kind: "question"; readonly request: QuestionRequest };

export interface Failure {
  readonly code: ErrorCode;
  readonly error: string;
}

interface PartTrack {
  readonly id: string;
  readonly kind: "text" | "reasoning";
  /** Characters of this part already sent as delta/reasoning replies. */
  readonly sent: number;
  /**
   * The stream was away while this part streamed: its later deltas no longer continue what was sent,
   * so they are not sent; its closing update (or the stored message) brings the rest whole.
   */
  readonly held: boolean;
}

interface CallTrack {
  readonly tool: string;
  readonly called: boolean;
  readonly resulted: boolean;
}

export interface TurnState {
  readonly traceId: string;
  readonly sessionId: string;
  /** The id this turn gave its user message in `prompt_async`: the key to every event of the turn. */
  readonly messageId: string;
  readonly maxProviderRetries: number;
  readonly family: ReadonlySet<string>;
  readonly userSeen: boolean;
  /** The prompt is on its way to opencode: from now on an error may be this turn's. */
  readonly promptSent: boolean;
  /** An error after the prompt was sent but before its user message: opencode refused the prompt. */
  readonly earlyError: Failure | undefined;
  /** The provider's failure while opencode is retrying it (cleared when a retry goes ahead). */
  readonly retrying: string | undefined;
  readonly assistantIds: ReadonlySet<string>;
  /** The text or reasoning part deltas are arriving for; kept apart so a delta does not copy `parts`. */
  readonly openPart: PartTrack | undefined;
  /** The other text and reasoning parts seen (an entry for `openPart.id` here is stale). */
  readonly parts: ReadonlyMap<string, PartTrack>;
  /** Deltas that arrived before their part announced its type. */
  readonly earlyDeltas: ReadonlyMap<string, readonly string[]>;
  /** Parts, not yet announced, whose deltas were cut by a stream gap: they are held once announced. */
  readonly gapped: ReadonlySet<string>;
  readonly calls: ReadonlyMap<string, CallTrack>;
  readonly content: string;
  readonly usage: Usage | undefined;
  /** Permission and question asks waiting for an answer, oldest first. */
  readonly asks: readonly Ask[];
  /** Set when the turn is being stopped (cancel, deadline, retry cap): its end is this error. */
  readonly stopping: Failure | undefined;
  readonly terminal: "final" | "error" | undefined;
  readonly failure: Failure | undefined;
  /** Events that could not be used: unknown types, or known types with missing fields. */
  readonly skipped: number;
}

export interface TurnIdentity {
  traceId: string;
  sessionId: string;
  messageId: string;
  maxProviderRetries: number;
  /** Child sessions already known (a resumed subagent session asks for permission too). */
  children?: Iterable<string>;
}

export interface CodecResult {
  readonly state: TurnState;
  readonly replies: readonly Reply[];
}

const NONE: readonly Reply[] = Object.freeze([]);

export function initialTurnState({ children = [], ...identity }: TurnIdentity): TurnState {
  return {
    ...identity,
    family: new Set([identity.sessionId, ...children]),
    userSeen: false,
    promptSent: false,
    earlyError: undefined,
    retrying: undefined,
    assistantIds: new Set(),
    openPart: undefined,
    parts: new Map(),
    earlyDeltas: new Map(),
    gapped: new Set(),
    calls: new Map(),
    content: "",
    usage: undefined,
    asks: [],
    stopping: undefined,
    terminal: undefined,
    failure: undefined,
    skipped: 0,
  };
}

/** Events opencode sends that a turn has no use for; they are not counted as skipped. */
const IRRELEVANT = new Set([
  "server.connected",
  "server.heartbeat",
  "session.diff",
  "session.compacted",
  "session.deleted",
  "session.next.model.switched",
  "session.next.agent.switched",
  "message.removed",
  "message.part.removed",
  "todo.updated",
  "file.edited",
  "file.watcher.updated",
  "lsp.updated",
  "lsp.client.diagnostics",
  "plugin.added",
  "project.updated",
  "vcs.branch.updated",
  "installation.updated",
  "command.executed",
]);

/**
 * Whether an event is about this turn's session family: its session, a child session, or one that
 * introduces a child. Events that name no session are let through, to be used or counted as skipped.
 */
export function concernsTurn(event: unknown, state: TurnState): boolean {
  const sessionId = sessionIdOf(event);
  return sessionId === undefined || state.family.has(sessionId) || childSessionOf(event, state.family) !== undefined;
}

export function mapOpencodeEvent(event: unknown, state: TurnState): CodecResult {
  const type = (event as { type?: unknown } | null)?.type;
  if (typeof type !== "string") return skip(state);
  if (type === "message.part.delta") return onDelta(event, state);
  if (!concernsTurn(event, state)) return same(state);
  if (type === "session.created" || type === "session.updated") {
    const child = childSessionOf(event, state.family);
    if (child === undefined) return same(state);
    return { state: { ...state, family: new Set(state.family).add(child) }, replies: NONE };
  }

  switch (type) {
    case "message.updated":
      return onMessage(event, state);
    case "message.part.updated":
      return onPart(event, state);
    case "session.idle":
      return parsed(SessionIdle, event, state, (e) => (e.properties.sessionID === state.sessionId ? onIdle(state) : same(state)));
    case "session.status":
      return parsed(SessionStatus, event, state, (e) => onStatus(e, state));
    case "session.error":
      return parsed(SessionError, event, state, (e) => onSessionError(e, state));
    case "permission.asked":
      return parsed(PermissionAsked, event, state, (e) => addAsk(state, { kind: "permission", request: e.properties }));
    case "question.asked":
      return parsed(QuestionAsked, event, state, (e) => addAsk(state, { kind: "question", request: e.properties }));
    case "permission.replied":
    case "question.replied":
    case "question.rejected":
      return parsed(AskSettled, event, state, (e) => settleAsk(state, e.properties.requestID));
    default:
      return IRRELEVANT.has(type) ? same(state) : skip(state);
  }
}

/** Ends the turn with an error unless it has already ended; the machine's own failures come here. */
export function failTurn(state: TurnState, failure: Failure): CodecResult {
  if (state.terminal) return same(state);
  return {
    state: { ...state, terminal: "error", failure, asks: [] },
    replies: [{ kind: "error", trace_id: state.traceId, error: failure.error, code: failure.code }],
  };
}

/** Marks the turn as being stopped; the idle (or abort error) that follows ends it with `failure`. */
export function stopTurn(state: TurnState, failure: Failure): TurnState {
  return state.terminal || state.stopping ? state : { ...state, stopping: failure };
}

/** Notes that the prompt is being sent. */
export function promptSent(state: TurnState): TurnState {
  return state.promptSent ? state : { ...state, promptSent: true };
}

/**
 * The stream was lost: from here the deltas of parts already streaming no longer continue what was
 * sent (some were missed), so those parts are held until their closing update, which carries the
 * whole text. The same for parts known only by deltas so far.
 */
export function streamGap(state: TurnState): TurnState {
  if (state.terminal) return state;
  const hold = (track: PartTrack): PartTrack => (track.held ? track : { ...track, held: true });
  const parts = new Map([...state.parts].map(([id, track]) => [id, hold(track)]));
  return {
    ...state,
    openPart: state.openPart && hold(state.openPart),
    parts,
    earlyDeltas: new Map(),
    gapped: new Set([...state.gapped, ...state.earlyDeltas.keys()]),
  };
}

/** What opencode holds for a session, read after a gap in the stream (opencode does not replay events). */
export interface SessionSnapshot {
  /** `GET /session/{id}/children`: sessions the turn's subagents run in. */
  readonly children: readonly string[];
  /** `GET /permission` and `GET /question`: asks waiting for an answer (an unanswered ask hangs the turn). */
  readonly permissions: readonly unknown[];
  readonly questions: readonly unknown[];
  /** `GET /session/{id}/message`: the stored messages and their parts. */
  readonly messages: readonly unknown[];
  /** Whether the session was idle when (before) the messages were read: then they are complete. */
  readonly sessionIdle: boolean;
}

/**
 * Brings the turn up to date after a gap in the stream, then applies the events that arrived on the
 * new stream while the snapshot was read. The stored truth goes through the same rules as live
 * events, so nothing is sent twice, and the order of the replies stays the order of the answer.
 */
export function reconcile(state: TurnState, snapshot: SessionSnapshot, queued: readonly unknown[] = []): CodecResult {
  let current = state;
  const replies: Reply[] = [];
  const apply = (event: unknown) => {
    const step = mapOpencodeEvent(event, current);
    current = step.state;
    if (step.replies.length > 0) replies.push(...step.replies);
  };
  const sessionID = state.sessionId;
  for (const child of snapshot.children) apply({ type: "session.created", properties: { sessionID: child, info: { id: child, parentID: sessionID } } });
  for (const request of snapshot.permissions) apply({ type: "permission.asked", properties: request });
  for (const request of snapshot.questions) apply({ type: "question.asked", properties: request });
  for (const raw of snapshot.messages) {
    const stored = StoredMessage.safeParse(raw);
    if (!stored.success || stored.data.info.sessionID !== sessionID) continue;
    const { info, parts } = stored.data;
    apply({ type: "message.updated", properties: { sessionID, info } });
    for (const part of parts) {
      const streaming = (part.type === "text" || part.type === "reasoning") && (part.time as { end?: unknown } | undefined)?.end === undefined;
      if (streaming && trackOf(current, part.id) === undefined && current.assistantIds.has(part.messageID)) {
        // Begun while the stream was away: the deltas from here on are not its whole text.
        current = { ...current, gapped: new Set(current.gapped).add(part.id) };
      }
      apply({ type: "message.part.updated", properties: { sessionID: part.sessionID, part } });
    }
    if (info.role === "assistant" && info.parentID === state.messageId && info.error !== undefined) {
      apply({ type: "session.error", properties: { sessionID, error: info.error } });
    }
  }
  if (snapshot.sessionIdle) apply({ type: "session.idle", properties: { sessionID } });
  for (const event of queued) apply(event);
  return { state: current, replies: replies.length === 0 ? NONE : replies };
}

/** Drops the oldest ask once it has been answered. */
export function answeredAsk(state: TurnState): TurnState {
  return state.asks.length === 0 ? state : { ...state, asks: state.asks.slice(1) };
}

function onDelta(event: unknown, state: TurnState): CodecResult {
  if (state.terminal) return same(state);
  if (!isPartDelta(event)) return skip(state);
  const { sessionID, messageID, partID, field, delta } = event.properties;
  if (sessionID !== state.sessionId || field !== "text" || messageID === state.messageId) return same(state);
  const part = trackOf(state, partID);
  if (part === undefined) {
    // The part's first update has not arrived: its type (text or reasoning) is not known yet.
    const early = state.earlyDeltas.get(partID) ?? [];
    return { state: { ...state, earlyDeltas: new Map(state.earlyDeltas).set(partID, [...early, delta]) }, replies: NONE };
  }
  return part.held ? same(state) : emitText(state, part, delta);
}

function emitText(state: TurnState, part: PartTrack, text: string): CodecResult {
  if (text.length === 0) return same(state);
  const track: PartTrack = { id: part.id, kind: part.kind, sent: part.sent + text.length, held: part.held };
  // The common case, a delta for the part already open, touches no map.
  const parts = state.openPart === undefined || state.openPart.id === part.id ? state.parts : withTrack(state, track).parts;
  const content = part.kind === "text" ? state.content + text : state.content;
  return { state: withText(state, track, parts, content), replies: [{ kind: part.kind === "text" ? "delta" : "reasoning", trace_id: state.traceId, content: text }] };
}

/**
 * `{ ...state, openPart, parts, content }`, spelled out: this runs once per delta, and V8 builds a
 * literal of known shape several times faster than a spread that overrides keys.
 */
function withText(state: TurnState, openPart: PartTrack | undefined, parts: ReadonlyMap<string, PartTrack>, content: string): TurnState {
  return {
    traceId: state.traceId,
    sessionId: state.sessionId,
    messageId: state.messageId,
    maxProviderRetries: state.maxProviderRetries,
    family: state.family,
    userSeen: state.userSeen,
    promptSent: state.promptSent,
    earlyError: state.earlyError,
    retrying: state.retrying,
    assistantIds: state.assistantIds,
    openPart,
    parts,
    earlyDeltas: state.earlyDeltas,
    gapped: state.gapped,
    calls: state.calls,
    content,
    usage: state.usage,
    asks: state.asks,
    stopping: state.stopping,
    terminal: state.terminal,
    failure: state.failure,
    skipped: state.skipped,
  };
}

function trackOf(state: TurnState, partID: string): PartTrack | undefined {
  return state.openPart?.id === partID ? state.openPart : state.parts.get(partID);
}

/** Makes `track` the open part; the part it replaces is parked in `parts` (one copy per switch, not per delta). */
function withTrack(state: TurnState, track: PartTrack): Pick<TurnState, "openPart" | "parts"> {
  const open = state.openPart;
  if (open === undefined || open.id === track.id) return { openPart: track, parts: state.parts };
  return { openPart: track, parts: new Map(state.parts).set(open.id, open) };
}

function onMessage(event: unknown, state: TurnState): CodecResult {
  const result = MessageUpdated.safeParse(event);
  if (!result.success) return skip(state);
  const info = result.data.properties.info;
  if (info.sessionID !== state.sessionId) return same(state);
  if (info.role === "user") {
    return info.id === state.messageId && !state.userSeen ? { state: { ...state, userSeen: true, earlyError: undefined }, replies: NONE } : same(state);
  }
  if (info.role !== "assistant" || info.parentID !== state.messageId || state.assistantIds.has(info.id)) return same(state);
  return { state: { ...state, assistantIds: new Set(state.assistantIds).add(info.id) }, replies: NONE };
}

function onPart(event: unknown, state: TurnState): CodecResult {
  if (state.terminal) return same(state);
  const result = PartUpdated.safeParse(event);
  if (!result.success) return skip(state);
  const part = result.data.properties.part;
  if (!state.assistantIds.has(part.messageID)) {
    // Not this turn's answer: the user's own text, or a part of another turn. Its early deltas go too.
    return state.earlyDeltas.has(part.id) ? { state: { ...state, earlyDeltas: without(state.earlyDeltas, part.id) }, replies: NONE } : same(state);
  }
  switch (part.type) {
    case "text":
    case "reasoning":
      return onTextPart(part, state);
    case "tool":
      return onToolPart(part, state);
    case "step-finish":
      return { state: { ...state, usage: addUsage(state.usage, part) }, replies: NONE };
    default:
      return same(state);
  }
}

function onTextPart(part: Part, state: TurnState): CodecResult {
  const kind = part.type === "reasoning" ? "reasoning" : "text";
  let current: TurnState = state;
  const replies: Reply[] = [];
  const ended = (part.time as { end?: unknown } | undefined)?.end !== undefined;
  if (trackOf(state, part.id) === undefined) {
    // First seen already closed, or cut by a gap: its text comes whole from this update (or the
    // closing one), not from deltas that may miss a middle piece.
    const held = ended || state.gapped.has(part.id);
    current = { ...current, ...withTrack(current, { id: part.id, kind, sent: 0, held }) };
    for (const delta of held ? [] : (current.earlyDeltas.get(part.id) ?? [])) {
      const step = emitText(current, trackOf(current, part.id)!, delta);
      current = step.state;
      replies.push(...step.replies);
    }
    if (current.earlyDeltas.has(part.id)) current = { ...current, earlyDeltas: without(current.earlyDeltas, part.id) };
  }
  // A closed part carries its whole text: whatever its deltas did not bring (missed while the
  // stream was away) is sent now, so `final` still equals the concatenation of the deltas.
  const sent = trackOf(current, part.id)!;
  if (ended && part.text !== undefined && part.text.length > sent.sent) {
    const step = emitText(current, sent, part.text.slice(sent.sent));
    current = step.state;
    replies.push(...step.replies);
  }
  return { state: current, replies: replies.length === 0 ? NONE : replies };
}

function onToolPart(part: Part, state: TurnState): CodecResult {
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
  if (track === known) return same(state);
  return { state: { ...state, calls: new Map(state.calls).set(callId, track) }, replies: replies.length === 0 ? NONE : replies };
}

function onIdle(state: TurnState): CodecResult {
  if (state.terminal) return same(state);
  if (!state.userSeen) {
    // Before this turn's user message an idle is the tail of an earlier turn, unless opencode
    // refused this turn's prompt: then an error came first and the user message never will.
    const refusal = state.promptSent ? state.earlyError : undefined;
    return refusal === undefined ? same(state) : failTurn(state, state.stopping ?? refusal);
  }
  if (state.stopping) return failTurn(state, state.stopping);
  if (state.retrying !== undefined) {
    // Stopped by someone else while opencode was retrying: an idle with no answer and no error.
    return failTurn(state, { code: "provider_error", error: `The turn ended while the model provider was failing: ${state.retrying}` });
  }
  return {
    state: { ...state, terminal: "final", asks: [] },
    replies: [{ kind: "final", trace_id: state.traceId, content: state.content }],
  };
}

function onStatus(event: z.infer<typeof SessionStatus>, state: TurnState): CodecResult {
  const { sessionID, status } = event.properties;
  if (sessionID !== state.sessionId || state.terminal) return same(state);
  if (status.type === "idle") return onIdle(state);
  if (!state.userSeen) return same(state);
  if (status.type === "busy") return state.retrying === undefined ? same(state) : { state: { ...state, retrying: undefined }, replies: NONE };
  if (status.type !== "retry") return same(state);
  const message = status.message ?? "no details given";
  const retrying: TurnState = { ...state, retrying: message };
  if ((status.attempt ?? 0) <= state.maxProviderRetries) return { state: retrying, replies: NONE };
  const tries = state.maxProviderRetries + 1;
  const error = `The model provider failed ${tries} time${tries === 1 ? "" : "s"} in a row, so the turn was stopped: ${message}`;
  return { state: stopTurn(retrying, { code: "provider_error", error }), replies: NONE };
}

const ERROR_CODES: Record<string, ErrorCode> = {
  APIError: "provider_error",
  UnknownError: "provider_error",
  MessageOutputLengthError: "provider_error",
  ContextOverflowError: "provider_error",
  ContentFilterError: "provider_error",
  ProviderAuthError: "unauthorized",
  MessageAbortedError: "aborted",
};

function onSessionError(event: z.infer<typeof SessionError>, state: TurnState): CodecResult {
  const { sessionID, error } = event.properties;
  if (sessionID !== state.sessionId || state.terminal) return same(state);
  const name = error?.name ?? "UnknownError";
  const detail = error?.data?.message || name;
  if (!state.userSeen) {
    // An abort before this turn's user message is an earlier turn's; another error after this
    // turn's prompt was sent may be opencode refusing it (decided at the idle that follows).
    if (!state.promptSent || name === "MessageAbortedError" || state.earlyError) return same(state);
    return { state: { ...state, earlyError: { code: "bad_request", error: `opencode did not start the turn: ${detail}` } }, replies: NONE };
  }
  if (state.stopping) return failTurn(state, state.stopping);
  const code = ERROR_CODES[name] ?? "internal";
  return failTurn(state, { code, error: describeError(code, detail) });
}

function describeError(code: ErrorCode, detail: string): string {
  switch (code) {
    case "provider_error":
      return `The model provider failed: ${detail}`;
    case "unauthorized":
      return `The model provider rejected opencode's credentials; check the provider's API key: ${detail}`;
    case "aborted":
      return `The turn was aborted: ${detail}`;
    default:
      return `opencode reported an error: ${detail}`;
  }
}

function addAsk(state: TurnState, ask: Ask): CodecResult {
  if (state.terminal || state.asks.some((a) => a.request.id === ask.request.id)) return same(state);
  return { state: { ...state, asks: [...state.asks, ask] }, replies: NONE };
}

function settleAsk(state: TurnState, requestId: string): CodecResult {
  // The head of the queue is being answered by the machine right now; it leaves through answeredAsk.
  const index = state.asks.findIndex((a) => a.request.id === requestId);
  if (index <= 0) return same(state);
  return { state: { ...state, asks: state.asks.filter((_, i) => i !== index) }, replies: NONE };
}

function addUsage(usage: Usage | undefined, part: Part): Usage | undefined {
  if (part.tokens === undefined && part.cost === undefined) return usage;
  const base = usage ?? { tokens: { input: 0, output: 0, reasoning: 0, cache: { read: 0, write: 0 } }, cost: 0 };
  const t = part.tokens;
  return {
    tokens: {
      input: base.tokens.input + (t?.input ?? 0),
      output: base.tokens.output + (t?.output ?? 0),
      reasoning: base.tokens.reasoning + (t?.reasoning ?? 0),
      cache: {
        read: base.tokens.cache.read + (t?.cache?.read ?? 0),
        write: base.tokens.cache.write + (t?.cache?.write ?? 0),
      },
    },
    cost: base.cost + (part.cost ?? 0),
  };
}

// Model tracking: session-wide, not per turn. The adapter runs it on every event of its session,
// also between turns, and keeps the changes for the host to reconcile.

export interface ModelTrack {
  readonly model: ModelRef | undefined;
  readonly change: ModelChange | undefined;
}

export function trackModel(event: unknown, sessionId: string, known: ModelRef | undefined): ModelTrack {
  const observed = observedModel(event, sessionId);
  if (observed === undefined || sameModel(known, observed.model)) return { model: known, change: undefined };
  // The first model seen is where the session starts, not a change (opencode 1.15 announces the
  // model at every prompt, the first one included).
  if (known === undefined) return { model: observed.model, change: undefined };
  const { model, source, at } = observed;
  return { model, change: { providerID: model.providerID, modelID: model.id, source, at } };
}

function observedModel(event: unknown, sessionId: string): { model: ModelRef; source: ModelChange["source"]; at: number } | undefined {
  const type = (event as { type?: unknown } | null)?.type;
  if (type === "session.next.model.switched") {
    const result = ModelSwitched.safeParse(event);
    if (!result.success || result.data.properties.sessionID !== sessionId) return undefined;
    const { model, timestamp } = result.data.properties;
    // The OpenAPI document says a number; the live stream sends an ISO string.
    const at = typeof timestamp === "number" ? timestamp : Date.parse(timestamp);
    return { model, source: "model.switched", at: Number.isNaN(at) ? 0 : at };
  }
  if (type === "session.updated") {
    const result = SessionChanged.safeParse(event);
    const info = result.success ? result.data.properties.info : undefined;
    if (info?.id !== sessionId || info.model === undefined) return undefined;
    return { model: info.model, source: "session.updated", at: info.time?.updated ?? 0 };
  }
  return undefined;
}

function sameModel(a: ModelRef | undefined, b: ModelRef): boolean {
  return a !== undefined && a.id === b.id && a.providerID === b.providerID;
}

function parsed<S extends z.ZodType>(schema: S, event: unknown, state: TurnState, then: (event: z.infer<S>) => CodecResult): CodecResult {
  const result = schema.safeParse(event);
  return result.success ? then(result.data) : skip(state);
}

function without<V>(map: ReadonlyMap<string, V>, key: string): Map<string, V> {
  const next = new Map(map);
  next.delete(key);
  return next;
}

function same(state: TurnState): CodecResult {
  return { state, replies: NONE };
}

function skip(state: TurnState): CodecResult {
  return { state: { ...state, skipped: state.skipped + 1 }, replies: NONE };
}
