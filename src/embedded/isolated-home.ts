/**
 * An isolated opencode's home: its own HOME and XDG dirs under a temp dir, none of the user's
 * opencode variables, and what it would otherwise fetch on its first turn put there beforehand.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

/** The HOME and XDG dirs of an isolated server whose temp dir is `root` (its `directory` is `root/work`). */
export function isolatedDirs(root: string) {
  return {
    HOME: path.join(root, "home"),
    XDG_CONFIG_HOME: path.join(root, "xdg-config"),
    XDG_DATA_HOME: path.join(root, "xdg-data"),
    XDG_CACHE_HOME: path.join(root, "xdg-cache"),
    XDG_STATE_HOME: path.join(root, "xdg-state"),
  };
}

/**
 * The user's environment without opencode's or XDG's variables, and HOME and XDG dirs of its own
 * under `root`; with `emptyCatalog`, opencode's models.dev catalog is an empty file there.
 */
export async function isolatedEnv(root: string, emptyCatalog: boolean): Promise<Record<string, string>> {
  const dirs = isolatedDirs(root);
  await Promise.all(Object.values(dirs).map((dir) => mkdir(dir, { recursive: true })));
  await seedConfigDir(path.join(dirs.XDG_CONFIG_HOME, "opencode"));
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("OPENCODE") && !key.startsWith("XDG_")) env[key] = value;
  }
  const catalog = path.join(root, "models.json");
  if (emptyCatalog) await writeFile(catalog, "{}\n");
  return { ...env, ...dirs, OPENCODE_DISABLE_LSP_DOWNLOAD: "1", OPENCODE_DISABLE_MODELS_FETCH: "1", ...(emptyCatalog ? { OPENCODE_MODELS_PATH: catalog } : {}) };
}

/** The package opencode installs into each config dir it loads, for the plugins and tools kept there. */
const PLUGIN_PACKAGE = "@opencode-ai/plugin";

/**
 * Marks an isolated server's config dir as holding its dependencies. opencode (1.18 and 1.15) installs
 * `@opencode-ai/plugin` from npm into every config dir it loads, unless the dir has a `node_modules`
 * and its `package-lock.json` lists each package `package.json` names; it does so for the local
 * plugins and tools a user keeps there. An isolated config dir holds none (its config is ours), so
 * that install would only be a call to the npm registry, from a demo meant to run offline, and about
 * 2 s of opencode's CPU after each start (measured on 1.18 and 1.15).
 */
async function seedConfigDir(dir: string): Promise<void> {
  const dependencies = { [PLUGIN_PACKAGE]: "*" };
  await mkdir(path.join(dir, "node_modules"), { recursive: true });
  await writeFile(path.join(dir, "package.json"), JSON.stringify({ dependencies }));
  await writeFile(path.join(dir, "package-lock.json"), JSON.stringify({ lockfileVersion: 3, packages: { "": { dependencies } } }));
}
