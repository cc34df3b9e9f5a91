import { describe, expect, it } from "vitest";
import { Guard, isLoopback, loopbackHosts, parseCookies, sameSecret } from "../src/security.js";

describe("security", () => {
  it("compares secrets of any length", () => {
    expect(sameSecret("abc", "abc")).toBe(true);
    expect(sameSecret("abc", "abd")).toBe(false);
    expect(sameSecret("abc", "abcd")).toBe(false);
    expect(sameSecret("", "")).toBe(true);
  });

  it("knows loopback addresses", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"])
      expect(isLoopback(h)).toBe(true);
    for (const h of ["0.0.0.0", "::", "10.0.0.1", "192.168.1.2", "example.com"])
      expect(isLoopback(h)).toBe(false);
  });

  it("issues sessions and CSRF tokens only it can verify", () => {
    const guard = new Guard(null, loopbackHosts(4680));
    const session = guard.newSession();
    expect(guard.validSession(session)).toBe(true);
    expect(guard.validSession(`${session.split(".")[0]}.forged`)).toBe(false);
    expect(new Guard(null, null).validSession(session)).toBe(false);
    expect(guard.validCsrf(session, guard.csrfFor(session))).toBe(true);
    expect(guard.validCsrf(session, guard.csrfFor(guard.newSession()))).toBe(false);
    expect(guard.validCsrf(session, undefined)).toBe(false);
  });

  it("accepts only its own Host names on loopback", () => {
    const guard = new Guard(null, loopbackHosts(4680));
    expect(guard.hostAllowed("127.0.0.1:4680")).toBe(true);
    expect(guard.hostAllowed("localhost:4680")).toBe(true);
    expect(guard.hostAllowed("attacker.example:4680")).toBe(false);
    expect(guard.hostAllowed(undefined)).toBe(false);
  });

  it("checks the token, and no token is ever valid when none is set", () => {
    expect(new Guard("s3cret", null).validToken("s3cret")).toBe(true);
    expect(new Guard("s3cret", null).validToken("s3cre")).toBe(false);
    expect(new Guard(null, null).validToken("anything")).toBe(false);
  });

  it("parses cookies, first one wins", () => {
    expect(parseCookies("a=1; b=2; a=3")).toEqual({ a: "1", b: "2" });
  });
});
