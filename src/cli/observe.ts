/**
 * The options of `run` that watch a turn from outside: `--record FILE` (for `opencode-turns replay`),
 * `--inspect` (the Stately inspector, live) and `--inspect-log FILE` (its events as JSON lines). All
 * of them are XState inspection observers, handed to the adapter as one.
 */
import type { ParseArgsConfig } from "node:util";
import type { InspectionEvent } from "xstate";
import { InspectionLog } from "../observe/inspection-log.js";
import { startInspector } from "../observe/inspector.js";
import { TurnRecorder } from "../observe/recording.js";
import { UsageError } from "./command.js";

export const observeOptions = {
  record: { type: "string" },
  inspect: { type: "boolean" },
  "inspect-log": { type: "string" },
} as const satisfies NonNullable<ParseArgsConfig["options"]>;

export const observeUsage = `Watching:
  --record FILE             write everything the turn saw (opencode's events, the replies) to FILE,
                            JSON lines; \`opencode-turns replay FILE\` reproduces it offline
  --inspect                 show the turn live in the Stately inspector: prints a local address to
                            open in a browser, and starts the turn once the page is open
  --inspect-log FILE        write XState's inspection events of the turn to FILE, JSON lines`;

export interface ObserveValues {
  record?: string | undefined;
  inspect?: boolean | undefined;
  "inspect-log"?: string | undefined;
}

export interface Observers {
  /** For `AdapterOptions.inspect`; undefined when nothing watches. */
  inspect: ((event: InspectionEvent) => void) | undefined;
  /** Flushes and closes everything (once; later calls get the first answer); says on `report` what could not be written, and resolves false then. */
  close(report: (line: string) => void): Promise<boolean>;
}

/**
 * Opens what the options ask for. With `--inspect` it waits for the browser page (or `signal`)
 * before resolving, so the page sees the turn from its start.
 */
export async function startObservers(values: ObserveValues, notice: (line: string) => void, signal: AbortSignal): Promise<Observers> {
  const files: Array<{ option: string; close(): void }> = [];
  const observers: Array<(event: InspectionEvent) => void> = [];
  const open = <T extends { close(): void; inspect: (event: InspectionEvent) => void }>(option: string, file: string, create: (path: string) => T) => {
    let opened: T;
    try {
      opened = create(file);
    } catch (error) {
      for (const done of files) done.close();
      throw new UsageError(`--${option} ${file}: cannot write it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`);
    }
    files.push({ option, close: () => opened.close() });
    observers.push(opened.inspect);
  };
  if (values.record !== undefined) open("record", values.record, (path) => TurnRecorder.toFile(path));
  if (values["inspect-log"] !== undefined) open("inspect-log", values["inspect-log"], (path) => InspectionLog.toFile(path));
  let inspector: Awaited<ReturnType<typeof startInspector>> | undefined;
  try {
    if (values.inspect) inspector = await startInspector();
  } catch (error) {
    for (const done of files) done.close();
    throw error;
  }
  if (inspector) {
    observers.push((event) => inspector.inspect.next?.(event));
    notice(`Stately inspector: open ${inspector.url} in a browser; the turn starts when it is open (Ctrl-C to give up).`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      signal.addEventListener("abort", stop, { once: true });
      void inspector.viewerConnected.then(() => {
        signal.removeEventListener("abort", stop);
        resolve();
      });
    });
  }
  let closing: Promise<boolean> | undefined;
  const close = async (report: (line: string) => void): Promise<boolean> => {
      let written = true;
      await inspector?.close();
      for (const file of files) {
        try {
          file.close();
        } catch (error) {
          written = false;
          report(`--${file.option}: the file could not be written completely: ${(error as Error).message}`);
        }
      }
      return written;
  };
  return {
    inspect: observers.length === 0 ? undefined : (event) => observers.forEach((observe) => observe(event)),
    close: (report) => (closing ??= close(report)),
  };
}
