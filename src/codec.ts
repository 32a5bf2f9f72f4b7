import type { z } from "zod";
import {
  AskSettled,
  childSessionOf,
  MessageUpdated,
  isPartDelta,
  PartUpdated,
  PermissionAsked,
  QuestionAsked,
  SessionError,
  SessionIdle,
  SessionStatus,
  sessionIdOf,
  StoredMessage,
  type Part,
  type PermissionRequest,
  type QuestionRequest,
} from "./events.js";
import type { ErrorCode, Reply, Usage } from "./replies.js";

// The pure heart of the engine: opencode events in, host replies out. No I/O, no clock, no
// randomness; the state is never mutated, only replaced.

export type Ask =
  | { readonly kind: "permission"; readonly request: PermissionRequest }
  | { readonly kind: "question"; readonly request: QuestionRequest };

export interface Failure {
  readonly code: ErrorCode;
  readonly error: string;
}

/** How a turn ended: with its `final` reply, or with the `error` reply that carries this failure. */
export type TurnOutcome = { readonly kind: "final" } | ({ readonly kind: "error" } & Failure);

const FINAL: TurnOutcome = Object.freeze({ kind: "final" });

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

/**
 * The deltas of a part not yet announced, as a list that shares its tail: keeping one more costs
 * the same however many came before (copying an array each time made 40,000 of them quadratic).
 */
export interface EarlyDeltas {
  readonly delta: string;
  readonly before: EarlyDeltas | undefined;
  /** How many deltas the list holds. */
  readonly count: number;
}

/** The deltas of an early list, oldest first. */
export function earlyDeltasInOrder(list: EarlyDeltas | undefined): string[] {
  const deltas = new Array<string>(list?.count ?? 0);
  for (let node = list, i = deltas.length - 1; node !== undefined; node = node.before, i--) deltas[i] = node.delta;
  return deltas;
}

interface StepTrack {
  readonly id: string;
  /** opencode set its `time.completed`: the step was finished, not cut off by a crash. */
  readonly completed: boolean;
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
  /**
   * A refusal: an error after the prompt was sent but before its user message. opencode refused the
   * prompt, unless the user message still comes (then the error was an earlier turn's).
   */
  readonly refusal: Failure | undefined;
  /** The provider's failure while opencode is retrying it (cleared when a retry goes ahead). */
  readonly retrying: string | undefined;
  readonly assistantIds: ReadonlySet<string>;
  /** The turn's newest assistant message (one step of the answer): an idle ends the turn well only once it is completed. */
  readonly lastStep: StepTrack | undefined;
  /** The text or reasoning part deltas are arriving for; kept apart so a delta does not copy `parts`. */
  readonly openPart: PartTrack | undefined;
  /** The other text and reasoning parts seen (an entry for `openPart.id` here is stale). */
  readonly parts: ReadonlyMap<string, PartTrack>;
  /** Deltas that arrived before their part announced its type, newest first. */
  readonly earlyDeltas: ReadonlyMap<string, EarlyDeltas>;
  /** Parts, not yet announced, whose deltas were cut by a stream gap: they are held once announced. */
  readonly gapped: ReadonlySet<string>;
  readonly calls: ReadonlyMap<string, CallTrack>;
  readonly content: string;
  readonly usage: Usage | undefined;
  /** Permission and question asks waiting for an answer, oldest first. */
  readonly asks: readonly Ask[];
  /** Why the turn is being stopped (cancel, deadline, retry cap), once it is: its end is this error. */
  readonly stopReason: Failure | undefined;
  /** How the turn ended; set once, with the terminal reply, and never changed after. */
  readonly outcome: TurnOutcome | undefined;
  /** Events that could not be used: unknown types, or known types with missing fields. */
  readonly unusable: number;
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

/** A literal, not a spread of the identity: V8 builds a spread of this many keys about 20 times slower. */
export function initialTurnState({ traceId, sessionId, messageId, maxProviderRetries, children = [] }: TurnIdentity): TurnState {
  return {
    traceId,
    sessionId,
    messageId,
    maxProviderRetries,
    family: new Set([sessionId, ...children]),
    userSeen: false,
    promptSent: false,
    refusal: undefined,
    retrying: undefined,
    assistantIds: new Set(),
    lastStep: undefined,
    openPart: undefined,
    parts: new Map(),
    earlyDeltas: new Map(),
    gapped: new Set(),
    calls: new Map(),
    content: "",
    usage: undefined,
    asks: [],
    stopReason: undefined,
    outcome: undefined,
    unusable: 0,
  };
}

/** Events opencode sends that a turn has no use for; they are not counted as unusable. */
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
 * introduces a child. Events that name no session are let through, to be used or counted as unusable.
 */
export function concernsTurn(event: unknown, state: TurnState): boolean {
  const sessionId = sessionIdOf(event);
  return sessionId === undefined || state.family.has(sessionId) || childSessionOf(event, state.family) !== undefined;
}

export function mapOpencodeEvent(event: unknown, state: TurnState): CodecResult {
  const type = (event as { type?: unknown } | null)?.type;
  if (typeof type !== "string") return countUnusable(state);
  if (type === "message.part.delta") return onDelta(event, state);
  if (!concernsTurn(event, state)) return unchanged(state);
  if (type === "session.created" || type === "session.updated") {
    const child = childSessionOf(event, state.family);
    if (child === undefined) return unchanged(state);
    return { state: { ...state, family: new Set(state.family).add(child) }, replies: NONE };
  }

  switch (type) {
    case "message.updated":
      return onMessage(event, state);
    case "message.part.updated":
      return onPart(event, state);
    case "session.idle":
      return parsed(SessionIdle, event, state, (e) => (e.properties.sessionID === state.sessionId ? onIdle(state) : unchanged(state)));
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
      return IRRELEVANT.has(type) ? unchanged(state) : countUnusable(state);
  }
}

/** `mapOpencodeEvent` over a batch: the state after the last event and every reply, in order. */
export function mapOpencodeEvents(events: Iterable<unknown>, state: TurnState): CodecResult {
  let current = state;
  let replies: Reply[] | undefined;
  for (const event of events) {
    const step = mapOpencodeEvent(event, current);
    current = step.state;
    if (step.replies.length > 0) (replies ??= []).push(...step.replies);
  }
  return { state: current, replies: replies ?? NONE };
}

/** Ends the turn with an error unless it has already ended; the machine's own failures come here. */
export function failTurn(state: TurnState, failure: Failure): CodecResult {
  if (state.outcome) return unchanged(state);
  return {
    state: { ...state, outcome: { kind: "error", ...failure }, asks: [] },
    replies: [{ kind: "error", trace_id: state.traceId, error: failure.error, code: failure.code }],
  };
}

/** Marks the turn as being stopped; the idle (or abort error) that follows ends it with `failure`. */
export function stopTurn(state: TurnState, failure: Failure): TurnState {
  return state.outcome || state.stopReason ? state : { ...state, stopReason: failure };
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
  if (state.outcome) return state;
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
  const apply = (...events: unknown[]) => {
    const step = mapOpencodeEvents(events, current);
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
  apply(...queued);
  return { state: current, replies: replies.length === 0 ? NONE : replies };
}

/** Drops the oldest ask once it has been answered. */
export function answeredAsk(state: TurnState): TurnState {
  return state.asks.length === 0 ? state : { ...state, asks: state.asks.slice(1) };
}

function onDelta(event: unknown, state: TurnState): CodecResult {
  if (state.outcome) return unchanged(state);
  if (!isPartDelta(event)) return countUnusable(state);
  const { sessionID, messageID, partID, field, delta } = event.properties;
  if (sessionID !== state.sessionId || field !== "text" || messageID === state.messageId) return unchanged(state);
  const part = trackOf(state, partID);
  if (part === undefined) {
    // The part's first update has not arrived: its type (text or reasoning) is not known yet.
    const before = state.earlyDeltas.get(partID);
    const early: EarlyDeltas = { delta, before, count: (before?.count ?? 0) + 1 };
    return { state: { ...state, earlyDeltas: new Map(state.earlyDeltas).set(partID, early) }, replies: NONE };
  }
  return part.held ? unchanged(state) : emitText(state, part, delta);
}

function emitText(state: TurnState, part: PartTrack, text: string): CodecResult {
  if (text.length === 0) return unchanged(state);
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
    refusal: state.refusal,
    retrying: state.retrying,
    assistantIds: state.assistantIds,
    lastStep: state.lastStep,
    openPart,
    parts,
    earlyDeltas: state.earlyDeltas,
    gapped: state.gapped,
    calls: state.calls,
    content,
    usage: state.usage,
    asks: state.asks,
    stopReason: state.stopReason,
    outcome: state.outcome,
    unusable: state.unusable,
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
  if (!result.success) return countUnusable(state);
  const info = result.data.properties.info;
  if (info.sessionID !== state.sessionId) return unchanged(state);
  if (info.role === "user") {
    return info.id === state.messageId && !state.userSeen ? { state: { ...state, userSeen: true, refusal: undefined }, replies: NONE } : unchanged(state);
  }
  if (info.role !== "assistant" || info.parentID !== state.messageId) return unchanged(state);
  const completed = info.time?.completed !== undefined;
  if (!state.assistantIds.has(info.id)) {
    return { state: { ...state, assistantIds: new Set(state.assistantIds).add(info.id), lastStep: { id: info.id, completed } }, replies: NONE };
  }
  // Only the newest step's end decides the turn's; a step once completed stays so.
  if (state.lastStep?.id !== info.id || state.lastStep.completed || !completed) return unchanged(state);
  return { state: { ...state, lastStep: { id: info.id, completed } }, replies: NONE };
}

function onPart(event: unknown, state: TurnState): CodecResult {
  if (state.outcome) return unchanged(state);
  const result = PartUpdated.safeParse(event);
  if (!result.success) return countUnusable(state);
  const part = result.data.properties.part;
  if (!state.assistantIds.has(part.messageID)) {
    // Not this turn's answer: the user's own text, or a part of another turn. Its early deltas go too.
    return state.earlyDeltas.has(part.id) ? { state: { ...state, earlyDeltas: without(state.earlyDeltas, part.id) }, replies: NONE } : unchanged(state);
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
      return unchanged(state);
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
    for (const delta of held ? [] : earlyDeltasInOrder(current.earlyDeltas.get(part.id))) {
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
  if (track === known) return unchanged(state);
  return { state: { ...state, calls: new Map(state.calls).set(callId, track) }, replies: replies.length === 0 ? NONE : replies };
}

function onIdle(state: TurnState): CodecResult {
  if (state.outcome) return unchanged(state);
  if (!state.userSeen) {
    // Before this turn's user message an idle is the tail of an earlier turn, unless opencode
    // refused this turn's prompt: then an error came first and the user message never will.
    const refusal = state.promptSent ? state.refusal : undefined;
    return refusal === undefined ? unchanged(state) : failTurn(state, state.stopReason ?? refusal);
  }
  if (state.stopReason) return failTurn(state, state.stopReason);
  if (state.retrying !== undefined) {
    // Stopped by someone else while opencode was retrying: an idle with no answer and no error.
    return failTurn(state, { code: "provider_error", error: `The turn ended while the model provider was failing: ${state.retrying}` });
  }
  // opencode also goes idle when it comes back from a crash: the message it was writing stays
  // unfinished (no time.completed), and the text so far is not the answer.
  if (state.lastStep?.completed !== true) return failTurn(state, answerCutOff(state));
  return {
    state: { ...state, outcome: FINAL, asks: [] },
    replies: [{ kind: "final", trace_id: state.traceId, content: state.content }],
  };
}

function answerCutOff(state: TurnState): Failure {
  const what = state.lastStep === undefined ? "before the model answered" : "before the answer was finished (its last message was never completed)";
  return {
    code: "internal",
    error: `The answer was cut off: opencode went idle ${what}, as when opencode stops or restarts mid-answer; ${state.content.length} characters of it had arrived.`,
  };
}

function onStatus(event: z.infer<typeof SessionStatus>, state: TurnState): CodecResult {
  const { sessionID, status } = event.properties;
  if (sessionID !== state.sessionId || state.outcome) return unchanged(state);
  if (status.type === "idle") return onIdle(state);
  if (!state.userSeen) return unchanged(state);
  if (status.type === "busy") return state.retrying === undefined ? unchanged(state) : { state: { ...state, retrying: undefined }, replies: NONE };
  if (status.type !== "retry") return unchanged(state);
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
  if (sessionID !== state.sessionId || state.outcome) return unchanged(state);
  const name = error?.name ?? "UnknownError";
  const detail = error?.data?.message || name;
  if (!state.userSeen) {
    // An abort before this turn's user message is an earlier turn's; another error after this
    // turn's prompt was sent may be opencode refusing it (decided at the idle that follows).
    if (!state.promptSent || name === "MessageAbortedError" || state.refusal) return unchanged(state);
    return { state: { ...state, refusal: { code: "bad_request", error: `opencode did not start the turn: ${detail}` } }, replies: NONE };
  }
  if (state.stopReason) return failTurn(state, state.stopReason);
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
  if (state.outcome || state.asks.some((a) => a.request.id === ask.request.id)) return unchanged(state);
  return { state: { ...state, asks: [...state.asks, ask] }, replies: NONE };
}

function settleAsk(state: TurnState, requestId: string): CodecResult {
  // The head of the queue is being answered by the machine right now; it leaves through answeredAsk.
  const index = state.asks.findIndex((a) => a.request.id === requestId);
  if (index <= 0) return unchanged(state);
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

function parsed<S extends z.ZodType>(schema: S, event: unknown, state: TurnState, then: (event: z.infer<S>) => CodecResult): CodecResult {
  const result = schema.safeParse(event);
  return result.success ? then(result.data) : countUnusable(state);
}

function without<V>(map: ReadonlyMap<string, V>, key: string): Map<string, V> {
  const next = new Map(map);
  next.delete(key);
  return next;
}

function unchanged(state: TurnState): CodecResult {
  return { state, replies: NONE };
}

function countUnusable(state: TurnState): CodecResult {
  return { state: { ...state, unusable: state.unusable + 1 }, replies: NONE };
}
