import { createHash } from "node:crypto";
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

/** A device key fingerprint derived from a label (devices keep their keys in a secure element). */
export function fakeFingerprint(label: string): string {
  return fingerprintOf(digest(`device:${label}`));
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
