import { describe, expect, it } from "vitest";
import type { ModelChange } from "../../src/contract/replies.js";
import { trackModel } from "../../src/host/session-watch.js";
import * as E from "../../testkit/events.js";
import { loadRecording } from "../../testkit/recordings.js";

const S = "ses_ours";

describe("trackModel: the model changes of one session", () => {
  const m1 = { id: "m1", providerID: "p" };
  const m2 = { id: "m2", providerID: "p" };
  function track(events: unknown[], known?: { id: string; providerID: string }) {
    const changes: ModelChange[] = [];
    for (const event of events) {
      const step = trackModel(event, S, known);
      known = step.model;
      if (step.change) changes.push(step.change);
    }
    return changes;
  }

  it("a switch event is recorded with a numeric or ISO timestamp", () => {
    expect(track([E.modelSwitched(S, m2, 1234)], m1)).toEqual([{ providerID: "p", modelID: "m2", source: "model.switched", at: 1234 }]);
    expect(track([E.modelSwitched(S, m2, "2026-01-01T00:00:00.000Z")], m1)).toEqual([
      { providerID: "p", modelID: "m2", source: "model.switched", at: Date.parse("2026-01-01T00:00:00.000Z") },
    ]);
  });

  it("a changed info.model on session.updated is recorded; the first one seen and unchanged ones are not", () => {
    expect(track([E.sessionUpdated(S, m1, 5), E.sessionUpdated(S, m1, 6), E.sessionUpdated(S, m2, 7)])).toEqual([
      { providerID: "p", modelID: "m2", source: "session.updated", at: 7 },
    ]);
  });

  it("with no model known yet, the first switch announcement is the starting point, the next one a change", () => {
    expect(track([E.modelSwitched(S, m1, 1), E.modelSwitched(S, m1, 2), E.modelSwitched(S, m2, 3)])).toEqual([
      { providerID: "p", modelID: "m2", source: "model.switched", at: 3 },
    ]);
  });

  it("a switch to the model in use (opencode 1.15 announces it every prompt) is not a change; other sessions are ignored", () => {
    expect(track([E.modelSwitched(S, m1, 1), E.modelSwitched("ses_other", m2, 2), E.sessionUpdated("ses_other", m2)], m1)).toEqual([]);
  });

  it("model-switch: the switch away from the model in use is recorded with its ISO timestamp, the unchanged session.updated is not", () => {
    const recording = loadRecording("model-switch");
    const changes: ModelChange[] = [];
    let known: { id: string; providerID: string } | undefined = { id: "previous", providerID: "fake" };
    for (const event of recording.events) {
      const step = trackModel(event, recording.sessionIDs[0]!, known);
      known = step.model;
      if (step.change) changes.push(step.change);
    }
    expect(changes).toEqual([{ providerID: "fake", modelID: "scripted", source: "model.switched", at: Date.parse("2026-11-26T10:48:20.489Z") }]);
  });
});
