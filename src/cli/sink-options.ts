/** `--sink-url` and `--sink-header`, taken by `run` and `bridge`: every reply also POSTed to a URL. */
import type { ParseArgsConfig } from "node:util";
import { parseHeader, WebhookSink } from "../integrations/webhook-sink.js";
import { UsageError } from "./command.js";

export const sinkOptions = {
  "sink-url": { type: "string" },
  "sink-header": { type: "string", multiple: true },
} as const satisfies NonNullable<ParseArgsConfig["options"]>;

export const sinkUsage = `Webhook:
  --sink-url URL            also POST each reply, as its JSON body, to URL: in order, one at a
                            time; retried with backoff on connection errors and 5xx (not on 4xx);
                            a reply that cannot be delivered is reported here and the turn goes on
  --sink-header 'NAME: VALUE'
                            a header for every POST, e.g. 'Authorization: Bearer ...' (repeatable)`;

export interface SinkValues {
  "sink-url"?: string | undefined;
  "sink-header"?: string[] | undefined;
}

/** The webhook the options ask for, or undefined; a bad URL or header is a usage error. */
export function openWebhook(values: SinkValues, warn: (line: string) => void): WebhookSink | undefined {
  const headers: Record<string, string> = {};
  for (const text of values["sink-header"] ?? []) {
    const header = parseHeader(text);
    if (header === undefined) throw new UsageError("--sink-header: expected 'NAME: VALUE', e.g. 'Authorization: Bearer ...'.");
    headers[header[0]] = header[1];
  }
  const url = values["sink-url"];
  if (url === undefined) {
    if (values["sink-header"]?.length) throw new UsageError("--sink-header goes with --sink-url.");
    return undefined;
  }
  try {
    return new WebhookSink({ url, headers, logger: { warn } });
  } catch (error) {
    throw new UsageError(`--sink-url: ${(error as Error).message}`);
  }
}
