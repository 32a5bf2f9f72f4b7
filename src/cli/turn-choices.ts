/**
 * `--variant`, `--tool NAME=on|off` and `--format SCHEMA`: a turn's own choices beyond the
 * connection's model, agent and system, checked here so a wrong one is a usage error before
 * anything starts. `run` takes all three; `command` only `--variant` (opencode's command endpoint
 * has no tools or format).
 */
import { readFileSync } from "node:fs";
import type { ParseArgsConfig } from "node:util";
import type { TurnChoices } from "../host/prompt.js";
import { UsageError } from "./command.js";

export const variantOption = { variant: { type: "string" } } as const satisfies NonNullable<ParseArgsConfig["options"]>;

export const choiceOptions = {
  ...variantOption,
  tool: { type: "string", multiple: true },
  format: { type: "string" },
} as const satisfies NonNullable<ParseArgsConfig["options"]>;

export const variantUsage = `  --variant NAME            a variant of the model, as its provider config names it (e.g. its
                            reasoning effort)`;

export const choicesUsage = `${variantUsage}
  --tool NAME=on|off        enable or disable a tool by name for this turn (repeatable)
  --format SCHEMA           a JSON Schema (a file, or inline JSON): the model answers with an object
                            of it, shown after the answer and on the result and final as structured`;

export interface ChoiceValues {
  variant?: string | undefined;
  tool?: string[] | undefined;
  format?: string | undefined;
}

/** The turn's choices the options give; a malformed one is a usage error. */
export function turnChoices(values: ChoiceValues): TurnChoices {
  const choices: TurnChoices = {};
  if (values.variant !== undefined) {
    if (values.variant === "") throw new UsageError("--variant needs a name.");
    choices.variant = values.variant;
  }
  for (const text of values.tool ?? []) {
    const match = /^([^=\s]+)=(on|off)$/.exec(text);
    if (match === null) throw new UsageError(`--tool ${text}: give it as NAME=on or NAME=off, e.g. --tool bash=off.`);
    (choices.tools ??= {})[match[1]!] = match[2] === "on";
  }
  if (values.format !== undefined) choices.format = schemaOf(values.format);
  return choices;
}

/** `--format`'s JSON Schema: inline JSON when it starts with `{` (or `[`), otherwise the file it names. */
function schemaOf(given: string): Record<string, unknown> {
  const inline = /^\s*[{[]/.test(given);
  let text = given;
  if (!inline) {
    try {
      text = readFileSync(given, "utf8");
    } catch (error) {
      throw new UsageError(`--format ${given}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give a JSON Schema file, or the schema inline.`);
    }
  }
  const where = inline ? "--format" : `--format ${given}`;
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${where}: not JSON (${(error as Error).message}).`);
  }
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) throw new UsageError(`${where}: a JSON Schema is an object, e.g. {"type":"object","properties":{...}}.`);
  return schema as Record<string, unknown>;
}
