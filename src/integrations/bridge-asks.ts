import { PermissionDecision, QuestionDecision } from "../contract/decisions.js";
import type { PermissionRequest, QuestionRequest } from "../opencode/events.js";
import type { AnswerRequest, BridgeOutput } from "./bridge-protocol.js";

type Ask = { kind: "permission"; request: PermissionRequest } | { kind: "question"; request: QuestionRequest };
type Decision = PermissionDecision | QuestionDecision;

interface PendingAsk {
  kind: Ask["kind"];
  promptId: string;
  settle(decision: Decision): void;
}

/**
 * The asks the bridge sent its host and waits on: each is answered by the host, or rejected when
 * its timeout passes, its turn ends, or nobody can answer any more.
 */
export class HostAsks {
  private readonly waiting = new Map<string, PendingAsk>();
  private made = 0;
  /** Set once the host cannot answer (input ended, the bridge ends): every ask from then on is rejected. */
  private refusing = false;

  constructor(
    private readonly send: (line: BridgeOutput) => void,
    private readonly timeoutMs: number,
    private readonly warn: (message: string) => void,
  ) {}

  /** Sends the ask as part of prompt `promptId` and resolves with the host's answer, or `reject`. */
  ask(promptId: string, ask: { kind: "permission"; request: PermissionRequest }): Promise<PermissionDecision>;
  ask(promptId: string, ask: { kind: "question"; request: QuestionRequest }): Promise<QuestionDecision>;
  ask(promptId: string, ask: Ask): Promise<Decision> {
    if (this.refusing) return Promise.resolve("reject");
    const askId = `ask_${++this.made}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.warn(`opencode-turns bridge: ${askId} (${ask.kind}) had no answer within ${this.timeoutMs} ms; rejected.`);
        settle("reject");
      }, this.timeoutMs);
      const settle = (decision: Decision) => {
        clearTimeout(timer);
        this.waiting.delete(askId);
        resolve(decision);
      };
      this.waiting.set(askId, { kind: ask.kind, promptId, settle });
      this.send({ id: promptId, ask: { ask_id: askId, ...ask } });
    });
  }

  answer(request: AnswerRequest): void {
    const ask = this.waiting.get(request.ask_id);
    if (ask === undefined) {
      return this.send({ ask_id: request.ask_id, error: "No ask with this id is waiting: it was answered, timed out, or its turn ended." });
    }
    const decision = (ask.kind === "permission" ? PermissionDecision : QuestionDecision).safeParse(request.decision);
    if (!decision.success) {
      const expected = ask.kind === "permission" ? '"once", "always", "reject" or { reply, message? }' : '"reject" or one list of labels per question';
      return this.send({ ask_id: request.ask_id, error: `A ${ask.kind} ask takes ${expected}; the ask still waits.` });
    }
    ask.settle(decision.data);
  }

  /** The prompt's turn ended: an ask of it still waiting is moot. */
  endPrompt(promptId: string): void {
    for (const ask of [...this.waiting.values()]) if (ask.promptId === promptId) ask.settle("reject");
  }

  /** Nobody can answer from now on: the waiting asks and any to come are rejected. */
  refuse(): void {
    this.refusing = true;
    for (const ask of [...this.waiting.values()]) ask.settle("reject");
  }
}
