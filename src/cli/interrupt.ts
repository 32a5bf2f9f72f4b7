/**
 * Ctrl-C for a command that runs a turn: the first SIGINT (or SIGTERM) asks for a clean stop, the
 * turn cancelled on the server; a second one exits at once with 130 (an embedded opencode is then
 * killed by the exit hook of `startOpencode`).
 */
export function onInterrupt(stop: () => void, notice: (line: string) => void): () => void {
  let interrupts = 0;
  const handler = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    notice("Cancelling the turn on the server… (Ctrl-C again to quit at once)");
    stop();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}
