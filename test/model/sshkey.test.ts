import { describe, expect, it } from "vitest";
import { isFingerprint, parsePublicKey } from "../../src/model/sshkey.ts";

// A real ed25519 test key (public half only) and the fingerprint ssh-keygen -lf printed for it.
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINmcNZTggukYvr6ID29oSNUWzdW4VJLqne5Uspq0TqQe";
const FINGERPRINT = "SHA256:RK7AX2UfNCqNNBusGCGhQ9gf8A8VCiJBdjcrpVDjwSU";

describe("SSH public keys", () => {
  it("parses a key and computes the fingerprint ssh-keygen prints", () => {
    expect(parsePublicKey(KEY)).toEqual({ ok: true, fingerprint: FINGERPRINT });
    expect(parsePublicKey(`${KEY} someone@host`)).toEqual({ ok: true, fingerprint: FINGERPRINT });
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

  it("knows a SHA256 fingerprint", () => {
    expect(isFingerprint(FINGERPRINT)).toBe(true);
    expect(isFingerprint("MD5:12:34")).toBe(false);
    expect(isFingerprint(`${FINGERPRINT}=`)).toBe(false);
  });
});
