import { EventHub, type HubOptions } from "./event-hub.js";
import { OpencodeHttp, type ServerTarget } from "./http.js";

interface SharedHub {
  readonly hub: EventHub;
  users: number;
}

const shared = new Map<string, SharedHub>();

/**
 * The process-wide hub for a server: every adapter on the same server, directory and credentials
 * shares one connection. The first adapter's connect timeout applies to it, and the shortest
 * heartbeat timeout any of them asked for. The last release closes it (and its connection pool).
 */
export function acquireHub(target: ServerTarget, options: HubOptions): { hub: EventHub; release(): Promise<void> } {
  const key = JSON.stringify([target.baseUrl, target.directory, target.username, target.password]);
  let entry = shared.get(key);
  if (entry === undefined) {
    entry = { hub: new EventHub(new OpencodeHttp(target), { ...options }), users: 0 };
    shared.set(key, entry);
  }
  entry.hub.expectHeartbeatWithin(options.heartbeatTimeoutMs);
  entry.users++;
  const owned = entry;
  let released = false;
  return {
    hub: owned.hub,
    release: async () => {
      if (released) return;
      released = true;
      if (--owned.users > 0) return;
      shared.delete(key);
      await owned.hub.close();
    },
  };
}
