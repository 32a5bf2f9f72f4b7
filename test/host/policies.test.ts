import { describe, expect, it } from "vitest";
import { DEFAULT_REJECT_MESSAGE } from "../../src/contract/decisions.js";
import type { PermissionRequest, QuestionRequest } from "../../src/opencode/events.js";
import { decidePermission, decideQuestion } from "../../src/host/policies.js";

const permission: PermissionRequest = { id: "per_1", sessionID: "ses_1", permission: "bash", patterns: ["ls"], metadata: {}, always: [] };
const question: QuestionRequest = { id: "que_1", sessionID: "ses_1", questions: [{ question: "Which?", options: [{ label: "a" }] }] };

function warnings() {
  const said: string[] = [];
  return { said, warn: (message: string) => void said.push(message) };
}

describe("decidePermission", () => {
  it("a fixed decision or a policy's is sent as it is, and nothing is warned", async () => {
    const { said, warn } = warnings();
    expect(await decidePermission("once", permission, warn)).toEqual({ reply: "once" });
    expect(await decidePermission(async () => "always", permission, warn)).toEqual({ reply: "always" });
    expect(await decidePermission(() => ({ reply: "reject", message: "not here" }), permission, warn)).toEqual({ reply: "reject", message: "not here" });
    expect(said).toEqual([]);
  });

  it("a bare reject carries the default message (without one opencode stops the turn)", async () => {
    expect(await decidePermission("reject", permission, () => undefined)).toEqual({ reply: "reject", message: DEFAULT_REJECT_MESSAGE });
  });

  it("a policy that throws rejects the ask and warns with the reason", async () => {
    const { said, warn } = warnings();
    const policy = () => {
      throw new Error("policy broke");
    };
    expect(await decidePermission(policy, permission, warn)).toEqual({ reply: "reject", message: DEFAULT_REJECT_MESSAGE });
    expect(said).toEqual([expect.stringMatching(/the permission policy threw; rejecting the ask: .*policy broke/)]);
  });

  it("a policy that rejects its promise is treated as one that throws", async () => {
    const { said, warn } = warnings();
    expect(await decidePermission(() => Promise.reject(new Error("later")), permission, warn)).toMatchObject({ reply: "reject" });
    expect(said).toEqual([expect.stringContaining("the permission policy threw")]);
  });

  it("a policy that returns something that is not a decision rejects the ask and warns, naming what it returned", async () => {
    const { said, warn } = warnings();
    expect(await decidePermission(async () => "yes please", permission, warn)).toEqual({ reply: "reject", message: DEFAULT_REJECT_MESSAGE });
    expect(await decidePermission(() => ({ reply: "maybe" }), permission, warn)).toEqual({ reply: "reject", message: DEFAULT_REJECT_MESSAGE });
    expect(said).toEqual([
      expect.stringContaining('returned "yes please", not "once", "always", "reject" or { reply, message? }; rejecting the ask'),
      expect.stringContaining('returned {"reply":"maybe"}'),
    ]);
  });
});

describe("decideQuestion", () => {
  it("reject is sent without asking; a policy's answers are sent as they are", async () => {
    const { said, warn } = warnings();
    expect(await decideQuestion("reject", question, warn)).toBe("reject");
    expect(await decideQuestion(async (request) => request.questions.map((q) => [q.options[0]!.label]), question, warn)).toEqual([["a"]]);
    expect(said).toEqual([]);
  });

  it("a policy that throws rejects the question and warns with the reason", async () => {
    const { said, warn } = warnings();
    const policy = () => {
      throw new Error("no idea");
    };
    expect(await decideQuestion(policy, question, warn)).toBe("reject");
    expect(said).toEqual([expect.stringMatching(/the question policy threw; rejecting the question: .*no idea/)]);
  });

  it("a policy that returns the wrong shape rejects the question and warns, naming what it returned", async () => {
    const { said, warn } = warnings();
    expect(await decideQuestion(async () => ["a"] as never, question, warn)).toBe("reject");
    expect(said).toEqual([expect.stringContaining('the question policy returned ["a"], not "reject" or one list of labels per question')]);
  });
});
