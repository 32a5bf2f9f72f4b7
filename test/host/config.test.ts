import { describe, expect, it } from "vitest";
import { ConfigError, MAX_TIMER_MS, resolveConfig } from "../../src/host/config.js";

describe("ConfigError", () => {
  it("an invalid config throws one readable error naming each bad field, without the password", () => {
    const build = () => resolveConfig({ baseUrl: "nope", providerID: "p", connectTimeoutMs: 0, password: "hunter2" }, {});
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(/baseUrl[\s\S]*providerID|providerID[\s\S]*baseUrl/);
    expect(build).toThrow(/connectTimeoutMs/);
    expect(build).not.toThrow(/hunter2/);
    const error = (() => {
      try {
        build();
      } catch (thrown) {
        return thrown as ConfigError;
      }
    })();
    expect(error?.issues.map((issue) => issue.path).sort()).toEqual(["baseUrl", "connectTimeoutMs", "providerID"]);
    expect(JSON.stringify(error?.issues)).not.toContain("hunter2");
  });

  it("a config that is not an object is one issue of the whole", () => {
    expect(() => resolveConfig("http://127.0.0.1:1", {})).toThrow(/- \(config\): /);
  });

  it("providerID without modelID is refused", () => {
    expect(() => resolveConfig({ baseUrl: "http://127.0.0.1:1", providerID: "p" }, {})).toThrow(/providerID: give both providerID and modelID/);
  });
});

describe("credentials in baseUrl", () => {
  it("are taken as the username and password (percent-encoding undone) and removed from the URL", () => {
    const config = resolveConfig({ baseUrl: "http://me:p%40ss%3Aword@127.0.0.1:4096/base/" }, {});
    expect(config).toMatchObject({ baseUrl: "http://127.0.0.1:4096/base", username: "me", password: "p@ss:word" });
  });

  it("a password alone in the URL keeps the default username", () => {
    expect(resolveConfig({ baseUrl: "http://:secret@127.0.0.1:1" }, {})).toMatchObject({ username: "opencode", password: "secret" });
  });

  it("credentials both in baseUrl and as options are refused by the config, without showing them", () => {
    const build = () => resolveConfig({ baseUrl: "http://opencode:hunter22@127.0.0.1:1", password: "other-secret" }, {});
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(/baseUrl: holds credentials/);
    expect(build).not.toThrow(/hunter22|other-secret/);
  });
});

describe("the library's credentials from the environment", () => {
  it("reads OPENCODE_SERVER_USERNAME like OPENCODE_SERVER_PASSWORD; the config wins", () => {
    const env = { OPENCODE_SERVER_USERNAME: "env-user", OPENCODE_SERVER_PASSWORD: "env-secret" };
    expect(resolveConfig({ baseUrl: "http://127.0.0.1:1" }, env)).toMatchObject({ username: "env-user", password: "env-secret" });
    expect(resolveConfig({ baseUrl: "http://127.0.0.1:1", username: "given" }, env)).toMatchObject({ username: "given" });
    expect(resolveConfig({ baseUrl: "http://127.0.0.1:1" }, {})).toMatchObject({ username: "opencode", password: undefined });
  });
});

describe("the timer range", () => {
  it("timeouts beyond setTimeout's range are refused (a 30-day deadline would fire after 1 ms)", () => {
    for (const key of ["turnTimeoutMs", "connectTimeoutMs", "heartbeatTimeoutMs", "bodyTimeoutMs"]) {
      const build = () => resolveConfig({ baseUrl: "http://127.0.0.1:1", [key]: 30 * 24 * 3600 * 1000 }, {});
      expect(build).toThrow(new RegExp(`${key}: at most ${MAX_TIMER_MS} ms`));
    }
  });

  it("the largest timer delay is accepted", () => {
    expect(resolveConfig({ baseUrl: "http://127.0.0.1:1", turnTimeoutMs: MAX_TIMER_MS }, {}).turnTimeoutMs).toBe(MAX_TIMER_MS);
    expect(() => resolveConfig({ baseUrl: "http://127.0.0.1:1", connectTimeoutMs: 1.5 }, {})).toThrow(/connectTimeoutMs/);
  });
});
