// Model-based tests of the turn machine (machines/turn.machine.ts) with xstate/graph.
//
// The traversal walks the REAL machine (invokes and delayed transitions included): the actors'
// outcomes and the timers are listed as events. Every generated path is then replayed on a real
// actor whose invoked actors are controllable fakes, and the host contract is checked on whatever
// the machine emitted. A coverage test derives the machine's state nodes and transitions
// from the machine itself and fails when a generated path misses one.

import { describe, expect, it, onTestFinished } from "vitest";
import { createActor, fromCallback, fromPromise, toPromise, type SnapshotFrom } from "xstate";
import { TestModel, type Step, type TestPath } from "xstate/graph";
import { turnMachine, type AskRef, type EnsureSessionInput, type SessionRef, type StoredSession, type TurnEvent, type TurnInput } from "../../machines/turn.machine.js";
import type { TurnPrompt } from "../../src/opencode/prompt-body.js";
import { Reply } from "../../src/contract/replies.js";
import { TurnError } from "../../src/contract/turn-error.js";
import * as E from "../../testkit/events.js";
import {
  activeIds,
  afterEvents,
  graphTransitions,
  machineTransitions,
  ManualClock,
  pathTransitions,
  stateNodes,
  toDirectedGraph,
  transitionKey,
  withPendingTimers,
} from "../../testkit/model-based.js";

// ---------------------------------------------------------------------------------------------
// The model

type Snap = SnapshotFrom<typeof turnMachine>;
type InvokeId = "ensureSession" | "sendPrompt" | "answerAsk" | "abortSession" | "reconnect";

/** What the traversal may send: the machine's own events plus the invoked actors' outcomes and the timers. */
type ModelEvent =
  | { type: "START" }
  | { type: "CANCEL"; failure?: { code: "closed"; error: string } }
  | { type: "DEADLINE" }
  | { type: "STREAM.READY"; messageId: string }
  | { type: "STREAM.LOST"; error: TurnError }
  | { type: "EVENTS"; label: string; events: readonly unknown[] }
  | { type: `xstate.done.actor.${InvokeId}`; output?: unknown }
  | { type: `xstate.error.actor.${InvokeId}`; error: unknown }
  | { type: `xstate.after.${string}` };

const TRACE = "trace-model";
const SESSION = "ses_model";
const MESSAGE = "msg_model_user";
const ASSISTANT = "msg_model_assistant";
const TEXT_PART = "prt_model_text";
const MAX_PROVIDER_RETRIES = 1;
/** One reconnect per turn: the traversal reaches both a reconnect and running out of them. */
const MAX_RECONNECTS = 1;
/** The turn's deadline: the machine schedules DEADLINE on its clock this long after it starts. */
const DEADLINE_MS = 60_000;
const DEADLINE = { type: "DEADLINE" } as const;
const DEADLINE_ERROR = `The turn ran past its deadline of ${DEADLINE_MS} ms and was stopped.`;
const GRACE_MS = 5_000;
/** What the adapter sends when it is closed during a turn. */
const CLOSE = { type: "CANCEL", failure: { code: "closed", error: "The adapter was closed during the turn." } } as const;
const STREAM_LOST = { type: "STREAM.LOST", error: new TurnError("stream_lost", "The event stream from opencode was lost.") } as const;
/** The state values the focused tests check most. */
const RECEIVING = { live: { streaming: "receiving" } };
const CANCELLING = { live: { streaming: "cancelling" } };
const RECONNECTING = { live: { streaming: "reconnecting" } };
const ANSWERING = { live: { streaming: "answeringAsk" } };
const PROMPTING = { live: { prompting: "sending" } };
const PROMPTING_STOPPED = { live: { prompting: "stopping" } };

/** The stream is open, with the message id it made on the server's clock. */
const STREAM_READY = { type: "STREAM.READY", messageId: MESSAGE } as const;

/** No session yet (ensureSession runs), no message id (the stream's is used), a small retry cap and a deadline. */
const INPUT: TurnInput = {
  traceId: TRACE,
  prompt: { parts: [{ type: "text", text: "hello" }] },
  sessionId: undefined,
  sessionVerified: false,
  sessionTitle: undefined,
  maxProviderRetries: MAX_PROVIDER_RETRIES,
  maxReconnects: MAX_RECONNECTS,
  children: [],
  graceMs: GRACE_MS,
  turnTimeoutMs: DEADLINE_MS,
};

const INVOKE_IDS: readonly InvokeId[] = ["ensureSession", "sendPrompt", "answerAsk", "abortSession", "reconnect"];

/** The turn's answer as opencode stores it once finished. */
const COMPLETED_ANSWER = { info: { id: ASSISTANT, sessionID: SESSION, role: "assistant", parentID: MESSAGE, time: { created: 1, completed: 2 }, finish: "stop" }, parts: [] };

/** What each invoked actor answers when it succeeds: the reconnect finds the session idle (the turn ended during the gap). */
const OUTPUTS: Partial<Record<InvokeId, unknown>> = {
  ensureSession: SESSION,
  reconnect: { children: [], permissions: [], questions: [], messages: [COMPLETED_ANSWER], sessionIdle: true } satisfies StoredSession,
};

/** The `xstate.after.*` event types of the machine and the state node that schedules each. */
const AFTER_EVENTS = afterEvents(turnMachine);

const EVENT_BATCHES: ReadonlyArray<{ label: string; events: readonly unknown[] }> = [
  { label: "user message seen", events: [E.userMessage(SESSION, MESSAGE), E.userText(SESSION, MESSAGE, "hello")] },
  {
    label: "text delta",
    events: [E.assistantMessage(SESSION, ASSISTANT, MESSAGE), E.partOpened(SESSION, ASSISTANT, TEXT_PART, "text"), E.delta(SESSION, ASSISTANT, TEXT_PART, "Hi")],
  },
  { label: "permission ask", events: [E.permissionAsked(SESSION, "per_model")] },
  { label: "question ask", events: [E.questionAsked(SESSION, "que_model")] },
  { label: "retry past the cap", events: [E.retry(SESSION, MAX_PROVIDER_RETRIES + 1)] },
  { label: "answer completed, session idle", events: [E.assistantDone(SESSION, ASSISTANT, MESSAGE), ...E.idleEnd(SESSION)] },
  { label: "session error", events: [E.sessionError(SESSION, "APIError", "the provider is down")] },
  { label: "another session's turn", events: E.textTurn("ses_someone_else", "msg_their_user", "msg_their_answer", ["not ours"]) },
];

const invokeError = (id: InvokeId) => new TurnError("unreachable", `The ${id} call failed (test).`);

const CANDIDATES: readonly ModelEvent[] = [
  { type: "START" },
  { type: "CANCEL" },
  CLOSE,
  DEADLINE,
  STREAM_READY,
  STREAM_LOST,
  ...EVENT_BATCHES.map((batch): ModelEvent => ({ type: "EVENTS", ...batch })),
  ...INVOKE_IDS.flatMap((id): ModelEvent[] => [
    { type: `xstate.done.actor.${id}`, output: OUTPUTS[id] },
    { type: `xstate.error.actor.${id}`, error: invokeError(id) },
  ]),
  ...[...AFTER_EVENTS.keys()].map((type): ModelEvent => ({ type: type as `xstate.after.${string}` })),
];

/** A short name of an event, for vertex keys and test names. */
function eventName(event: { type: string } | undefined): string {
  if (event === undefined) return "init";
  const e = event as ModelEvent;
  if (e.type === "EVENTS") return `EVENTS(${e.label})`;
  if (e.type === "CANCEL" && e.failure) return `CANCEL(${e.failure.code})`;
  return e.type;
}

/** The abstraction of a snapshot: the state value and what the codec decides with, never the text. */
function abstractState(snapshot: Snap): string {
  const turn = snapshot.context.turn;
  return JSON.stringify({
    value: snapshot.value,
    outcome: turn.outcome && `${turn.outcome.kind}${turn.outcome.kind === "error" ? `:${turn.outcome.code}` : ""}`,
    stopReason: turn.stopReason?.code,
    asks: turn.asks.map((a) => a.kind),
    userSeen: turn.userSeen,
    promptSent: turn.promptSent,
    reconnects: snapshot.context.reconnects,
    streamDown: snapshot.context.streamDown,
    queued: snapshot.context.queued.map((e) => (e as { type: string }).type),
    refusal: turn.refusal !== undefined,
  });
}

const { logic: traversalLogic, timersOf } = withPendingTimers<Snap, ModelEvent, TurnInput>(turnMachine);

/** The events the machine can take in `snapshot`, of `candidates`. */
const offered = (snapshot: Snap, candidates: readonly ModelEvent[]): ModelEvent[] =>
  snapshot.status !== "active"
    ? []
    : candidates.filter(
        (e) =>
          snapshot.can(e as unknown as TurnEvent) &&
          (!AFTER_EVENTS.has(e.type) || timersOf(snapshot).has(e.type)) &&
          // Events queued while reconnecting pile up without bound: one batch in the queue is enough.
          !(e.type === "EVENTS" && snapshot.context.queued.length > 0),
      );

function modelOf(input: TurnInput, candidates: readonly ModelEvent[]) {
  return new TestModel<Snap, ModelEvent, TurnInput>(traversalLogic, {
    input,
    events: (snapshot) => offered(snapshot, candidates),
    // The vertex is an abstraction of the snapshot (finite, so the traversal ends) plus its incoming edge
    // (event type and the state value it left): shortest paths then cover transitions, not just states.
    serializeState: (snapshot, event, prev) =>
      `${abstractState(snapshot)} timers=${[...timersOf(snapshot)].join(",")} via ${event?.type ?? "init"} from ${prev ? JSON.stringify(prev.value) : "-"}`,
    serializeEvent: (event) => eventName(event),
  });
}

const paths: TestPath<Snap, ModelEvent>[] = modelOf(INPUT, CANDIDATES).getShortestPaths();

/**
 * A session the host knows exists (an earlier turn found it): the turn skips the session check. Its
 * model is the start of a turn only (stopped, failed, or answered before the prompt), which is all
 * that differs from the main model's: from the stream on, the turn is the same.
 */
const KNOWN_SESSION_INPUT: TurnInput = { ...INPUT, sessionId: SESSION, sessionVerified: true };
const KNOWN_SESSION_EVENTS = new Set(["START", "CANCEL", "STREAM.READY", "STREAM.LOST", "xstate.done.actor.sendPrompt"]);
const knownSessionPaths: TestPath<Snap, ModelEvent>[] = modelOf(
  KNOWN_SESSION_INPUT,
  CANDIDATES.filter((e) => KNOWN_SESSION_EVENTS.has(e.type) || (e.type === "EVENTS" && e.label === "answer completed, session idle")),
).getShortestPaths();

const describePath = (path: TestPath<Snap, ModelEvent>) =>
  `${path.steps
    .slice(1)
    .map((s) => eventName(s.event))
    .join(" → ")} ⇒ ${JSON.stringify(path.state.value)}`;

// ---------------------------------------------------------------------------------------------
// Transitions, named the same way for the machine's definition, the model and the real actor

const transitionsCache = new WeakMap<object, string[][]>();

/** The transitions the model takes at each step of a path (always-transitions included); none for the first. */
function modelTransitions(path: TestPath<Snap, ModelEvent>): string[][] {
  const cached = transitionsCache.get(path);
  if (cached) return cached;
  const perStep = pathTransitions(turnMachine, path);
  transitionsCache.set(path, perStep);
  return perStep;
}

// ---------------------------------------------------------------------------------------------
// The real actor with controllable fakes

interface Call {
  readonly id: InvokeId;
  readonly input: unknown;
  readonly signal: AbortSignal;
  settled: boolean;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

interface Stream {
  readonly input: SessionRef;
  open: boolean;
  readonly sendBack: (event: TurnEvent) => void;
}

const macrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

function harness(input: TurnInput = INPUT) {
  const calls: Call[] = [];
  const streams: Stream[] = [];
  const replies: Reply[] = [];
  const taken: string[] = [];
  const errors: unknown[] = [];
  const clock = new ManualClock();

  const fake = <O, I>(id: InvokeId) =>
    fromPromise<O, I>(
      ({ input, signal }) =>
        new Promise<O>((resolve, reject) => {
          const call: Call = {
            id,
            input,
            signal,
            settled: false,
            resolve: (value) => ((call.settled = true), resolve(value as O)),
            reject: (error) => ((call.settled = true), reject(error)),
          };
          calls.push(call);
        }),
    );

  const machine = turnMachine.provide({
    actors: {
      ensureSession: fake<string, EnsureSessionInput>("ensureSession"),
      // Like the adapter's: it reports the stream's life to the machine through sendBack.
      eventStream: fromCallback<TurnEvent, SessionRef>(({ sendBack, input }) => {
        const stream: Stream = { input, open: true, sendBack };
        streams.push(stream);
        return () => {
          stream.open = false;
        };
      }),
      sendPrompt: fake<void, SessionRef & { messageId: string; prompt: TurnPrompt }>("sendPrompt"),
      answerAsk: fake<void, AskRef>("answerAsk"),
      abortSession: fake<void, SessionRef>("abortSession"),
      reconnect: fake<StoredSession, SessionRef>("reconnect"),
    },
  });

  const actor = createActor(machine, {
    input,
    clock,
    inspect: (event) => {
      if (event.type === "@xstate.microstep" && event.actorRef === actor) taken.push(...event._transitions.map(transitionKey));
    },
  });
  actor.on("replies", (event) => replies.push(...event.replies));
  actor.subscribe({ error: (error) => errors.push(error) });
  actor.start();
  // Whatever the test's outcome, the actor stops with it: no timer or call outlives the test.
  onTestFinished(() => {
    actor.stop();
  });

  /** The one running invocation of `id` (not settled, not aborted). */
  const running = (id: InvokeId): Call => {
    const found = calls.filter((c) => c.id === id && !c.settled && !c.signal.aborted);
    if (found.length !== 1) throw new Error(`expected one running ${id}, found ${found.length}`);
    return found[0]!;
  };
  const stream = (): Stream => {
    const open = streams.filter((s) => s.open);
    if (open.length !== 1) throw new Error(`expected one open event stream, found ${open.length}`);
    return open[0]!;
  };
  const invoked = (id: InvokeId) => calls.filter((c) => c.id === id);
  const value = () => actor.getSnapshot().value;

  return {
    actor, calls, streams, replies, taken, errors, clock, running, stream, invoked, value,
    /** The turn ended orphaned: the runner would ask opencode to abort it. */
    orphaned: () => actor.getSnapshot().context.orphaned,
  };
}
type Harness = ReturnType<typeof harness>;

/** How long a delayed transition waits, from the machine's own delay (a number or a named delay). */
function delayOf(type: string, snapshot: Snap): number {
  const after = AFTER_EVENTS.get(type);
  if (after === undefined) throw new Error(`unknown delayed event ${type}`);
  if (typeof after.delay === "number") return after.delay;
  const delays = turnMachine.implementations.delays as Record<string, unknown>;
  const delay = delays[after.delay as string];
  if (typeof delay === "number") return delay;
  return (delay as (args: { context: unknown; event: unknown }) => number)({ context: snapshot.context, event: { type } });
}

/** Makes the real actor live through one step of a path, the way production would produce it. */
async function replay(h: Harness, step: Step<Snap, ModelEvent>, before: Snap): Promise<void> {
  const event = step.event;
  const type: string = event.type;
  if (type === "START" || type === "CANCEL" || type === "DEADLINE") {
    // DEADLINE is the machine's own timer: sent here as it fires (the focused tests fire the clock).
    h.actor.send(event as TurnEvent);
  } else if (event.type === "EVENTS") {
    h.stream().sendBack({ type: "EVENTS", events: event.events });
  } else if (type === "STREAM.READY" || type === "STREAM.LOST") {
    h.stream().sendBack(event as TurnEvent);
  } else if (type.startsWith("xstate.done.actor.")) {
    h.running(type.slice("xstate.done.actor.".length) as InvokeId).resolve((event as { output?: unknown }).output);
    await macrotask(); // a settled promise reaches the machine asynchronously
  } else if (type.startsWith("xstate.error.actor.")) {
    h.running(type.slice("xstate.error.actor.".length) as InvokeId).reject((event as { error: unknown }).error);
    await macrotask();
  } else if (type.startsWith("xstate.after.")) {
    h.clock.fire(delayOf(type, before));
  } else if (type !== "xstate.init") {
    throw new Error(`no way to replay ${type}`);
  }
}

/** The host contract on everything the machine emitted (README, "The host contract"). */
function assertContract(h: Harness): void {
  const snapshot = h.actor.getSnapshot();
  for (const reply of h.replies) {
    expect(Reply.safeParse(reply).success, `reply matches the contract: ${JSON.stringify(reply)}`).toBe(true);
    expect(reply.trace_id).toBe(TRACE);
  }
  expect(h.streams.length, "one event stream per turn, never re-created").toBeLessThanOrEqual(1);
  const terminals = h.replies.filter((r) => r.kind === "final" || r.kind === "error");
  expect(terminals.length, "at most one terminal reply").toBeLessThanOrEqual(1);
  if (terminals.length === 1) expect(h.replies.at(-1), "the terminal reply is the last").toBe(terminals[0]);
  if (snapshot.status === "active") expect(terminals, "no terminal reply while the turn runs").toEqual([]);
  if (snapshot.status === "done") {
    expect(terminals, "a finished turn has exactly one terminal reply").toHaveLength(1);
    const terminal = terminals[0]!;
    expect(terminal.kind).toBe(snapshot.value === "done" ? "final" : "error");
    const deltas = h.replies.flatMap((r) => (r.kind === "delta" ? [r.content] : [])).join("");
    if (terminal.kind === "final") expect(terminal.content, "final is the concatenation of the deltas").toBe(deltas);
    if (terminal.kind === "error") expect(terminal.code).toBe(snapshot.context.turn.outcome?.kind === "error" && snapshot.context.turn.outcome.code);
    // Nothing is left running: the stream is closed and every unsettled call was aborted.
    expect(h.streams.every((s) => !s.open), "event stream closed").toBe(true);
    expect(h.calls.filter((c) => !c.settled && !c.signal.aborted).map((c) => c.id), "no call left running").toEqual([]);
  }
}

async function runPath(path: TestPath<Snap, ModelEvent>, input = INPUT): Promise<void> {
  const expected = modelTransitions(path);
  const h = harness(input);
  for (const [i, step] of path.steps.entries()) {
    const where = `step ${i} (${eventName(step.event)})`;
    const before = i === 0 ? step.state : path.steps[i - 1]!.state;
    h.taken.length = 0;
    await replay(h, step, before);
    const real = h.actor.getSnapshot();
    expect(h.errors, where).toEqual([]);
    expect(real.value, where).toEqual(step.state.value);
    expect(real.status, where).toBe(step.state.status);
    expect(abstractState(real), where).toBe(abstractState(step.state));
    expect(h.taken, `transitions at ${where}`).toEqual(expected[i]);
    const modelTimers = [...timersOf(step.state)].map((type) => delayOf(type, step.state)).sort((a, b) => a - b);
    // The deadline's timer runs from the start to the end of the turn, beside the states' own.
    const deadline = real.status === "active" ? [DEADLINE_MS] : [];
    expect(h.clock.pendingDelays(), `pending timers at ${where}`).toEqual([...modelTimers, ...deadline].sort((a, b) => a - b));
  }
  assertContract(h);
}

// ---------------------------------------------------------------------------------------------
// The tests

describe("turn machine: every generated path on the real actor", () => {
  for (const path of paths) it(describePath(path), () => runPath(path));
});

describe("turn machine: every generated path of a known session on the real actor", () => {
  for (const path of knownSessionPaths) it(describePath(path), () => runPath(path, KNOWN_SESSION_INPUT));
});

describe("turn machine: coverage of the generated paths", () => {
  const allPaths = [...paths, ...knownSessionPaths];

  it("generates paths", () => {
    expect(paths.length).toBeGreaterThan(0);
    expect(knownSessionPaths.length).toBeGreaterThan(0);
  });

  it("visits every state node of the machine", () => {
    const expected = stateNodes(turnMachine.root).map((n) => n.id);
    const covered = new Set(allPaths.flatMap((p) => p.steps.flatMap((s) => [turnMachine.root.id, ...activeIds(s.state.value, turnMachine.root.id)])));
    expect(expected.filter((id) => !covered.has(id)), "state nodes no path visits").toEqual([]);
  });

  it("takes every transition of the machine (on, onDone/onError, after, always)", () => {
    const definitions = machineTransitions(turnMachine);
    const expected = definitions.map(transitionKey);
    // The names tell transitions apart, and toDirectedGraph sees nothing the walk of machine.root misses.
    expect(new Set(expected).size).toBe(expected.length);
    expect(graphTransitions(toDirectedGraph(turnMachine)).map(transitionKey).filter((k) => !expected.includes(k))).toEqual([]);
    expect(expected.some((k) => k.includes(" on (always)"))).toBe(true);
    expect(expected.some((k) => k.includes(" on xstate.after."))).toBe(true);

    const covered = new Set(allPaths.flatMap((p) => modelTransitions(p).flat()));
    expect(expected.filter((k) => !covered.has(k)), "transitions no path takes").toEqual([]);
    expect([...covered].filter((k) => !expected.includes(k)), "transitions not in the machine").toEqual([]);
  });

  it("offers every invoke outcome and delayed event the machine can receive", () => {
    const invokeIds = stateNodes(turnMachine.root).flatMap((n) => n.invoke.map((i) => i.id));
    const types = new Set<string>(CANDIDATES.map((e) => e.type));
    for (const id of invokeIds) {
      if (id === "eventStream") continue; // a callback actor: it reports through sendBack, never done/error
      expect(types.has(`xstate.done.actor.${id}`), id).toBe(true);
      expect(types.has(`xstate.error.actor.${id}`), id).toBe(true);
    }
    expect([...AFTER_EVENTS.keys()].every((t) => types.has(t))).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Focused behaviour on the real actor

async function settle(call: Call, outcome: { output?: unknown } | { error: unknown }): Promise<void> {
  if ("error" in outcome) call.reject(outcome.error);
  else call.resolve(outcome.output);
  await macrotask();
}

/** START, session created, stream ready: the prompt is being posted. */
async function toPrompting(h: Harness): Promise<void> {
  h.actor.send({ type: "START" });
  expect(h.running("ensureSession").input).toEqual({ sessionId: undefined, verified: false, title: undefined });
  await settle(h.running("ensureSession"), { output: SESSION });
  expect(h.stream().input).toEqual({ sessionId: SESSION });
  h.stream().sendBack(STREAM_READY);
  expect(h.value()).toEqual(PROMPTING);
  expect(h.running("sendPrompt").input).toEqual({ sessionId: SESSION, messageId: MESSAGE, prompt: INPUT.prompt });
}

/** ... and posted: the turn is receiving. */
async function toReceiving(h: Harness): Promise<void> {
  await toPrompting(h);
  await settle(h.running("sendPrompt"), { output: undefined });
  expect(h.value()).toEqual(RECEIVING);
}

const text = (...words: string[]) => {
  const events: unknown[] = [E.assistantMessage(SESSION, ASSISTANT, MESSAGE), E.partOpened(SESSION, ASSISTANT, TEXT_PART, "text")];
  for (const w of words) events.push(E.delta(SESSION, ASSISTANT, TEXT_PART, w));
  return events;
};

describe("turn machine: behaviour with fake actors", () => {
  it("emits the session it found, then outputs the turn's outcome, content and usage (toPromise)", async () => {
    const h = harness();
    const sessions: string[] = [];
    h.actor.on("session", (event) => sessions.push(event.sessionId));
    const output = toPromise(h.actor);
    await toReceiving(h);
    expect(sessions).toEqual([SESSION]);
    h.stream().sendBack({ type: "EVENTS", events: [E.userMessage(SESSION, MESSAGE), ...text("Hi ", "there"), { type: "no.such.event" }, E.assistantDone(SESSION, ASSISTANT, MESSAGE), ...E.idleEnd(SESSION)] });
    await expect(output).resolves.toEqual({ outcome: { kind: "final" }, content: "Hi there", usage: undefined, unusable: 1, orphaned: false });
  });

  it("a session the host knows exists is not checked: the stream opens on it at once, and the host is told of it", async () => {
    const h = harness({ ...KNOWN_SESSION_INPUT, children: ["ses_child"] });
    const sessions: string[] = [];
    h.actor.on("session", (event) => sessions.push(event.sessionId));
    h.actor.send({ type: "START" });
    expect(h.invoked("ensureSession")).toEqual([]);
    expect(h.value()).toEqual({ live: "connectingStream" });
    expect(h.stream().input).toEqual({ sessionId: SESSION });
    expect(sessions).toEqual([SESSION]);
    // The children known of it are kept, as when the check finds it.
    expect([...h.actor.getSnapshot().context.turn.family]).toEqual([SESSION, "ses_child"]);
  });

  it("keeps a message id the host gave over the stream's, and knows the turn by it", async () => {
    const HOST_MESSAGE = "msg_host_user";
    const h = harness({ ...INPUT, messageId: HOST_MESSAGE });
    const output = toPromise(h.actor);
    h.actor.send({ type: "START" });
    await settle(h.running("ensureSession"), { output: SESSION });
    h.stream().sendBack(STREAM_READY);
    expect(h.running("sendPrompt").input).toEqual({ sessionId: SESSION, messageId: HOST_MESSAGE, prompt: INPUT.prompt });
    await settle(h.running("sendPrompt"), { output: undefined });
    h.stream().sendBack({
      type: "EVENTS",
      events: [
        E.userMessage(SESSION, HOST_MESSAGE),
        E.assistantMessage(SESSION, ASSISTANT, HOST_MESSAGE),
        E.partOpened(SESSION, ASSISTANT, TEXT_PART, "text"),
        E.delta(SESSION, ASSISTANT, TEXT_PART, "Hi"),
        E.assistantDone(SESSION, ASSISTANT, HOST_MESSAGE),
        ...E.idleEnd(SESSION),
      ],
    });
    await expect(output).resolves.toMatchObject({ outcome: { kind: "final" }, content: "Hi" });
  });

  it("outputs an error outcome with the failure its error reply carries", async () => {
    const h = harness();
    const output = toPromise(h.actor);
    h.actor.send({ type: "START" });
    await settle(h.running("ensureSession"), { output: SESSION });
    h.actor.send(CLOSE);
    await expect(output).resolves.toEqual({ outcome: { kind: "error", ...CLOSE.failure }, content: "", usage: undefined, unusable: 0, orphaned: false });
    expect(h.replies).toEqual([{ kind: "error", trace_id: TRACE, ...CLOSE.failure }]);
  });

  it("answers a permission ask (answerAsk gets the ask) and the turn continues to final", async () => {
    const h = harness();
    await toReceiving(h);
    h.stream().sendBack({ type: "EVENTS", events: [E.userMessage(SESSION, MESSAGE), ...text("Let me "), E.permissionAsked(SESSION, "per_1", "call_7")] });
    expect(h.value()).toEqual(ANSWERING);

    const reply = h.running("answerAsk");
    expect(reply.input).toEqual({
      sessionId: SESSION,
      ask: { kind: "permission", request: expect.objectContaining({ id: "per_1", sessionID: SESSION, permission: "bash", tool: { messageID: "msg_x", callID: "call_7" } }) },
    });
    await settle(reply, { output: undefined });
    expect(h.value()).toEqual(RECEIVING);
    expect(h.actor.getSnapshot().context.turn.asks).toEqual([]);

    h.stream().sendBack({
      type: "EVENTS",
      events: [E.permissionReplied(SESSION, "per_1"), E.delta(SESSION, ASSISTANT, TEXT_PART, "check."), E.partClosed(SESSION, ASSISTANT, TEXT_PART, "text", "Let me check."), E.assistantDone(SESSION, ASSISTANT, MESSAGE), ...E.idleEnd(SESSION)],
    });
    expect(h.value()).toBe("done");
    expect(h.replies).toEqual([
      { kind: "delta", trace_id: TRACE, content: "Let me " },
      { kind: "delta", trace_id: TRACE, content: "check." },
      { kind: "final", trace_id: TRACE, content: "Let me check." },
    ]);
    expect(h.invoked("answerAsk")).toHaveLength(1);
    expect(h.invoked("abortSession")).toHaveLength(0);
    assertContract(h);
  });

  it("CANCEL while prompting waits for the prompt to be posted, then cancels and aborts the session", async () => {
    const h = harness();
    await toPrompting(h);
    const prompt = h.running("sendPrompt");
    h.actor.send({ type: "CANCEL" });
    // Still posting: the abort must not overtake the prompt.
    expect(h.value()).toEqual(PROMPTING_STOPPED);
    expect(prompt.signal.aborted).toBe(false);
    expect(h.invoked("abortSession")).toHaveLength(0);
    await settle(prompt, { output: undefined });
    expect(h.value()).toEqual(CANCELLING);
    expect(h.invoked("abortSession")).toHaveLength(1);
    expect(h.replies).toEqual([]);

    const abort = h.running("abortSession");
    expect(abort.input).toEqual({ sessionId: SESSION });

    // opencode confirms: the abort call returns, then the aborted message and the idle arrive.
    await settle(abort, { output: undefined });
    expect(h.value()).toEqual(CANCELLING);
    h.stream().sendBack({ type: "EVENTS", events: [E.userMessage(SESSION, MESSAGE), E.sessionError(SESSION, "MessageAbortedError", "aborted"), ...E.idleEnd(SESSION)] });
    expect(h.value()).toBe("errored");
    expect(h.replies).toEqual([{ kind: "error", trace_id: TRACE, code: "aborted", error: "The turn was cancelled by the host." }]);
    assertContract(h);
  });

  it("the turn deadline (DEADLINE, the machine's timer) stops the turn, which ends with code timeout", async () => {
    const h = harness();
    await toReceiving(h);
    h.stream().sendBack({ type: "EVENTS", events: [E.userMessage(SESSION, MESSAGE), ...text("partial")] });

    expect(h.clock.pendingDelays()).toEqual([DEADLINE_MS]);
    h.clock.fire(DEADLINE_MS);
    expect(h.value()).toEqual(CANCELLING);
    await settle(h.running("abortSession"), { output: undefined });
    h.stream().sendBack({ type: "EVENTS", events: [E.sessionError(SESSION, "MessageAbortedError", "aborted"), ...E.idleEnd(SESSION)] });

    expect(h.value()).toBe("errored");
    expect(h.replies.map((r) => r.kind)).toEqual(["delta", "error"]);
    expect(h.replies.at(-1)).toMatchObject({ kind: "error", code: "timeout", error: DEADLINE_ERROR });
    expect(h.clock.pendingDelays()).toEqual([]);
    assertContract(h);
  });

  it("the deadline counts the time the turn waited before it started; a turn without one has no timer", async () => {
    const waited = harness({ ...INPUT, waitedMs: 45_000 });
    expect(waited.clock.pendingDelays()).toEqual([DEADLINE_MS - 45_000]);
    waited.clock.fire(DEADLINE_MS - 45_000);
    expect(waited.value()).toBe("errored");
    expect(waited.replies).toEqual([{ kind: "error", trace_id: TRACE, code: "timeout", error: DEADLINE_ERROR }]);

    const { turnTimeoutMs: _none, ...withoutDeadline } = INPUT;
    const open = harness(withoutDeadline);
    await toReceiving(open);
    expect(open.clock.pendingDelays()).toEqual([]);
  });

  it("a cancel before the stream is ready ends the turn at once, with nothing sent to opencode", async () => {
    const h = harness();
    h.actor.send({ type: "START" });
    await settle(h.running("ensureSession"), { output: SESSION });
    expect(h.value()).toEqual({ live: "connectingStream" });
    h.actor.send(DEADLINE);
    expect(h.value()).toBe("errored");
    expect(h.invoked("sendPrompt")).toHaveLength(0);
    expect(h.invoked("abortSession")).toHaveLength(0);
    expect(h.replies).toEqual([expect.objectContaining({ kind: "error", code: "timeout" })]);
  });

  it("an error after the prompt was posted, then an idle, with no user message: opencode refused the prompt", async () => {
    const h = harness();
    await toReceiving(h);
    h.stream().sendBack({
      type: "EVENTS",
      events: [E.sessionError(SESSION, "UnknownError", "Agent not found: nope"), E.sessionError(SESSION, "UnknownError", "again"), ...E.idleEnd(SESSION)],
    });
    expect(h.value()).toBe("errored");
    expect(h.replies).toEqual([{ kind: "error", trace_id: TRACE, code: "bad_request", error: "opencode did not start the turn: Agent not found: nope" }]);
  });

  it.each([
    { cancel: { type: "CANCEL" } as const, code: "aborted" },
    { cancel: CLOSE, code: "closed" },
  ])("abort grace expiry ends the turn with the stop reason ($code) though opencode never confirms", async ({ cancel, code }) => {
    const h = harness();
    await toReceiving(h);
    h.stream().sendBack({ type: "EVENTS", events: [E.userMessage(SESSION, MESSAGE)] });
    h.actor.send(cancel);
    expect(h.value()).toEqual(CANCELLING);
    const abort = h.running("abortSession"); // never settles, and no idle comes

    h.clock.fire(GRACE_MS);
    expect(h.value()).toBe("errored");
    expect(h.replies).toEqual([expect.objectContaining({ kind: "error", trace_id: TRACE, code })]);
    expect(abort.signal.aborted, "the pending abort call is cancelled").toBe(true);
    expect(h.clock.pendingDelays(), "no timer is left").toEqual([]);
    assertContract(h);
  });

  it("a batch with nothing about the turn's sessions is not taken (the concernsTurn guard)", async () => {
    const h = harness();
    await toReceiving(h);
    const before = h.actor.getSnapshot();
    const foreign = { type: "EVENTS", events: E.textTurn("ses_someone_else", "msg_u", "msg_a", ["not ours"]) } as const;
    expect(before.can(foreign)).toBe(false);
    h.stream().sendBack(foreign);
    expect(h.actor.getSnapshot()).toBe(before);
    expect(h.replies).toEqual([]);
  });

  it("STREAM.LOST while streaming reopens the stream and catches up from the stored messages", async () => {
    const h = harness();
    await toReceiving(h);
    h.stream().sendBack({ type: "EVENTS", events: [E.userMessage(SESSION, MESSAGE), ...text("half")] });
    h.stream().sendBack(STREAM_LOST);
    expect(h.value()).toEqual(RECONNECTING);
    const stored = [
      { info: { id: MESSAGE, sessionID: SESSION, role: "user" }, parts: [] },
      {
        info: COMPLETED_ANSWER.info,
        parts: [{ id: TEXT_PART, sessionID: SESSION, messageID: ASSISTANT, type: "text", text: "half and whole", time: { start: 1, end: 2 } }],
      },
    ];
    await settle(h.running("reconnect"), { output: { children: [], permissions: [], questions: [], messages: stored, sessionIdle: true } satisfies StoredSession });
    expect(h.value()).toBe("done");
    expect(h.replies.map((r) => (r as { content?: string }).content)).toEqual(["half", " and whole", "half and whole"]);
    expect(h.orphaned()).toBe(false);
    assertContract(h);
  });

  it("a loss while a permission is being answered lets the answer finish, then reopens the stream (no second decision)", async () => {
    const h = harness();
    await toReceiving(h);
    h.stream().sendBack({ type: "EVENTS", events: [E.userMessage(SESSION, MESSAGE), E.permissionAsked(SESSION, "per_1")] });
    const reply = h.running("answerAsk");
    h.stream().sendBack({ type: "STREAM.LOST", error: new TurnError("stream_lost", "lost") });
    expect(h.value()).toEqual(ANSWERING);
    expect(reply.signal.aborted).toBe(false);
    await settle(reply, { output: undefined });
    expect(h.value()).toEqual(RECONNECTING);
    await settle(h.running("reconnect"), { output: { children: [], permissions: [], questions: [], messages: [], sessionIdle: false } satisfies StoredSession });
    expect(h.value()).toEqual(RECEIVING);
    expect(h.invoked("answerAsk")).toHaveLength(1);
  });

  it("a stream that cannot be reopened ends the turn with stream_lost and abandons the server's turn", async () => {
    const h = harness();
    await toReceiving(h);
    h.stream().sendBack({ type: "EVENTS", events: [E.userMessage(SESSION, MESSAGE), ...text("half")] });
    h.stream().sendBack(STREAM_LOST);
    await settle(h.running("reconnect"), { error: new TurnError("unreachable", "Cannot reach opencode") });
    expect(h.value()).toBe("errored");
    expect(h.replies).toEqual([
      { kind: "delta", trace_id: TRACE, content: "half" },
      { kind: "error", trace_id: TRACE, code: "stream_lost", error: "The event stream was lost and could not be reopened: Cannot reach opencode" },
    ]);
    expect(h.orphaned()).toBe(true);
    assertContract(h);
  });

  it(`a stream lost more than ${MAX_RECONNECTS} times in a turn ends it with stream_lost`, async () => {
    const h = harness();
    await toReceiving(h);
    h.stream().sendBack({ type: "EVENTS", events: [E.userMessage(SESSION, MESSAGE)] });
    for (let i = 0; i < MAX_RECONNECTS; i++) {
      h.stream().sendBack(STREAM_LOST);
      await settle(h.running("reconnect"), { output: { children: [], permissions: [], questions: [], messages: [], sessionIdle: false } satisfies StoredSession });
      expect(h.value()).toEqual(RECEIVING);
    }
    h.stream().sendBack(STREAM_LOST);
    expect(h.value()).toBe("errored");
    expect(h.replies).toEqual([expect.objectContaining({ kind: "error", code: "stream_lost" })]);
    expect(h.orphaned()).toBe(true);
  });

  it("a retry loop past maxProviderRetries stops the turn with provider_error", async () => {
    const h = harness();
    await toReceiving(h);
    h.stream().sendBack({ type: "EVENTS", events: [E.userMessage(SESSION, MESSAGE), E.retry(SESSION, 1)] });
    expect(h.value()).toEqual(RECEIVING);
    h.stream().sendBack({ type: "EVENTS", events: [E.retry(SESSION, MAX_PROVIDER_RETRIES + 1)] });
    expect(h.value()).toEqual(CANCELLING);
    await settle(h.running("abortSession"), { error: new TurnError("unreachable", "opencode is gone") });
    expect(h.value()).toBe("errored");
    expect(h.replies).toEqual([expect.objectContaining({ kind: "error", code: "provider_error" })]);
    assertContract(h);
  });
});

// Defects the model-based tests found once, kept as regressions.
describe("turn machine: a stop respects the state it interrupts", () => {
  it("a stop while prompting waits for the prompt to be posted before aborting", async () => {
    const h = harness();
    await toPrompting(h);
    const prompt = h.running("sendPrompt");
    h.actor.send(DEADLINE);
    expect(prompt.signal.aborted).toBe(false);
    expect(h.invoked("abortSession")).toHaveLength(0);
    await settle(prompt, { output: undefined });
    expect(h.value()).toEqual(CANCELLING);
    expect(h.invoked("abortSession")).toHaveLength(1);
  });

  it("a stop while prompting does not wait past the grace for a prompt whose answer never ends", async () => {
    const h = harness();
    await toPrompting(h);
    const prompt = h.running("sendPrompt");
    h.actor.send({ type: "CANCEL" });
    h.clock.fire(GRACE_MS);
    expect(h.value()).toBe("errored");
    expect(prompt.signal.aborted).toBe(true);
    expect(h.orphaned()).toBe(true);
    expect(h.replies).toEqual([{ kind: "error", trace_id: TRACE, code: "aborted", error: "The turn was cancelled by the host." }]);
    assertContract(h);
  });

  it("a prompt whose answer fails asks opencode to stop the turn it may have started", async () => {
    const h = harness();
    await toPrompting(h);
    await settle(h.running("sendPrompt"), { error: new TurnError("unreachable", "the answer never ended") });
    expect(h.value()).toBe("errored");
    expect(h.orphaned()).toBe(true);
    expect(h.replies).toEqual([{ kind: "error", trace_id: TRACE, code: "unreachable", error: "the answer never ended" }]);
  });

  it("a second stop while cancelling neither re-sends the abort nor restarts the abort grace", async () => {
    const h = harness();
    await toReceiving(h);
    h.actor.send({ type: "CANCEL" });
    const first = h.running("abortSession");
    h.actor.send(DEADLINE);
    expect(first.signal.aborted).toBe(false);
    expect(h.invoked("abortSession")).toHaveLength(1);
    h.clock.fire(GRACE_MS);
    expect(h.replies).toEqual([expect.objectContaining({ kind: "error", code: "aborted" })]);
  });
});
