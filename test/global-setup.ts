/**
 * The CLI tests spawn the built CLI (`dist/src/cli/main.js`), as a user runs it: build it first when any
 * source is newer than the build, so a test never runs yesterday's code.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

function newest(entry: string): number {
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(entry).map((name) => newest(path.join(entry, name))));
}

function builtAt(): number {
  try {
    return statSync(path.join(root, "dist/src/cli/main.js")).mtimeMs;
  } catch {
    return 0;
  }
}

export default function setup(): void {
  const sources = Math.max(...["index.ts", "src", "machines", "scripts/bundle-cli.ts", "package.json", "tsconfig.json", "tsconfig.build.json"].map((p) => newest(path.join(root, p))));
  if (sources > builtAt()) execFileSync("npm", ["run", "build"], { cwd: root, stdio: "ignore" });
}
