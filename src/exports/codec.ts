// `opencode-turns/codec`: the pure translation of opencode events into replies.
export { mapOpencodeEvent, mapOpencodeEvents } from "../codec/map.js";
export { initialTurnState, type TurnState, type TurnIdentity, type TurnOutcome, type CodecResult, type Ask, type Failure } from "../codec/state.js";
export { trackModel, type ModelTrack } from "../host/session-watch.js";
