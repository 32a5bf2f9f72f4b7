// `opencode-turns/machine`: the turn machine and its real actors, for hosts that run turn actors themselves.
export { turnMachine, type TurnContext, type TurnEvent, type TurnInput, type TurnEmitted, type TurnOutput } from "../../machines/turn.machine.js";
export { provideTurnMachine, followSession, type TurnServices } from "../engine/turn-actors.js";
export type { TurnPrompt } from "../opencode/prompt-body.js";
