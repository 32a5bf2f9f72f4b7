/**
 * Record and replay turns. A recording is JSON lines: a header, then every event the turn machine
 * received (the raw opencode events arrive inside its `EVENTS` events; the outcomes of its actors
 * and timers are events too) and every reply it sent. The machine and its codec are deterministic
 * given those events, so `replay` reproduces a turn's replies without a server, a network or a clock.
 */
import { closeSync, createReadStream, openSync, writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { fromCallback, fromPromise, SimulatedClock, type ActorRefLike, type InspectionEvent } from "xstate";
import { z } from "zod";
import { turnMachine, type StoredSession, type TurnEmitted, type TurnEvent, type TurnInput, type TurnMachine } from "../../machines/turn.machine.js";
import { startTurn } from "../engine/turn-runner.js";
import { ErrorCode, Reply } from "../contract/replies.js";
import { reasonOf, TurnError } from "../contract/turn-error.js";

export const RECORDING_FORMAT = "opencode-turns-recording";
export const RECORDING_VERSION = 1;

/** The first line of a recording. */
export const RecordingHeader = z.strictObject({
  format: z.literal(RECORDING_FORMAT),
  version: z.literal(RECORDING_VERSION),
  /** When the recording was started (ISO 8601). */
  created: z.string(),
});
export type RecordingHeader = z.infer<typeof RecordingHeader>;

/** An error carried by an event (a failed actor, a lost stream): JSON has no Error. */
export const RecordedError = z.strictObject({ name: z.string(), message: z.string(), code: ErrorCode.optional() });
export type RecordedError = z.infer<typeof RecordedError>;

/** An event as the machine received it; its shape is the machine's (see `TurnEvent`), so only the type is checked here. */
export const RecordedEvent = z.looseObject({ type: z.string().min(1), error: RecordedError.optional() });

const entryBase = {
  /** Which turn of the recording, from 1: one recorder can watch many turns. */
  turn: z.number().int().positive(),
  /** Milliseconds since the turn's actor started. */
  at: z.number().nonnegative(),
};

/** Every line after the header: an event the turn machine received, or a reply it sent. */
export const RecordingEntry = z.union([
  z.strictObject({ ...entryBase, event: RecordedEvent }),
  z.strictObject({ ...entryBase, reply: Reply }),
]);
export type RecordingEntry = z.infer<typeof RecordingEntry>;

/** A recording that cannot be read: says which line and why. */
export class RecordingError extends Error {
  override readonly name = "RecordingError";
}

/**
 * Writes what every turn actor it inspects sees: pass `recorder.inspect` as `AdapterOptions.inspect`.
 * A failing write never disturbs the turn: recording stops and `close()` throws the error.
 */
export class TurnRecorder {
  private readonly turns = new WeakMap<ActorRefLike, { turn: number; startedAt: number }>();
  private count = 0;
  private failure: unknown;

  constructor(
    private readonly write: (line: string) => void,
    private readonly onClose: () => void = () => undefined,
  ) {
    const header: RecordingHeader = { format: RECORDING_FORMAT, version: RECORDING_VERSION, created: new Date().toISOString() };
    this.line(header);
  }

  /** A recorder writing to `path` (created or truncated). Each line is written as it happens, so a crash keeps what came before. */
  static toFile(path: string): TurnRecorder {
    const fd = openSync(path, "w");
    return new TurnRecorder(
      (line) => writeSync(fd, line),
      () => closeSync(fd),
    );
  }

  /** XState's inspection observer. Only the root actor of each turn is recorded: its children's work reaches it as events. */
  readonly inspect = (inspection: InspectionEvent): void => {
    const actor = inspection.actorRef;
    if (actor.sessionId !== inspection.rootId) return;
    if (inspection.type === "@xstate.event") {
      if (inspection.event.type === "xstate.init") this.turns.set(actor, { turn: ++this.count, startedAt: performance.now() });
      const turn = this.turns.get(actor);
      if (turn) this.line({ turn: turn.turn, at: elapsed(turn.startedAt), event: recordedEvent(inspection.event) });
    } else if (inspection.type === "@xstate.action" && inspection.action.type === "xstate.emit") {
      // The machine emits each reply; XState's built-in emit action carries it as `params.event`.
      const turn = this.turns.get(actor);
      const emitted = (inspection.action.params as { event?: TurnEmitted } | undefined)?.event;
      if (turn && emitted?.type === "replies") for (const reply of emitted.replies) this.line({ turn: turn.turn, at: elapsed(turn.startedAt), reply });
    }
  };

  /** Closes the file; throws the error that stopped the recording, if any. */
  close(): void {
    this.onClose();
    if (this.failure !== undefined) throw this.failure;
  }

  private line(value: RecordingHeader | RecordingEntry): void {
    if (this.failure !== undefined) return;
    try {
      this.write(`${JSON.stringify(value)}\n`);
    } catch (error) {
      this.failure = error;
    }
  }
}

function elapsed(since: number): number {
  return Math.round((performance.now() - since) * 10) / 10;
}

function recordedEvent(event: { type: string; error?: unknown }): z.infer<typeof RecordedEvent> {
  if (!("error" in event)) return event as z.infer<typeof RecordedEvent>;
  const error = event.error;
  const recorded: RecordedError =
    error instanceof Error
      ? { name: error.name, message: error.message, ...(error instanceof TurnError ? { code: error.code } : {}) }
      : { name: "Error", message: String(error) };
  return { ...event, error: recorded };
}

/** The event as the machine received it: a recorded error becomes an error again. */
function revivedEvent(event: z.infer<typeof RecordedEvent>): TurnEvent {
  if (event.error === undefined) return event as unknown as TurnEvent;
  const { name, message, code } = event.error;
  const error = code !== undefined ? new TurnError(code, message) : Object.assign(new Error(message), { name });
  return { ...event, error } as unknown as TurnEvent;
}

/**
 * The turn machine with no I/O: its actors never finish on their own and its clock never runs, so
 * only the recorded events move it (an actor's outcome and a timer's firing are among them).
 */
function replayMachine(): TurnMachine {
  const pending = <T>() => new Promise<T>(() => undefined);
  return turnMachine.provide({
    actors: {
      ensureSession: fromPromise(pending<string>),
      eventStream: fromCallback(() => undefined),
      sendPrompt: fromPromise(pending<void>),
      answerAsk: fromPromise(pending<void>),
      abortSession: fromPromise(pending<void>),
      reconnect: fromPromise(pending<StoredSession>),
    },
  });
}

/** The parsed lines of a recording, header first; throws `RecordingError` naming the line that is wrong. */
export async function* readRecording(path: string): AsyncGenerator<RecordingEntry, void, undefined> {
  const lines = createInterface({ input: createReadStream(path, "utf8"), crlfDelay: Infinity });
  let number = 0;
  try {
    for await (const text of lines) {
      number++;
      if (text.trim() === "") continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new RecordingError(`${path}:${number}: not JSON`);
      }
      if (number === 1) {
        checkHeader(path, value);
        continue;
      }
      const entry = RecordingEntry.safeParse(value);
      if (!entry.success) throw new RecordingError(`${path}:${number}: not a recording entry: ${z.prettifyError(entry.error)}`);
      yield entry.data;
    }
  } finally {
    lines.close();
  }
  if (number === 0) throw new RecordingError(`${path}: empty, not a recording`);
}

function checkHeader(path: string, value: unknown): void {
  const header = RecordingHeader.safeParse(value);
  if (header.success) return;
  const { format, version } = (value ?? {}) as { format?: unknown; version?: unknown };
  if (format !== RECORDING_FORMAT) throw new RecordingError(`${path}: not an opencode-turns recording (its first line has no "format": "${RECORDING_FORMAT}")`);
  if (version !== RECORDING_VERSION) {
    throw new RecordingError(`${path}: recording format version ${String(version)}; this opencode-turns reads version ${RECORDING_VERSION}`);
  }
  throw new RecordingError(`${path}:1: not a recording header: ${z.prettifyError(header.error)}`);
}

/**
 * Runs a recording through the turn machine and its codec, offline, and yields the replies they make,
 * turn by turn in the recording's order. The recorded replies are not read: compare them with
 * `recordedReplies` to see whether this version still behaves as the recorded one did.
 */
export async function* replay(path: string): AsyncGenerator<Reply, void, undefined> {
  const actors = new Map<number, ReturnType<typeof startReplay>>();
  try {
    for await (const entry of readRecording(path)) {
      if (!("event" in entry)) continue;
      const event = entry.event;
      let actor = actors.get(entry.turn);
      if (event.type === "xstate.init") {
        if (actor) throw new RecordingError(`${path}: turn ${entry.turn} starts twice`);
        actor = startReplay(event.input);
        actors.set(entry.turn, actor);
      } else if (actor === undefined) {
        throw new RecordingError(`${path}: turn ${entry.turn} has an event before its start (xstate.init)`);
      } else {
        actor.send(revivedEvent(event));
      }
      yield* actor.take();
      if (actor.failure !== undefined) throw new RecordingError(`${path}: turn ${entry.turn} failed in replay: ${actor.failure}`);
    }
  } finally {
    for (const actor of actors.values()) actor.stop();
  }
}

function startReplay(input: unknown) {
  const out: Reply[] = [];
  // The recorded events (START among them) move the turn, on a clock that never runs.
  const turn = startTurn(replayMachine(), { input: input as TurnInput, clock: new SimulatedClock(), onReplies: (replies) => out.push(...replies) });
  return {
    send: (event: TurnEvent) => turn.actor.send(event),
    take: () => out.splice(0),
    get failure() {
      const snapshot = turn.actor.getSnapshot();
      return snapshot.status === "error" ? reasonOf(snapshot.error) : undefined;
    },
    stop: () => turn.stop(),
  };
}

/** The replies written in a recording, in order. */
export async function recordedReplies(path: string): Promise<Reply[]> {
  const replies: Reply[] = [];
  for await (const entry of readRecording(path)) if ("reply" in entry) replies.push(entry.reply);
  return replies;
}
