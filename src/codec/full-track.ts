import type { Reply } from "../contract/replies.js";
import type { Ask, TurnState } from "./state.js";

// What the full vocabulary keeps of a turn beyond the core state. The core vocabulary has none of it
// (`TurnState.full` is undefined), so its per-event work stays what it was.

/** A child session (a subagent the task tool started): its own turn, decoded by the same codec. */
export interface ChildTrack {
  /** The parent's task call this child works for, once a part of that call names the child. */
  readonly callId: string | undefined;
  readonly state: TurnState;
  /** Replies the child made before its call was known: sent, in order, once it is. */
  readonly held: readonly Reply[];
}

export interface FullTrack {
  /** The todo list last sent, as JSON: a list sent again unchanged is not a change. */
  readonly todos: string | undefined;
  /** Model steps finished so far in this turn: the index of the next `step`. */
  readonly steps: number;
  /** Per running call, the last `tool_update` sent (title and output, as JSON): only changes are sent. */
  readonly updates: ReadonlyMap<string, string>;
  /** The turn's direct children, by session id. */
  readonly children: ReadonlyMap<string, ChildTrack>;
  /** The parent of every session below the turn's own, so a grandchild's events reach its child. */
  readonly parentOf: ReadonlyMap<string, string>;
  /** Asks seen and not yet reported as answered, by ask id. */
  readonly asks: ReadonlyMap<string, Ask>;
  /** The provider retry attempt last reported, until opencode is busy again (0: none pending). */
  readonly retryAttempt: number;
}

export function initialFullTrack(): FullTrack {
  return { todos: undefined, steps: 0, updates: new Map(), children: new Map(), parentOf: new Map(), asks: new Map(), retryAttempt: 0 };
}
