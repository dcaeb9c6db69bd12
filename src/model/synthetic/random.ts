import { createECDH, createHash } from "node:crypto";
import { fingerprintOf } from "../sshkey.ts";

/** A small seeded PRNG (mulberry32): the same seed gives the same inventory. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new RangeError("pick from an empty list");
    return item;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

function digest(label: string): Buffer {
  return createHash("sha256").update(label).digest();
}

/**
 * A well-formed ed25519 public key derived from a label. It is only a test
 * value: no private key exists for it, so nothing can authenticate with it.
 */
export function fakeEd25519(label: string): string {
  const type = Buffer.from("ssh-ed25519");
  const blob = Buffer.concat([u32(type.length), type, u32(32), digest(label)]);
  return `ssh-ed25519 ${blob.toString("base64")}`;
}

/** The DER prefix of an EC P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1, a 65-byte uncompressed point). */
const P256_SPKI_PREFIX = Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex");

/**
 * A device's EC P-256 key derived from a label: the private scalar is SHA-256 of the label (hashed
 * again in the rare case it is not a valid scalar), so a test can make the very key that matches a
 * generated inventory's fingerprint, as a real device's key matches its real one (issue 17). Only
 * a test value: a production device makes its key in its secure element.
 */
export function syntheticDeviceKey(label: string): { readonly d: Buffer; readonly point: Buffer; readonly fingerprint: string } {
  let d = digest(`device:${label}`);
  for (;;) {
    try {
      const ecdh = createECDH("prime256v1");
      ecdh.setPrivateKey(d);
      const point = ecdh.getPublicKey();
      return { d, point, fingerprint: fingerprintOf(Buffer.concat([P256_SPKI_PREFIX, point])) };
    } catch {
      d = createHash("sha256").update(d).digest();
    }
  }
}

/** A device key fingerprint (ADR 0002) derived from a label: that of syntheticDeviceKey(label), which a real key matches. */
export function fakeFingerprint(label: string): string {
  return syntheticDeviceKey(label).fingerprint;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** The n-th private address of a block: 10.<first+…>.x.y, hosts 1–254. */
export function address(first: number, n: number): string {
  const net = Math.floor(n / 254);
  return `10.${first + (net >> 8)}.${net & 255}.${(n % 254) + 1}`;
}
