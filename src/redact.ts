/** What stands in for a credential in any text that leaves the library. */
export const REDACTED = "[redacted]";

/**
 * Every form the server password can take in text: as given, percent-encoded (a URL), and as the
 * Basic token it travels in. A server or proxy that echoes the request back in an error body would
 * otherwise hand it to the host's logs.
 */
export function credentialForms(username: string, password: string | undefined): string[] {
  if (password === undefined || password === "") return [];
  const pair = `${username}:${password}`;
  const token = Buffer.from(pair).toString("base64");
  return [...new Set([token, token.replace(/=+$/, ""), pair, password, encodeURIComponent(password)])];
}

/** Replaces each of `secrets` (longest first, so a token is not half-replaced) in `text`. */
export function redactor(secrets: readonly string[]): (text: string) => string {
  const ordered = [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  if (ordered.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const secret of ordered) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  };
}
