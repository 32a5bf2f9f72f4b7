// The public API (see README, "Public API"). The host contract is `OpenCodeAdapter`, its config and
// the reply schemas; the machine, its actors and the codec are exported for hosts that drive turns
// themselves. Anything not exported here is internal and may change.
export { OpenCodeAdapter, type AdapterOptions, type PromptOptions, type Sink } from "./src/adapter.js";
export { turnMachine, type TurnContext, type TurnEvent, type TurnInput, type TurnEmitted, type TurnOutput } from "./machines/turn.machine.js";
export { provideTurnMachine, followSession, type TurnServices } from "./src/turn-actors.js";
export { acquireHub, type EventHub } from "./src/transport/event-hub.js";
export {
  mapOpencodeEvent,
  mapOpencodeEvents,
  initialTurnState,
  type TurnState,
  type TurnIdentity,
  type TurnOutcome,
  type CodecResult,
  type Ask,
  type Failure,
} from "./src/codec.js";
export { trackModel, type ModelTrack } from "./src/session-watch.js";
export {
  AdapterConfig,
  ConfigError,
  DEFAULT_ATTACHMENT_SCHEMES,
  DEFAULT_ATTACHMENT_TYPES,
  resolveConfig,
  type AdapterConfigInput,
  type ResolvedConfig,
  type PermissionPolicy,
  type PermissionDecision,
  type QuestionPolicy,
  type QuestionDecision,
} from "./src/config.js";
export { Reply, ErrorCode, TurnResult, ModelChange, Usage } from "./src/replies.js";
export { Attachment, type TurnPrompt } from "./src/prompt.js";
export { TurnError } from "./src/turn-error.js";
export { runBridge, describeProtocol, BridgeRequest, BridgeOutput, type BridgeOptions } from "./src/bridge.js";
export { WebhookSink, type WebhookOptions } from "./src/webhook-sink.js";
export { startOpencode, OpencodeStartError, type StartOpencodeOptions, type OpencodeProcess } from "./src/server.js";
export {
  TurnRecorder,
  replay,
  readRecording,
  recordedReplies,
  RecordingHeader,
  RecordingEntry,
  RecordedError,
  RecordingError,
  RECORDING_FORMAT,
  RECORDING_VERSION,
} from "./src/recording.js";
export { InspectionLog, inspectionRecord, type InspectionRecord } from "./src/inspection-log.js";
export { startInspector, type LiveInspector } from "./src/inspector.js";
