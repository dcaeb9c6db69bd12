import { EVENT_ID, SCALAR_STYLE } from "js-yaml";
import type { FindingSink, Location } from "./finding.ts";
import { BIDI_CONTROLS, codePointName } from "./normalize.ts";
import type { SourceFile } from "./source.ts";

/**
 * Raw-text scans, done on the whole text so comments are covered too:
 * bidirectional controls and secrets; then the same checks on the values
 * the text spells (`scanValues`). A secret finding says what kind of secret
 * it looks like and where, never the secret itself.
 */
// Each pattern has a literal that must occur for it to match: a national
// inventory is 60 MB of text, and a substring search skips it far faster
// than a regular expression that has to try every position.
const SECRETS: readonly { literal: string; pattern: RegExp; what: string }[] = [
  // Any space between the words: a no-break space (`"\_"`) or a folded line break hides no key.
  { literal: "KEY-----", pattern: /-----BEGIN\s+(?:[A-Z0-9]+\s+)*PRIVATE\s+KEY-----/g, what: "a private key" },
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
      secret(sink, file.position(m.index), what);
    }
  }
  // Comments are few: look at each one rather than run a pattern over the whole text.
  for (let at = text.indexOf("#"); at >= 0; at = text.indexOf("#", at + 1)) {
    const end = text.indexOf("\n", at);
    const comment = text.slice(at, end < 0 ? text.length : end);
    if (COMMENT_SECRET.test(comment)) secret(sink, file.position(at), "a secret in a comment");
    // The parser does not look inside comments: a terminal escape there would rewrite a reviewer's diff.
    const control = nonPrintable(comment);
    if (control !== undefined) refuseControl(sink, file.position(at + comment.indexOf(control)), control);
  }
}

/**
 * The first character of `value` that a YAML stream may not hold (YAML 1.2's
 * c-printable: C0 controls but tab and line breaks, DEL, C1 controls but NEL,
 * lone surrogates, U+FFFE/U+FFFF). js-yaml refuses them in plain and block
 * scalars, and C0 in quoted ones; DEL and C1 in quotes and comments, and any
 * of them spelt as an escape (`"\x1b"`, `"\u009b"`, `"\0"`, `"\uD800"`), are
 * refused here, with the rule a parser's refusal has (`yaml.syntax`).
 */
function nonPrintable(value: string): string | undefined {
  for (const c of value) if (!isPrintable(c.codePointAt(0) ?? 0)) return c;
  return undefined;
}

function isPrintable(code: number): boolean {
  if (code < 0x20) return code === 0x09 || code === 0x0a || code === 0x0d;
  if (code >= 0x7f && code <= 0x9f) return code === 0x85;
  return (code < 0xd800 || code > 0xdfff) && code !== 0xfffe && code !== 0xffff;
}

function refuseControl(sink: FindingSink, at: Location, control: string): void {
  sink.add(
    "yaml.syntax",
    at,
    "-",
    `a non-printable character ${codePointName(control)}: YAML refuses it, written out or as an escape`,
    "delete it; names and notes are printable text",
  );
}

/**
 * The checks of `scanText`, on each scalar's decoded value where it differs
 * from its spelling: escapes (`"\u202E"`, `"\x20"`) and folded line breaks
 * make characters the raw text does not show. A finding is made only for
 * what the raw scan (or the parser) could not see, at the scalar's position.
 * Keys are scalars too; the schema stage already reads field names decoded.
 */
export function scanValues(file: SourceFile, sink: FindingSink): void {
  const text = file.text;
  for (const i of file.spelt) {
    const event = file.events[i];
    if (event?.type !== EVENT_ID.SCALAR) continue;
    // `fast`: the value is the text as written (no escape, no fold), which scanText saw;
    // the parser checked a plain one's characters, not a quoted one's.
    if (event.fast) {
      const control = event.style === SCALAR_STYLE.PLAIN ? undefined : nonPrintable(text.slice(event.valueStart, event.valueEnd));
      if (control !== undefined) refuseControl(sink, file.at(i), control);
      continue;
    }
    const value = file.value(i);
    const raw = text.slice(event.valueStart, event.valueEnd);
    const control = nonPrintable(value);
    if (control !== undefined) refuseControl(sink, file.at(i), control);
    const bidi = value.match(BIDI_CONTROLS) ?? [];
    if (bidi.length > (raw.match(BIDI_CONTROLS) ?? []).length) {
      const hidden = bidi.find((c) => !raw.includes(c)) ?? bidi[0] ?? "";
      sink.add(
        "security.bidi-control",
        file.at(i),
        "-",
        `bidirectional control character ${codePointName(hidden)}, written as an escape: it can make what a reviewer sees differ from what is stored`,
        "delete it; Persian text needs no direction controls",
      );
    }
    for (const { literal, pattern, what } of SECRETS) {
      if (!value.includes(literal)) continue;
      if (count(value, pattern) > count(raw, pattern)) secret(sink, file.at(i), what);
    }
  }
}

function count(text: string, pattern: RegExp): number {
  return text.match(pattern)?.length ?? 0;
}

function secret(sink: FindingSink, at: Location, what: string): void {
  sink.add(
    "security.secret",
    at,
    "-",
    `this looks like ${what} (value not shown)`,
    "remove it and rotate it: secrets live in Pulumi config secrets, never in the inventory",
  );
}
