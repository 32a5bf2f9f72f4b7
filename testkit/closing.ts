import { afterEach } from "vitest";
import { FakeOpencode, type FakeOpencodeOptions } from "./fake-opencode.js";

/**
 * What a test file opens (stand-ins, adapters, servers) is closed after each test, newest first.
 * Called once at the top of a file: `const { open, fake } = closedAfterEach();`, then `open.push(x)`
 * for anything else to close, and `fake(options)` for a stand-in opencode.
 */
export function closedAfterEach() {
  const open: Array<{ close(): Promise<unknown> | void }> = [];
  afterEach(async () => {
    for (const thing of open.splice(0).reverse()) await thing.close();
  });
  const fake = async (options: FakeOpencodeOptions = {}): Promise<FakeOpencode> => {
    const server = await FakeOpencode.start(options);
    open.push(server);
    return server;
  };
  return { open, fake };
}
