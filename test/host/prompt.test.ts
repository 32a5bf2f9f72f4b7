import { describe, expect, it } from "vitest";
import { checkPromptOptions } from "../../src/host/prompt.js";
import { resolveConfig } from "../../src/host/config.js";
import { commandName, prepareTurn, turnPromptOf } from "../../src/host/session-operations.js";

const policy = { schemes: ["data", "https"], types: ["text/*", "image/*"] };

function checked(options: unknown) {
  const result = checkPromptOptions(options, policy);
  if ("refusal" in result) throw new Error(result.refusal);
  return result;
}

describe("a turn's own options", () => {
  it("are checked, and what is not given stays out", () => {
    expect(checked(undefined).choices).toEqual({});
    const options = {
      model: { providerID: "p", modelID: "m" },
      agent: "plan",
      variant: "high",
      system: "Be brief.",
      tools: { bash: false, read: true },
      format: { type: "object", properties: { a: { type: "string" } } },
      vocabulary: "full",
    };
    expect(checked(options).choices).toEqual({
      model: { providerID: "p", modelID: "m" },
      agent: "plan",
      variant: "high",
      system: "Be brief.",
      tools: { bash: false, read: true },
      format: { type: "object", properties: { a: { type: "string" } } },
    });
  });

  it("left out, undefined or null, are nothing given: no attachments, no choices, the config's vocabulary", () => {
    const nothing = { attachments: [], signal: undefined, choices: {} };
    expect(checked({})).toEqual(nothing);
    expect(checked({ attachments: null, model: undefined, agent: undefined, signal: undefined })).toEqual(nothing);
    const config = resolveConfig({ baseUrl: "http://127.0.0.1:1", vocabulary: "full" });
    for (const vocabulary of [undefined, null]) {
      expect(prepareTurn({ kind: "prompt", text: "hi" }, { vocabulary }, config)).toMatchObject({ vocabulary: "full" });
    }
    expect(prepareTurn({ kind: "prompt", text: "hi" }, { vocabulary: "core" }, config)).toMatchObject({ vocabulary: "core" });
    expect(prepareTurn({ kind: "prompt", text: "hi" }, { vocabulary: "most" }, config)).toMatchObject({ code: "bad_request" });
  });

  it.each([
    [{ model: "p/m" }, "model"],
    [{ model: { providerID: "p" } }, "model.modelID"],
    [{ agent: "" }, "agent"],
    [{ tools: { bash: "off" } }, "tools.bash"],
    [{ tools: ["bash"] }, "tools"],
    [{ format: "json" }, "format"],
    [{ system: 3 }, "system"],
  ])("refuses %j, naming %s", (options, path) => {
    const result = checkPromptOptions(options, policy);
    expect(result).toHaveProperty("refusal");
    expect((result as { refusal: string }).refusal).toContain(`${path}:`);
  });
});

describe("what is sent for a turn", () => {
  const defaults = { providerID: "cp", modelID: "cm", agent: "build", system: "configured" };

  it("a prompt: the turn's choices over the configuration, the format as opencode's json_schema", () => {
    const options = checked({ model: { providerID: "p", modelID: "m" }, system: "own", tools: { bash: false }, variant: "low", format: { type: "object" } });
    expect(turnPromptOf({ kind: "prompt", text: "hi" }, options, defaults)).toEqual({
      parts: [{ type: "text", text: "hi" }],
      model: { providerID: "p", modelID: "m" },
      agent: "build",
      system: "own",
      variant: "low",
      tools: { bash: false },
      format: { type: "json_schema", schema: { type: "object" } },
    });
    // No options: exactly what the configuration sent before, and no format.
    expect(turnPromptOf({ kind: "prompt", text: "hi" }, checked({}), defaults)).toEqual({
      parts: [{ type: "text", text: "hi" }],
      model: { providerID: "cp", modelID: "cm" },
      agent: "build",
      system: "configured",
    });
  });

  it("a command: its model as provider/model, its files; no system, tools or format", () => {
    const options = checked({ attachments: [{ mime: "text/plain", data: "aGk=" }], variant: "high" });
    expect(turnPromptOf({ kind: "command", name: "greet", arguments: "Alice" }, options, defaults)).toEqual({
      endpoint: "command",
      command: "greet",
      arguments: "Alice",
      agent: "build",
      model: "cp/cm",
      variant: "high",
      parts: [{ type: "file", mime: "text/plain", url: "data:text/plain;base64,aGk=" }],
    });
    expect(turnPromptOf({ kind: "command", name: "greet", arguments: "" }, checked({ format: {} }), defaults)).toEqual({
      refusal: expect.stringContaining("format"),
    });
    expect(commandName("/review")).toBe("review");
    expect(commandName(" ")).toHaveProperty("refusal");
  });

  it("a summarize: the model that writes the summary, which it cannot go without", () => {
    expect(turnPromptOf({ kind: "summarize" }, checked({}), defaults)).toEqual({ endpoint: "summarize", providerID: "cp", modelID: "cm" });
    expect(turnPromptOf({ kind: "summarize" }, checked({}), {})).toEqual({ refusal: expect.stringContaining("options.model") });
  });
});
