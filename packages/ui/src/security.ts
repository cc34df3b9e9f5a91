// Who may talk to the dashboard: loopback by default; a token on any other address; a CSRF token
// on every action; Host checks against DNS rebinding on loopback.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";

/** Constant-time equality of two secrets of any length (both are hashed to the same size first). */
export function sameSecret(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a, "utf8").digest();
  const hb = createHash("sha256").update(b, "utf8").digest();
  return timingSafeEqual(ha, hb);
}

/** Whether a bind address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  if (isIPv4(h)) return h.startsWith("127.");
  if (isIPv6(h)) return h.startsWith("::ffff:127.");
  return false;
}

export const SESSION_COOKIE = "stackseam_session";

/** A server's secrets: a key that signs sessions and CSRF tokens, new on every start. */
export class Guard {
  private readonly key = randomBytes(32);
  /** The access token; null when none is required (loopback without --token). */
  readonly token: string | null;
  /** Host header values accepted; null accepts any (a token protects the server instead). */
  private readonly hosts: ReadonlySet<string> | null;

  constructor(token: string | null, hosts: ReadonlySet<string> | null) {
    this.token = token;
    this.hosts = hosts;
  }

  private sign(purpose: string, value: string): string {
    return createHmac("sha256", this.key).update(`${purpose}\u0000${value}`).digest("base64url");
  }

  /** A fresh session cookie value: a random id and its signature (so a forged one is refused). */
  newSession(): string {
    const id = randomBytes(18).toString("base64url");
    return `${id}.${this.sign("session", id)}`;
  }

  /** Whether a session cookie value was issued by this server (and, with a token, after it was shown). */
  validSession(value: string | undefined): boolean {
    if (!value) return false;
    const [id, mac] = value.split(".");
    if (!id || !mac) return false;
    return sameSecret(mac, this.sign("session", id));
  }

  /** The CSRF token of a session: only pages served to that session carry it. */
  csrfFor(session: string): string {
    return this.sign("csrf", session);
  }

  validCsrf(session: string, token: string | undefined): boolean {
    return token !== undefined && sameSecret(token, this.csrfFor(session));
  }

  validToken(candidate: string | undefined | null): boolean {
    return (
      this.token !== null &&
      candidate !== undefined &&
      candidate !== null &&
      sameSecret(candidate, this.token)
    );
  }

  /** Whether the Host header names this server (a rebinding attack's page sends its own name). */
  hostAllowed(host: string | undefined): boolean {
    if (this.hosts === null) return true;
    return host !== undefined && this.hosts.has(host.toLowerCase());
  }
}

/** Parses a Cookie header. */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!(name in out)) out[name] = value;
  }
  return out;
}

/** Host header values for a loopback server on this port. */
export function loopbackHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
}

/** A random token for `--token` when none is given (printed once). */
export function newToken(): string {
  return randomBytes(24).toString("base64url");
}
