/** The CLI's connection options to an adapter config (`--url` given: nothing is started). */
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/cli/command.js";
import { connect } from "../../src/cli/connection.js";

describe("connect() with a server URL", () => {
  it("maps every option onto the adapter config", async () => {
    const connection = await connect(
      {
        url: "http://127.0.0.1:4096",
        username: "me",
        password: "secret",
        directory: "/srv/project",
        session: "ses_abc",
        model: "anthropic/claude-sonnet-4-5",
        agent: "plan",
        system: "Be brief.",
        permissions: "always",
        timeout: "1.5",
      },
      { env: {} },
    );
    expect(connection.server).toBe("remote");
    expect(connection.config).toEqual({
      baseUrl: "http://127.0.0.1:4096",
      username: "me",
      password: "secret",
      directory: "/srv/project",
      sessionId: "ses_abc",
      providerID: "anthropic",
      modelID: "claude-sonnet-4-5",
      agent: "plan",
      system: "Be brief.",
      permissions: "always",
      turnTimeoutMs: 1500,
    });
    await connection.stop();
  });

  it("reads OPENCODE_URL, OPENCODE_SERVER_USERNAME and OPENCODE_SERVER_PASSWORD; options win over them", async () => {
    const env = { OPENCODE_URL: "http://127.0.0.1:5000", OPENCODE_SERVER_USERNAME: "env-user", OPENCODE_SERVER_PASSWORD: "env-secret" };
    expect((await connect({}, { env })).config).toEqual({ baseUrl: "http://127.0.0.1:5000", username: "env-user", password: "env-secret" });
    expect((await connect({ url: "http://127.0.0.1:6000", password: "given" }, { env })).config).toMatchObject({
      baseUrl: "http://127.0.0.1:6000",
      password: "given",
    });
  });

  it("--permissions ask is the given policy, and reject when there is nobody to ask", async () => {
    const ask = () => "once" as const;
    const url = "http://127.0.0.1:4096";
    expect((await connect({ url, permissions: "ask" }, { env: {}, ask })).config.permissions).toBe(ask);
    expect((await connect({ url, permissions: "ask" }, { env: {} })).config.permissions).toBe("reject");
  });

  it.each([
    [{ model: "claude" }, "PROVIDER/MODEL"],
    [{ model: "anthropic/" }, "PROVIDER/MODEL"],
    [{ permissions: "sometimes" }, "expected one of once, always, reject, ask"],
    [{ timeout: "0" }, "above 0"],
    [{ timeout: "ten" }, "above 0"],
    [{ session: "abc" }, 'starts with "ses"'],
    [{ demo: true, url: "http://127.0.0.1:4096" }, "leave out --url"],
    [{ demo: true, url: undefined, directory: "." }, "leave out --directory"],
    [{ url: "localhost:4096" }, "--url (or OPENCODE_URL): expected an http(s) URL"],
    [{ agent: "" }, "--agent: "],
  ])("%j is a usage error", async (values, message) => {
    const attempt = connect({ url: "http://127.0.0.1:4096", ...values }, { env: {} });
    await expect(attempt).rejects.toThrow(UsageError);
    await expect(attempt).rejects.toThrow(message);
  });
});
