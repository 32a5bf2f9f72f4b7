/// <reference types="node" preserve="true" />
// What a host needs: the adapter and its config, the replies and errors it hands over, starting
// opencode (or an offline demo of it), the bridge and the webhook sink. The building blocks (the machine, the codec, the event
// hub, recording and inspection) have subpaths of their own: `opencode-turns/machine`, `/codec`,
// `/hub`, `/recording`. Anything exported from neither is internal and may change.
export { OpenCodeAdapter, type AdapterOptions, type PromptOptions, type Sink } from "./src/host/adapter.js";
export {
  AdapterConfig,
  ConfigError,
  DEFAULT_ATTACHMENT_SCHEMES,
  DEFAULT_ATTACHMENT_TYPES,
  resolveConfig,
  type AdapterConfigInput,
  type ResolvedConfig,
  type PermissionPolicy,
  type QuestionPolicy,
} from "./src/host/config.js";
export { PermissionDecision, QuestionDecision } from "./src/contract/decisions.js";
export { Reply, ErrorCode, TurnResult, ModelChange, Usage } from "./src/contract/replies.js";
export { TurnError } from "./src/contract/turn-error.js";
export { Attachment } from "./src/host/prompt.js";
export { runBridge, describeProtocol, BridgeRequest, BridgeOutput, type BridgeOptions } from "./src/integrations/bridge.js";
export { WebhookSink, type WebhookOptions } from "./src/integrations/webhook-sink.js";
export { startOpencode, OpencodeStartError, type StartOpencodeOptions, type OpencodeProcess } from "./src/embedded/server.js";
export { startDemo, type DemoServer, type StartDemoOptions } from "./src/embedded/demo.js";
export { providerProblem, type ProviderCheck } from "./src/embedded/providers.js";
