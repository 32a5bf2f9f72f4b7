/**
 * Bundles the CLI (`src/cli/main.ts`) into one file, the package's `bin`: `dist/src/cli/main.js`.
 *
 * Why: a CLI run, and every bridge a Python host starts, loaded the library and its dependencies
 * module by module (undici alone is some hundred CommonJS files), and that took most of its start:
 * about 0.6 s of CPU before it did anything, against 0.13 s for Node itself. Bundled it is one file
 * to read and compile (the `cli.start` bench row). The library stays as tsc builds it, module by
 * module, for hosts that import it; `src/cli/` is left out of that build.
 *
 * `@statelyai/inspect` and `ws` stay outside: they load only when a turn is inspected, from the
 * package's own dependencies. The licenses of what is bundled go beside the bundle.
 *
 *   node --import tsx scripts/bundle-cli.ts [OUTFILE]
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const CLI_BUNDLE = path.join(root, "dist/src/cli/main.js");
/** Loaded on demand, from node_modules: only an inspected turn needs them. */
const EXTERNAL = ["@statelyai/inspect", "ws"];
const NOTICES = "THIRD-PARTY-LICENSES.txt";

/** Writes the bundle to `outfile` and the licenses of what it holds to a file beside it; returns the packages bundled. */
export async function bundleCli(outfile = CLI_BUNDLE): Promise<string[]> {
  const result = await build({
    entryPoints: [path.join(root, "src/cli/main.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: EXTERNAL,
    metafile: true,
    logLevel: "warning",
    // The bundled CommonJS packages (undici) call `require` for Node's own modules; an ES module has none.
    banner: {
      js: `// opencode-turns CLI, bundled with its dependencies: their licenses are in ${NOTICES} beside this file.\nimport { createRequire as createRequireOfBundle } from "node:module";\nconst require = createRequireOfBundle(import.meta.url);`,
    },
  });
  const dirs = [...new Set(Object.keys(result.metafile.inputs).map(packageDirOf).filter((dir) => dir !== undefined))].sort();
  const packages = dirs.map(bundledPackage);
  writeFileSync(path.join(path.dirname(outfile), NOTICES), packages.map(({ notice }) => notice).join("\n"));
  return packages.map(({ name }) => name);
}

/** `node_modules/undici` for `node_modules/undici/lib/core/request.js` (scoped names keep their scope). */
function packageDirOf(input: string): string | undefined {
  const at = input.lastIndexOf("node_modules/");
  if (at === -1) return undefined;
  const [first, second] = input.slice(at + "node_modules/".length).split("/");
  return input.slice(0, at) + (first!.startsWith("@") ? `node_modules/${first}/${second}` : `node_modules/${first}`);
}

/** A bundled package's name and its entry in the licenses file. */
function bundledPackage(dir: string): { name: string; notice: string } {
  const manifest = JSON.parse(readFileSync(path.join(root, dir, "package.json"), "utf8")) as { name: string; version: string; license?: string };
  const licenseFile = readdirSync(path.join(root, dir)).find((name) => /^(licen[cs]e|copying)/i.test(name));
  if (licenseFile === undefined) throw new Error(`${manifest.name} is bundled into the CLI but has no license file to ship with it`);
  const text = readFileSync(path.join(root, dir, licenseFile), "utf8").trim();
  return { name: manifest.name, notice: `${manifest.name}@${manifest.version} (${manifest.license ?? "see below"})\n\n${text}\n\n${"-".repeat(72)}\n` };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const packages = await bundleCli(process.argv[2] ? path.resolve(process.argv[2]) : undefined);
  console.error(`bundled the CLI with ${packages.join(", ")}`);
}
