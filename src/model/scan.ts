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
  { literal: "#", pattern: /#[^\n]*\b(?:pass(?:word|wd)?|secret|token)\b\s*[:=]\s*\S/gi, what: "a secret in a comment" },
];

export function scanText(file: SourceFile, sink: FindingSink): void {
  const text = file.text;
  BIDI_CONTROLS.lastIndex = 0;
  for (let m = BIDI_CONTROLS.exec(text); m !== null; m = BIDI_CONTROLS.exec(text)) {
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
      sink.add("security.secret", file.position(m.index), "-", `this looks like ${what} (value not shown)`, "remove it and rotate it: secrets live in Pulumi config secrets, never in the inventory");
    }
  }
}
