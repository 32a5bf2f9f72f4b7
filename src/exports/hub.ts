// `opencode-turns/hub`: the one shared `/event` stream per opencode server, demultiplexed by session.
export type { EventHub } from "../opencode/event-hub.js";
export { acquireHub } from "../opencode/shared-hub.js";
