/**
 * Whether an opencode server has a model to answer with, asked before a prompt is sent. Without a
 * provider opencode takes the prompt and fails it (`ProviderNoProvidersError`, with a stack trace)
 * only once it has loaded its providers; a model it does not have fails the same way. Its provider
 * list says both at once, in a sentence that says what to do.
 */
import { z } from "zod";
import { NO_PROVIDER, TurnError } from "../contract/turn-error.js";
import { OpencodeHttp } from "../opencode/http.js";

/** opencode's `GET /config/providers` (1.15.13 and 1.18.33): the usable providers and their models. */
const ConfigProviders = z.looseObject({
  providers: z.array(z.looseObject({ id: z.string(), models: z.record(z.string(), z.unknown()).default({}) })),
});

const LISTED = 8;
const listed = (names: string[]) => (names.length > LISTED ? `${names.slice(0, LISTED).join(", ")} and ${names.length - LISTED} more` : names.join(", "));

export interface ProviderCheck {
  baseUrl: string;
  username?: string | undefined;
  password?: string | undefined;
  directory?: string | undefined;
  /** The model the turns will ask for; without it, opencode's own default. */
  providerID?: string | undefined;
  modelID?: string | undefined;
}

/**
 * A `provider_error` TurnError when the server has no provider, or not the model asked for;
 * `undefined` when it has. Any other failure (unreachable, unauthorized) is thrown as a TurnError:
 * the CLI leaves those to the turns, which report them (and wait for a server that restarts).
 */
export async function providerProblem(check: ProviderCheck): Promise<TurnError | undefined> {
  const http = new OpencodeHttp({
    baseUrl: check.baseUrl,
    username: check.username ?? "opencode",
    password: check.password,
    directory: check.directory,
    // The answer waits for opencode to load every provider, the first time: 5-25 s offline. The
    // connection's timeout also bounds how long the headers may take.
    connectTimeoutMs: 45_000,
    bodyTimeoutMs: 45_000,
  });
  try {
    const { providers } = ConfigProviders.parse(await http.call("GET", "/config/providers"));
    if (providers.length === 0) return new TurnError("provider_error", NO_PROVIDER);
    const { providerID, modelID } = check;
    if (providerID === undefined || modelID === undefined) return undefined;
    const provider = providers.find((p) => p.id === providerID);
    if (provider === undefined) {
      return new TurnError("provider_error", `opencode has no provider ${providerID} (it has ${listed(providers.map((p) => p.id))}): configure it, or choose another model.`);
    }
    if (!(modelID in provider.models)) {
      return new TurnError("provider_error", `opencode's provider ${providerID} has no model ${modelID}: choose one of ${listed(Object.keys(provider.models))}.`);
    }
    return undefined;
  } finally {
    await http.close();
  }
}
