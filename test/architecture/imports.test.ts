import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The one direction of dependency, read off the imports: a folder may import only the folders below
// it. `cli → integrations → host → engine → machines → codec → opencode → contract`, with
// observation and the embedded server beside the host.
const root = fileURLToPath(new URL("../..", import.meta.url));

const MAY_IMPORT: Record<string, readonly string[]> = {
  contract: [],
  opencode: ["contract"],
  codec: ["contract", "opencode"],
  machines: ["codec", "contract", "opencode"],
  engine: ["machines", "codec", "contract", "opencode"],
  host: ["engine", "machines", "codec", "contract", "opencode"],
  observe: ["engine", "machines", "codec", "contract", "opencode"],
  embedded: ["contract", "opencode"],
  integrations: ["host", "observe", "embedded", "engine", "machines", "codec", "contract", "opencode"],
  cli: ["integrations", "host", "observe", "embedded", "engine", "machines", "codec", "contract", "opencode"],
};

/** What the pure layers may take from opencode/: its wire shapes, never its I/O. */
const WIRE_SHAPES = new Set(["src/opencode/events.ts", "src/opencode/quick-events.ts", "src/opencode/vocabulary-events.ts", "src/opencode/prompt-body.ts"]);
/** Packages the pure layers may use: no I/O, no clock, no randomness. */
const PURE_PACKAGES: Record<string, readonly string[]> = { codec: ["zod"], machines: ["xstate"] };

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const file = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(file);
    return entry.name.endsWith(".ts") ? [file] : [];
  });
}

/** The layer of a repository file: its folder under src/, or machines. */
function layerOf(file: string): string | undefined {
  if (file.startsWith("machines/")) return "machines";
  const match = /^src\/([^/]+)\//.exec(file);
  return match?.[1];
}

/** Every module a file imports or re-exports, statically or dynamically. */
export function importsOf(text: string): string[] {
  const found: string[] = [];
  const pattern = /(?:^|[\s;])(?:import|export)\s[^"'`;]*?from\s*["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)|^import\s*["']([^"']+)["']/gm;
  for (const match of text.matchAll(pattern)) found.push((match[1] ?? match[2] ?? match[3])!);
  return found;
}

const files = [...sourceFiles("src"), ...sourceFiles("machines")];

describe("the direction of dependency", () => {
  it("reads the imports of every kind of statement", () => {
    const text = `import { a } from "./a.js";\nimport type { B } from "../b.js";\nexport { c } from "./c.js";\nimport "./d.js";\nconst e = await import("./e.js");\nimport {\n  f,\n} from "./f.js";`;
    expect(importsOf(text)).toEqual(["./a.js", "../b.js", "./c.js", "./d.js", "./e.js", "./f.js"]);
  });

  it("every source file is in a known layer", () => {
    const unknown = files.filter((file) => {
      const layer = layerOf(file);
      return layer === undefined || (!(layer in MAY_IMPORT) && layer !== "exports");
    });
    expect(unknown).toEqual([]);
  });

  it("no file imports a layer above its own", () => {
    const wrong: string[] = [];
    for (const file of files) {
      const from = layerOf(file)!;
      if (from === "exports") continue;
      for (const spec of importsOf(readFileSync(path.join(root, file), "utf8"))) {
        if (!spec.startsWith(".")) continue;
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, ".ts");
        const to = layerOf(target);
        if (to === undefined) wrong.push(`${file} → ${spec} (outside the layers)`);
        else if (to !== from && !MAY_IMPORT[from]!.includes(to)) wrong.push(`${file} → ${target}`);
        else if ((from === "codec" || from === "machines") && to === "opencode" && !WIRE_SHAPES.has(target)) wrong.push(`${file} → ${target} (I/O in a pure layer)`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("the codec and the machine use no I/O, clock or randomness packages", () => {
    const wrong: string[] = [];
    for (const file of files) {
      const allowed = PURE_PACKAGES[layerOf(file)!];
      if (allowed === undefined) continue;
      for (const spec of importsOf(readFileSync(path.join(root, file), "utf8"))) {
        if (!spec.startsWith(".") && !allowed.includes(spec)) wrong.push(`${file} → ${spec}`);
      }
      const text = readFileSync(path.join(root, file), "utf8");
      for (const call of ["Date.now(", "Math.random(", "performance.now(", "setTimeout(", "randomUUID("]) {
        if (text.includes(call)) wrong.push(`${file} calls ${call}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("no source file is over 300 lines: a longer one holds more than one job", () => {
    const lineCount = (text: string) => text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    const long = files.map((file) => ({ file, lines: lineCount(readFileSync(path.join(root, file), "utf8")) })).filter(({ lines }) => lines > 300);
    expect(long).toEqual([]);
  });
});
