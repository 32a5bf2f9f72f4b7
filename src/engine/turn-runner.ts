import { createActor, toPromise, type Actor, type ActorOptions, type InspectionEvent, type Observer } from "xstate";
import { turnOutputOf, type TurnInput, type TurnMachine, type TurnOutput } from "../../machines/turn.machine.js";
import type { Reply } from "../contract/replies.js";
import { reasonOf } from "../contract/turn-error.js";

export type TurnActor = Actor<TurnMachine>;

export interface TurnOptions {
  input: TurnInput;
  /** Aborting it cancels the turn. */
  signal?: AbortSignal | undefined;
  /** XState's inspection observer for the turn's actor (a recorder, the Stately inspector). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void) | undefined;
  /** The machine's clock, for its timers (the grace, the deadline); replay gives one that never runs. */
  clock?: ActorOptions<TurnMachine>["clock"];
  /** Each batch of replies, in order, as the machine emits it. */
  onReplies?(replies: readonly Reply[]): void;
  /** The session the turn runs in, once found or created. */
  onSession?(sessionId: string): void;
  /** The turn ended while opencode may still run it (`TurnOutput.orphaned`): ask it to stop. */
  onOrphaned?(sessionId: string): void;
}

/**
 * How a turn actor ended: its output, and the machine's failure if it failed (a defect). A defect
 * after the codec had an outcome leaves that outcome standing: its terminal reply was already emitted.
 */
export type SettledTurn = { output: TurnOutput; defect?: string } | { output: undefined; defect: string };

export interface StartedTurn {
  readonly actor: TurnActor;
  /** Settles once the actor has ended, never rejects. */
  readonly settled: Promise<SettledTurn>;
  /** Sends START, waits for the end, and stops the turn. */
  run(): Promise<SettledTurn>;
  /** Stops the actor (its timers, actors and stream) and lets go of the signal. */
  stop(): void;
}

/**
 * The one way a turn actor is run: created with its input (the deadline is in it), started with its
 * listeners, cancelled by the signal, its end read once. Throws only if the signal cannot be listened to.
 */
export function startTurn(machine: TurnMachine, options: TurnOptions): StartedTurn {
  const { input, signal, inspect, clock, onReplies, onSession, onOrphaned } = options;
  const actor = createActor(machine, { input, ...(inspect ? { inspect } : {}), ...(clock ? { clock } : {}) });
  if (onReplies) actor.on("replies", ({ replies }) => onReplies(replies));
  if (onSession) actor.on("session", ({ sessionId }) => onSession(sessionId));
  const settled = toPromise(actor)
    .then(
      (output): SettledTurn => ({ output }),
      // The failed actor's last snapshot still holds the codec's state: its outcome, if it had one.
      (error: unknown) => ({ output: turnOutputOf(actor.getSnapshot().context), defect: reasonOf(error) }) as SettledTurn,
    )
    .then((ended) => {
      if (ended.output?.orphaned) onOrphaned?.(actor.getSnapshot().context.turn.sessionId);
      return ended;
    });
  const onAbort = () => actor.send({ type: "CANCEL" });
  const stop = () => {
    actor.stop();
    try {
      signal?.removeEventListener("abort", onAbort);
    } catch {
      // The turn is over; a signal that cannot let go of its listener holds only that listener.
    }
  };
  try {
    // A signal that only looks like one may throw here: the actor is then never started.
    signal?.addEventListener("abort", onAbort, { once: true });
  } catch (error) {
    stop();
    throw error;
  }
  actor.start();
  if (signal?.aborted) onAbort();
  return {
    actor,
    settled,
    stop,
    async run() {
      try {
        actor.send({ type: "START" });
        return await settled;
      } finally {
        stop();
      }
    },
  };
}

/** Runs one turn to its end (see `startTurn`). */
export function runTurn(machine: TurnMachine, options: TurnOptions): Promise<SettledTurn> {
  return startTurn(machine, options).run();
}
