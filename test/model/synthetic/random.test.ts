// The generator's test values: a device fingerprint a real key matches.
import { createHash, createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fakeFingerprint, syntheticDeviceKey } from "../../../src/model/synthetic/random.ts";

const b64url = (b: Buffer) => b.toString("base64url");

describe("syntheticDeviceKey", () => {
  it("is a real EC P-256 key whose SPKI fingerprint (ADR 0002) is the one the generator writes, the same for a label every time", () => {
    const key = syntheticDeviceKey("PRD-0001");
    const jwk = { kty: "EC", crv: "P-256", d: b64url(key.d), x: b64url(key.point.subarray(1, 33)), y: b64url(key.point.subarray(33)) };
    const privateKey = createPrivateKey({ key: jwk, format: "jwk" });
    const spki = createPublicKey(privateKey).export({ type: "spki", format: "der" });
    expect(`SHA256:${createHash("sha256").update(spki).digest("base64").replace(/=+$/, "")}`).toBe(key.fingerprint);
    expect(fakeFingerprint("PRD-0001")).toBe(key.fingerprint);
    // It signs, and its public half verifies: a key a device could hold.
    const signature = sign("sha256", Buffer.from("check-in"), privateKey);
    expect(verify("sha256", Buffer.from("check-in"), createPublicKey(privateKey), signature)).toBe(true);
    // Deterministic per label, different between labels.
    expect(syntheticDeviceKey("PRD-0001").fingerprint).toBe(key.fingerprint);
    expect(syntheticDeviceKey("PRD-0002").fingerprint).not.toBe(key.fingerprint);
  });
});
