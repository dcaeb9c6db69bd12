import type { FindingSink } from "./finding.ts";
import { BIDI_CONTROLS, codePointName } from "./normalize.ts";
import type { SourceFile } from "./source.ts";

/**
 * Raw-text scans, done on the whole text so comments are covered too:
 * bidirectional controls and secrets. A secret finding says what kind of
 * secret it looks like and where, never the secret itself.
 */
// Each pattern has a literal that must occur for it to match: a national
// inventory is 60 MB of text, and a substring search skips it far faster
// than a regular expression that has to try every position.
const SECRETS: readonly { literal: string; pattern: RegExp; what: string }[] = [
  { literal: "PRIVATE KEY-----", pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/g, what: "a private key" },
  { literal: "AKIA", pattern: /\bAKIA[0-9A-Z]{16}\b/g, what: "an AWS access key" },
  { literal: "_", pattern: /\bgh[pousr]_[A-Za-z0-9]{36,}/g, what: "a GitHub token" },
  { literal: "xox", pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g, what: "a Slack token" },
  { literal: "eyJ", pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, what: "a JSON web token" },
];
const COMMENT_SECRET = /\b(?:pass(?:word|wd)?|secret|token)\b\s*[:=]\s*\S/i;

/**
 * Whether the UTF-8 bytes may hold a bidirectional control: U+061C is D8 9C,
 * the others E2 80 8E/8F/AA–AE and E2 81 A6–A9. A byte search is much faster
 * than a regular expression over the decoded text, and almost always says no.
 */
export function mayHoldBidi(bytes: Uint8Array): boolean {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.indexOf(ALM) >= 0) return true;
  for (let i = buffer.indexOf(0xe2); i >= 0 && i + 2 < buffer.length; i = buffer.indexOf(0xe2, i + 1)) {
    const b1 = buffer[i + 1];
    const b2 = buffer[i + 2] ?? 0;
    if (b1 === 0x80 && (b2 === 0x8e || b2 === 0x8f || (b2 >= 0xaa && b2 <= 0xae))) return true;
    if (b1 === 0x81 && b2 >= 0xa6 && b2 <= 0xa9) return true;
  }
  return false;
}
const ALM = Buffer.from([0xd8, 0x9c]);

export function scanText(file: SourceFile, sink: FindingSink, bidi = true): void {
  const text = file.text;
  BIDI_CONTROLS.lastIndex = 0;
  for (let m = bidi ? BIDI_CONTROLS.exec(text) : null; m !== null; m = BIDI_CONTROLS.exec(text)) {
    sink.add(
      "security.bidi-control",
      file.position(m.index),
      "-",
      `bidirectional control character ${codePointName(m[0])}: it can make what a reviewer sees differ from what is stored`,
      "delete it; Persian text needs no direction controls",
    );
  }
  for (const { literal, pattern, what } of SECRETS) {
    if (!text.includes(literal)) continue;
    pattern.lastIndex = 0;
    for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
      secret(file, sink, m.index, what);
    }
  }
  // Comments are few: look at each one rather than run a pattern over the whole text.
  for (let at = text.indexOf("#"); at >= 0; at = text.indexOf("#", at + 1)) {
    const end = text.indexOf("\n", at);
    if (COMMENT_SECRET.test(text.slice(at, end < 0 ? text.length : end))) secret(file, sink, at, "a secret in a comment");
  }
}

function secret(file: SourceFile, sink: FindingSink, at: number, what: string): void {
  sink.add("security.secret", file.position(at), "-", `this looks like ${what} (value not shown)`, "remove it and rotate it: secrets live in Pulumi config secrets, never in the inventory");
}
