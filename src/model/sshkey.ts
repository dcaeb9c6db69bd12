import { createHash } from "node:crypto";

/**
 * OpenSSH public keys (`ssh-ed25519 AAAA… comment`) and SHA256 fingerprints
 * (`SHA256:` + 43 base64 characters). Only public material belongs here.
 */
const KEY_TYPES = new Set(["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa", "sk-ssh-ed25519@openssh.com"]);

export type KeyResult =
  | {
      readonly ok: true;
      readonly fingerprint: string;
      /** `<type> <base64>`: the key alone, as it goes into known_hosts or allowed_signers (never the comment). */
      readonly key: string;
    }
  | { readonly ok: false; readonly reason: string };

/** A key type followed by what could be a key body: a second key hidden in the comment. */
const ANOTHER_KEY = new RegExp(`(^|\\s)(${[...KEY_TYPES].map((t) => t.replace(/[.@+-]/g, "\\$&")).join("|")})\\s+[A-Za-z0-9+/]{16,}`);

export function parsePublicKey(text: string): KeyResult {
  const line = text.trim();
  // One key on one line (issue 13): a line break would add a line of its own
  // wherever the key is written (allowed_signers, known_hosts) — another signer.
  if ([...line].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
    return { ok: false, reason: "a key is one line of printable text: this one holds a line break, tab or other control character" };
  const parts = line.split(" ").filter((p) => p !== "");
  const [type, body] = parts;
  if (type === undefined || body === undefined) return { ok: false, reason: 'expected "<type> <base64> [comment]"' };
  if (!KEY_TYPES.has(type)) return { ok: false, reason: `"${type}" is not an SSH public key type` };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return { ok: false, reason: "the key body is not base64" };
  const blob = Buffer.from(body, "base64");
  // Canonical base64 only: the same bytes have one spelling, so "the same key" means the same text.
  if (blob.toString("base64") !== body) return { ok: false, reason: "the key body is not canonical base64 (truncated, or padded wrongly)" };
  const problem = wireProblem(type, blob);
  if (problem !== undefined) return { ok: false, reason: problem };
  if (ANOTHER_KEY.test(parts.slice(2).join(" "))) return { ok: false, reason: "more than one key: the comment holds another key (one person, one key)" };
  return { ok: true, fingerprint: fingerprintOf(blob), key: `${type} ${body}` };
}

/** The smallest RSA modulus accepted: 2048 bits, the floor of NIST SP 800-57 part 1. */
export const MIN_RSA_BITS = 2048;

const CURVES: Record<string, { name: string; point: number }> = {
  "ecdsa-sha2-nistp256": { name: "nistp256", point: 65 },
  "ecdsa-sha2-nistp384": { name: "nistp384", point: 97 },
  "ecdsa-sha2-nistp521": { name: "nistp521", point: 133 },
};

/**
 * Why a key blob is not a well-formed public key of its type (RFC 4253 §6.6,
 * RFC 5656 §3.1, RFC 8709 §4, OpenSSH PROTOCOL.u2f), or undefined: every
 * field where it belongs, nothing after the last one.
 */
function wireProblem(type: string, blob: Buffer): string | undefined {
  let at = 0;
  const field = (): Buffer | undefined => {
    if (at + 4 > blob.length) return undefined;
    const length = blob.readUInt32BE(at);
    if (at + 4 + length > blob.length) return undefined;
    const value = blob.subarray(at + 4, at + 4 + length);
    at += 4 + length;
    return value;
  };
  const mismatch = "the key body does not match its type (truncated or mixed up?)";
  if (field()?.toString("latin1") !== type) return mismatch;
  if (type === "ssh-ed25519" || type === "sk-ssh-ed25519@openssh.com") {
    if (field()?.length !== 32) return "an ed25519 key is 32 bytes";
    if (type === "sk-ssh-ed25519@openssh.com" && field() === undefined) return mismatch;
  } else if (type === "ssh-rsa") {
    const e = field();
    const n = field();
    if (e === undefined || n === undefined || e.length === 0 || n.length === 0) return mismatch;
    const leading = n.findIndex((b) => b !== 0);
    const bits = leading < 0 ? 0 : (n.length - leading - 1) * 8 + (32 - Math.clz32(n[leading] ?? 0));
    if (bits < MIN_RSA_BITS)
      return `an RSA key of ${bits} bits is too weak to sign off an election: ${MIN_RSA_BITS} bits at least (better: ssh-keygen -t ed25519)`;
  } else {
    const curve = CURVES[type];
    if (curve === undefined || field()?.toString("latin1") !== curve.name || field()?.length !== curve.point) return mismatch;
  }
  return at === blob.length ? undefined : "the key body has bytes after the key (one key, nothing else)";
}

/** OpenSSH's SHA256 fingerprint of a key blob. */
export function fingerprintOf(blob: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

export function isFingerprint(text: string): boolean {
  return /^SHA256:[A-Za-z0-9+/]{43}$/.test(text);
}

/**
 * Each member's key as `type base64` (parsed: the comment dropped, one key only), for an
 * allowed_signers file (src/toolchain/sshsig.ts). Throws naming the member whose key is not one.
 */
export function signingKeys(members: readonly { readonly id: string; readonly sshKey: string }[]): { id: string; key: string }[] {
  return members.map((m) => {
    const parsed = parsePublicKey(m.sshKey);
    if (!parsed.ok) throw new Error(`committee member ${m.id}: sshKey is not one SSH public key (${parsed.reason}); no signature is checked against it`);
    return { id: m.id, key: parsed.key };
  });
}
