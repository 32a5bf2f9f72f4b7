import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc's times: 100 on every Linux this bench runs on (`getconf CLK_TCK`). */
const CLOCK_TICKS = 100;

/**
 * CPU time (user + system, every thread) another process has used so far, in ms, from
 * /proc/<pid>/stat: 10 ms resolution, enough for turns that take a second of CPU. Linux only.
 */
export function processCpuMs(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch (error) {
    throw new Error(`cannot read the CPU time of process ${pid} (the bridge benches need Linux's /proc): ${String(error)}`);
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after its ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/**
 * CPU time (user + system) of this process's children that have ended and been waited for, in ms,
 * from /proc/self/stat: 10 ms resolution. Linux only.
 */
export function childrenCpuMs(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // cutime and cstime are fields 16 and 17 of the line, 14 and 15 after the name.
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS;
}
