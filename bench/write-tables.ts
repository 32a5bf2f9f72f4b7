/**
 * `npm run bench:table`: rewrites the Numbers tables of README.md and docs/performance.md from
 * bench/results.json as it is, after a reason in bench/targets.ts was written or changed.
 */
import { fileURLToPath } from "node:url";
import { readResults } from "./results.js";
import { TABLE_FILES, unexplained, writeTables } from "./tables.js";

const rows = readResults(fileURLToPath(new URL("./results.json", import.meta.url)));
writeTables(rows);
console.error(`wrote the tables of ${TABLE_FILES.readme} and ${TABLE_FILES.performance}`);
const missing = unexplained(rows);
if (missing.length > 0) {
  console.error(`missed targets nobody explained yet (write why in bench/targets.ts, then npm run bench:table): ${missing.join(", ")}`);
  process.exitCode = 1;
}
