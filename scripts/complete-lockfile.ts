/**
 * Completes package-lock.json with the opencode platform packages the registry here cannot serve.
 *
 * `opencode-ai` lists one optional binary package per platform. This machine's npm registry answers
 * 404 for the non-Linux ones, so `npm install` leaves them out of the lockfile, and `npm ci` then
 * refuses the lockfile as out of sync. Each entry added here names its os/cpu/libc, so npm skips it
 * on every other platform without fetching it. The musl builds the registry does serve come without
 * `libc`, so npm would install them on glibc machines too (136 MB each, never run): their entries
 * get it here. Run after any `npm install`: `npm run lock:complete`.
 */
import { readFileSync, writeFileSync } from "node:fs";

interface LockEntry {
  version: string;
  optionalDependencies?: Record<string, string>;
  [key: string]: unknown;
}

const file = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(file, "utf8")) as { packages: Record<string, LockEntry> };
const packages = lock.packages;

const PLATFORM_PACKAGE = /^opencode-(darwin|linux|windows)-(arm64|x64)(?:-baseline)?(-musl)?$/;

/** os/cpu/libc from a name such as `opencode-linux-x64-baseline-musl`. */
function platformOf(name: string): Record<string, string[]> {
  const match = PLATFORM_PACKAGE.exec(name);
  if (match === null) throw new Error(`not an opencode platform package: ${name}`);
  const os = match[1] === "windows" ? "win32" : match[1]!;
  return { os: [os], cpu: [match[2]!], ...(match[3] ? { libc: ["musl"] } : {}) };
}

/** Where npm looks for `name` from `location`: its own node_modules, then each ancestor's. */
function resolve(location: string, name: string): string | undefined {
  let base = location;
  for (;;) {
    const candidate = base === "" ? `node_modules/${name}` : `${base}/node_modules/${name}`;
    if (candidate in packages) return candidate;
    if (base === "") return undefined;
    const cut = base.lastIndexOf("/node_modules/");
    base = cut === -1 ? "" : base.slice(0, cut);
  }
}

const added: string[] = [];
const marked: string[] = [];
for (const [location, entry] of Object.entries(packages)) {
  const packageName = location.slice(location.lastIndexOf("node_modules/") + "node_modules/".length);
  const platform = PLATFORM_PACKAGE.test(packageName) ? platformOf(packageName) : undefined;
  if (platform?.libc !== undefined && entry.libc === undefined) {
    Object.assign(entry, platform);
    marked.push(location);
  }
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    if (!name.startsWith("opencode-")) continue;
    const found = resolve(location, name);
    if (found !== undefined && packages[found]!.version === version) continue;
    const target = found === undefined ? `node_modules/${name}` : `${location}/node_modules/${name}`;
    packages[target] = { version, dev: true, optional: true, ...platformOf(name) };
    added.push(`${target}@${version}`);
  }
}

lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
if (marked.length > 0) console.log(`marked ${marked.length} musl entries with libc:\n${marked.join("\n")}`);
console.log(added.length === 0 ? "package-lock.json is complete" : `added ${added.length} entries:\n${added.join("\n")}`);
