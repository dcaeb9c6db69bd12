import { describe, expect, it } from "vitest";
import { isFingerprint, parsePublicKey } from "../../src/model/sshkey.ts";

// A real ed25519 test key (public half only) and the fingerprint ssh-keygen -lf printed for it.
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINmcNZTggukYvr6ID29oSNUWzdW4VJLqne5Uspq0TqQe";
const FINGERPRINT = "SHA256:RK7AX2UfNCqNNBusGCGhQ9gf8A8VCiJBdjcrpVDjwSU";

describe("SSH public keys", () => {
  it("parses a key and computes the fingerprint ssh-keygen prints", () => {
    expect(parsePublicKey(KEY)).toEqual({ ok: true, fingerprint: FINGERPRINT, key: KEY });
    // The comment is kept out of `key`: only type and body go where keys are written.
    expect(parsePublicKey(`${KEY} someone@host`)).toEqual({ ok: true, fingerprint: FINGERPRINT, key: KEY });
  });

  it.each([
    ["a wrong type name", KEY.replace("ssh-ed25519", "ssh-rsa")],
    ["an unknown type", KEY.replace("ssh-ed25519", "ssh-foo")],
    ["a truncated body", KEY.slice(0, 40)],
    ["no body", "ssh-ed25519"],
    ["not base64", "ssh-ed25519 !!!!"],
  ])("refuses %s", (_what, key) => {
    expect(parsePublicKey(key).ok).toBe(false);
  });

  // Issue 13: one member, one key, one line. Each of these once put a second signer into allowed_signers.
  it.each([
    ["a second key on the next line", `${KEY} m@committee\n${KEY.replace("A", "B")} outsider`, /one line of printable text/],
    ["a carriage return", `${KEY} m@committee\r${KEY} outsider`, /one line of printable text/],
    ["a tab in the comment", `${KEY} m\tcommittee`, /one line of printable text/],
    ["a second key in the comment", `${KEY} m@committee ${KEY}`, /the comment holds another key/],
    ["a second key of another type in the comment", `${KEY} ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY`, /the comment holds another key/],
  ])("refuses %s, saying why", (_what, key, reason) => {
    const parsed = parsePublicKey(key);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });

  it("knows a SHA256 fingerprint", () => {
    expect(isFingerprint(FINGERPRINT)).toBe(true);
    expect(isFingerprint("MD5:12:34")).toBe(false);
    expect(isFingerprint(`${FINGERPRINT}=`)).toBe(false);
  });
});
