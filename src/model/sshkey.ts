import { createHash } from "node:crypto";

/**
 * OpenSSH public keys (`ssh-ed25519 AAAA… comment`) and SHA256 fingerprints
 * (`SHA256:` + 43 base64 characters). Only public material belongs here.
 */
const KEY_TYPES = new Set([
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
  "sk-ssh-ed25519@openssh.com",
]);

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
  if ([...line].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return { ok: false, reason: "a key is one line of printable text: this one holds a line break, tab or other control character" };
  const parts = line.split(" ").filter((p) => p !== "");
  const [type, body] = parts;
  if (type === undefined || body === undefined) return { ok: false, reason: "expected \"<type> <base64> [comment]\"" };
  if (!KEY_TYPES.has(type)) return { ok: false, reason: `"${type}" is not an SSH public key type` };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return { ok: false, reason: "the key body is not base64" };
  const blob = Buffer.from(body, "base64");
  // The blob starts with the key type as a length-prefixed string: a pasted
  // key of another type, or a truncated one, fails here.
  const length = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  if (length < 0 || blob.subarray(4, 4 + length).toString("latin1") !== type) {
    return { ok: false, reason: "the key body does not match its type (truncated or mixed up?)" };
  }
  if (type === "ssh-ed25519" && blob.length !== 51) return { ok: false, reason: "an ed25519 key body is 51 bytes" };
  if (ANOTHER_KEY.test(parts.slice(2).join(" "))) return { ok: false, reason: "more than one key: the comment holds another key (one person, one key)" };
  return { ok: true, fingerprint: fingerprintOf(blob), key: `${type} ${body}` };
}

/** OpenSSH's SHA256 fingerprint of a key blob. */
export function fingerprintOf(blob: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

export function isFingerprint(text: string): boolean {
  return /^SHA256:[A-Za-z0-9+/]{43}$/.test(text);
}
