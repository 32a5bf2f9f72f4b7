import { type Ask, type CodecResult, NONE, type TurnState, unchanged } from "./state.js";

// Permission and question asks: queued for the machine to answer, oldest first.

export function addAsk(state: TurnState, ask: Ask): CodecResult {
  const id = ask.request.id;
  if (state.outcome || state.answeredAsks.has(id) || state.asks.some((a) => a.request.id === id)) return unchanged(state);
  return { state: { ...state, asks: [...state.asks, ask] }, replies: NONE };
}

export function settleAsk(state: TurnState, requestId: string): CodecResult {
  // The head of the queue is being answered by the machine right now; it leaves through answeredAsk.
  const index = state.asks.findIndex((a) => a.request.id === requestId);
  if (index <= 0) return unchanged(state);
  return { state: { ...state, asks: state.asks.filter((_, i) => i !== index) }, replies: NONE };
}

/** Drops the oldest ask once it has been answered. */
export function answeredAsk(state: TurnState): TurnState {
  const [answered, ...rest] = state.asks;
  if (answered === undefined) return state;
  return { ...state, asks: rest, answeredAsks: new Set(state.answeredAsks).add(answered.request.id) };
}
