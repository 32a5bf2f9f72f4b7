export { OpenCodeAdapter, type AdapterOptions, type PromptOptions, type Sink } from "./src/adapter.js";
export { turnMachine, type TurnContext, type TurnEvent, type TurnInput } from "./machines/turn.machine.js";
export { mapOpencodeEvent, initialTurnState, trackModel, type TurnState, type TurnIdentity, type CodecResult, type Ask, type Failure, type ModelTrack } from "./src/codec.js";
export {
  AdapterConfig,
  ConfigError,
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
export { startOpencode, OpencodeStartError, type StartOpencodeOptions, type OpencodeProcess } from "./src/server.js";
