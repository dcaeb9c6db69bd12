/**
 * A catalog pattern (JavaScript syntax, no flags: `new RegExp(pattern)`) as RE2 writes it, the
 * syntax blackbox_exporter (Go's regexp) reads — or why RE2 cannot express it. The same check must
 * mean the same thing in amadegi's prober and in Prometheus's, so the catalog refuses at load time
 * what only JavaScript can match: lookarounds, backreferences.
 *
 * Translated: `(?<name>` becomes `(?P<name>`, `\uHHHH` becomes `\x{HHHH}`, `\0` becomes `\x00`.
 * Known, accepted difference: `\s` also matches Unicode spaces in JavaScript, ASCII ones in RE2.
 */
export type Re2 = { readonly ok: true; readonly pattern: string } | { readonly ok: false; readonly why: string };

const REFUSED_GROUPS: readonly (readonly [string, string])[] = [
  ["(?<=", "a lookbehind (?<=…)"],
  ["(?<!", "a negative lookbehind (?<!…)"],
  ["(?=", "a lookahead (?=…)"],
  ["(?!", "a negative lookahead (?!…)"],
];

export function re2Pattern(pattern: string): Re2 {
  let out = "";
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? "";
    if (c === "\\") {
      const next = pattern[i + 1] ?? "";
      const rest = pattern.slice(i + 1);
      if (!inClass && /^[1-9]/.test(next)) return { ok: false, why: `a backreference \\${next}` };
      if (next === "k" && rest.startsWith("k<")) return { ok: false, why: "a named backreference \\k<…>" };
      if (next === "c") return { ok: false, why: "a control escape \\c" };
      const unicode = /^u([0-9A-Fa-f]{4})/.exec(rest);
      if (unicode !== null) {
        out += `\\x{${unicode[1]}}`;
        i += 5;
        continue;
      }
      if (next === "u") return { ok: false, why: "a \\u escape that is not \\uHHHH" };
      if (next === "0" && !/^[0-9]/.test(pattern[i + 2] ?? "")) {
        out += "\\x00";
        i += 1;
        continue;
      }
      out += c + next;
      i += 1;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      out += c;
      continue;
    }
    if (c === "[") {
      if (pattern.startsWith("[]", i)) return { ok: false, why: "an empty class []" };
      if (pattern.startsWith("[^]", i)) return { ok: false, why: "the class [^] (write [\\s\\S])" };
      inClass = true;
      out += c;
      continue;
    }
    if (c === "(") {
      const refused = REFUSED_GROUPS.find(([open]) => pattern.startsWith(open, i));
      if (refused !== undefined) return { ok: false, why: refused[1] };
      if (pattern.startsWith("(?<", i)) {
        out += "(?P<";
        i += 2;
        continue;
      }
    }
    out += c;
  }
  return { ok: true, pattern: out };
}
