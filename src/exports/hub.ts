// `opencode-turns/hub`: the one shared `/event` stream per opencode server, demultiplexed by session.
export { acquireHub, type EventHub } from "../opencode/event-hub.js";
