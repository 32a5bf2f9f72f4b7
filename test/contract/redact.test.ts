import { describe, expect, it } from "vitest";
import { credentialForms, passwordRedactable, REDACTED, redactDeep, redactor, withoutSecrets } from "../../src/contract/redact.js";
import { TurnError } from "../../src/contract/turn-error.js";

const basic = (password: string) => Buffer.from(`opencode:${password}`).toString("base64");

describe("a weak password does not mangle text", () => {
  const ordinary =
    "opencode at http://127.0.0.1:4096 answered 1 error: Cannot reach opencode; the model said o, 1, 2 and opencode; {\"a\":1}";
  for (const password of ["o", "1", "opencode", "secret"]) {
    it(`a weak password (${JSON.stringify(password)}) leaves ordinary text alone, and still redacts its Basic token, pair and env form`, () => {
      expect(passwordRedactable(password)).toBe(false);
      const redact = redactor(credentialForms("opencode", password));
      expect(redact(ordinary)).toBe(ordinary);
      expect(redact(`authorization: Basic ${basic(password)}`)).toBe(`authorization: Basic ${REDACTED}`);
      expect(redact(`OPENCODE_SERVER_PASSWORD=${password}\n`)).toBe(`${REDACTED}\n`);
      expect(redact(`http://opencode:${password}@host`)).toBe(`http://${REDACTED}@host`);
    });
  }

  it("a strong password is redacted wherever it appears: as sent, URL-encoded, JSON-escaped (once and twice)", () => {
    const password = 'p@ss "word"\\x9';
    expect(passwordRedactable(password)).toBe(true);
    const redact = redactor(credentialForms("opencode", password));
    const once = JSON.stringify(password).slice(1, -1);
    const twice = JSON.stringify(once).slice(1, -1);
    for (const form of [password, encodeURIComponent(password), once, twice]) expect(redact(`<${form}>`)).toBe(`<${REDACTED}>`);
    expect(redact(ordinary)).toBe(ordinary);
  });
});

describe("the forms redacted", () => {
  const password = "Correct-Horse-9";
  const redact = redactor(credentialForms("opencode", password));

  it("the Basic token padded and unpadded, the user:password pair, the env form, the bare and percent-encoded password", () => {
    const token = basic(password);
    for (const form of [token, token.replace(/=+$/, ""), `opencode:${password}`, `OPENCODE_SERVER_PASSWORD=${password}`, password, encodeURIComponent(password)]) {
      expect(redact(`[${form}]`)).toBe(`[${REDACTED}]`);
    }
  });

  it("the longest form first: a token is replaced whole, not half", () => {
    expect(redact(`Basic ${basic(password)}`)).toBe(`Basic ${REDACTED}`);
  });

  it("no password, or an empty one, redacts nothing", () => {
    expect(credentialForms("opencode", undefined)).toEqual([]);
    expect(credentialForms("opencode", "")).toEqual([]);
    expect(redactor([])("opencode:anything")).toBe("opencode:anything");
  });

  it("redactDeep copies objects, arrays, Maps and Sets with every string redacted; an error keeps its class and code", () => {
    const value = { a: [password], m: new Map([["k", password]]), s: new Set([password]), n: 1 };
    expect(redactDeep(value, redact)).toEqual({ a: [REDACTED], m: new Map([["k", REDACTED]]), s: new Set([REDACTED]), n: 1 });
    const error = redactDeep(new TurnError("unauthorized", `bad ${password}`, 401), redact) as TurnError;
    expect(error).toBeInstanceOf(TurnError);
    expect(error).toMatchObject({ code: "unauthorized", status: 401, message: `bad ${REDACTED}` });
  });

  it("a reply's error, tool args and results are redacted; answer text is left as the model wrote it", () => {
    expect(withoutSecrets({ kind: "error", trace_id: "t", code: "internal", error: password }, redact)).toMatchObject({ error: REDACTED });
    expect(withoutSecrets({ kind: "tool_call", trace_id: "t", call_id: "c", tool: "bash", args: { cmd: password } }, redact)).toMatchObject({ args: { cmd: REDACTED } });
    expect(withoutSecrets({ kind: "delta", trace_id: "t", content: password }, redact)).toMatchObject({ content: password });
  });
});
