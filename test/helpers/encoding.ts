// What the output-encoding tests share (issue 14): the attack strings, a
// seeded source of random strings, the GitHub Actions runner's own reading of
// a log line (a port of actions/runner's ActionCommand.TryParseV2 and
// TryParse), GFM as micromark renders it, and xmllint.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { micromark } from "micromark";
import { gfm, gfmHtml } from "micromark-extension-gfm";
import type { DriftItem, DriftReport, LatestDrift } from "../../src/readiness/drift/index.ts";
import type { GateResult } from "../../src/readiness/gate.ts";
import type { ReportData, Tally } from "../../src/readiness/report/data.ts";

/** What a name, id, reason or detail may carry: each would be structure in some output. */
export const ATTACKS: readonly string[] = [
  "# ✅ READY",
  "<img src=x onerror=alert(1)>",
  "[click](https://evil.example)",
  "![x](https://evil.example/x.png)",
  "https://evil.example",
  "www.evil.example",
  "@amadegi/it-committee",
  "#1",
  "GH-1",
  "*bold*",
  "`code`",
  "``a`b``",
  "| a | b |",
  "ok\n::error::READY",
  "ok\r::add-mask::x",
  "\n::add-mask::x",
  "  ::stop-commands::tok",
  "x ##[error]READY",
  "%0A::error::READY",
  "50% done%0D%25",
  "a\u0000b\u0007c\u001b[31mred\u001b[0m\u007f\u0085\u009b",
  "fe\ufffeff\uffff",
  "lone \ud800 surrogate \udfff",
  "\u202eevil\u202c txt.exe",
  "mail@evil.example",
  "- item",
  "1. one",
  "> quote",
  "    indented code",
  "---",
  "===",
  "~~gone~~",
  "$x^2$",
  ":white_check_mark: READY",
  "&lt;b&gt; &amp; &#64;",
  "trailing\\",
  "a\\|b",
  "</details><script>x</script>",
  "<!-- amadegi:preview -->",
  "[^1]",
  "- [x] done",
];

/** mulberry32: the same strings on every run, so a failure can be reproduced. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * A random string: pieces drawn from `alphabet` (weighted towards what
 * matters to the sink) and, one time in four, any UTF-16 code unit or code
 * point at all, lone surrogates included.
 */
export function randomString(next: () => number, alphabet: readonly string[], maxPieces = 24): string {
  let s = "";
  const n = Math.floor(next() * maxPieces);
  for (let i = 0; i < n; i++) {
    const r = next();
    if (r < 0.125) s += String.fromCharCode(Math.floor(next() * 0x10000));
    else if (r < 0.25) s += String.fromCodePoint(Math.floor(next() * 0x110000));
    else s += alphabet[Math.floor(next() * alphabet.length)] ?? "";
  }
  return s;
}

// --- the GitHub Actions runner ----------------------------------------------

/** The commands a runner registers (ActionCommandManager), compared without case. */
const REGISTERED = new Set([
  "error",
  "warning",
  "notice",
  "debug",
  "add-mask",
  "stop-commands",
  "set-output",
  "save-state",
  "add-path",
  "set-env",
  "group",
  "endgroup",
  "echo",
  "add-matcher",
  "remove-matcher",
  "internal-set-repo-path",
]);

/** .NET's Char.IsWhiteSpace, which String.Trim and TrimStart skip. */
const DOTNET_SPACE = "[\\u0009-\\u000D\\u0020\\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]";
const trimStart = (s: string): string => s.replace(new RegExp(`^${DOTNET_SPACE}+`), "");
export const dotnetTrimEnd = (s: string): string => s.replace(new RegExp(`${DOTNET_SPACE}+$`), "");
const trim = (s: string): string => dotnetTrimEnd(trimStart(s));

const unescape = (s: string, pairs: readonly (readonly [string, string])[]): string => pairs.reduce((text, [code, c]) => text.replaceAll(code, c), s);
const DATA: readonly (readonly [string, string])[] = [
  ["%0D", "\r"],
  ["%0A", "\n"],
  ["%25", "%"],
];
const PROPERTY: readonly (readonly [string, string])[] = [
  ["%0D", "\r"],
  ["%0A", "\n"],
  ["%3A", ":"],
  ["%2C", ","],
  ["%25", "%"],
];
const V1: readonly (readonly [string, string])[] = [
  ["%3B", ";"],
  ["%0D", "\r"],
  ["%0A", "\n"],
  ["%5D", "]"],
  ["%25", "%"],
];

export interface RunnerCommand {
  readonly form: "::" | "##[";
  readonly command: string;
  readonly properties: Readonly<Record<string, string>>;
  readonly data: string;
}

/** `a=b` as .NET's Split('=', 2, RemoveEmptyEntries) reads it. */
function pair(text: string): [string, string] | undefined {
  const i = text.indexOf("=");
  if (i < 0) return undefined;
  const key = text.slice(0, i);
  const value = text.slice(i + 1);
  return key === "" || value === "" ? undefined : [key, value];
}

/** What the runner makes of one line of a step's output: a command, or nothing (the line is shown). */
export function runnerCommand(line: string): RunnerCommand | undefined {
  const m = trimStart(line);
  if (m.startsWith("::")) {
    const end = m.indexOf("::", 2);
    if (end >= 0) {
      const info = m.slice(2, end);
      const space = info.indexOf(" ");
      const command = space < 0 ? info : info.slice(0, space);
      if (REGISTERED.has(command.toLowerCase())) {
        const properties: Record<string, string> = {};
        if (space > 0) {
          for (const p of trim(info.slice(space + 1))
            .split(",")
            .filter((x) => x !== "")) {
            const kv = pair(p);
            if (kv !== undefined) properties[kv[0]] = unescape(kv[1], PROPERTY);
          }
        }
        return { form: "::", command, properties, data: unescape(m.slice(end + 2), DATA) };
      }
    }
  }
  const start = line.indexOf("##[");
  if (start < 0) return undefined;
  const close = line.indexOf("]", start);
  if (close < 0) return undefined;
  const info = line.slice(start + 3, close);
  const space = info.indexOf(" ");
  const command = space < 0 ? info : info.slice(0, space);
  if (!REGISTERED.has(command.toLowerCase())) return undefined;
  const properties: Record<string, string> = {};
  if (space > 0) {
    for (const p of info
      .slice(space + 1)
      .split(";")
      .filter((x) => x !== "")) {
      const kv = pair(p);
      if (kv !== undefined) properties[kv[0]] = unescape(kv[1], V1);
    }
  }
  return { form: "##[", command, properties, data: unescape(line.slice(close + 1), V1) };
}

/** A step's output as the runner splits it into lines (StreamReader.ReadLine: CR, LF or CRLF). */
export const runnerLines = (output: string): string[] => output.split(/\r\n|\r|\n/);

/** Every line of the output that the runner would take as a command. */
export const commandsIn = (output: string): RunnerCommand[] => runnerLines(output).flatMap((l) => runnerCommand(l) ?? []);

// --- GitHub Flavored Markdown ------------------------------------------------

/** Markdown to HTML as GFM specifies it, raw HTML passed through (GitHub keeps much of it). */
export const gfmHtmlOf = (markdown: string): string => micromark(markdown, { allowDangerousHtml: true, extensions: [gfm()], htmlExtensions: [gfmHtml()] });

/** The elements that data must never make, by name. */
export const STRUCTURE = [
  "a",
  "img",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "p",
  "br",
  "hr",
  "ul",
  "ol",
  "li",
  "blockquote",
  "pre",
  "code",
  "em",
  "strong",
  "del",
  "table",
  "tr",
  "td",
  "th",
  "input",
  "script",
  "details",
  "summary",
  "sup",
  "section",
] as const;

/** How many of each element (opening tags) the HTML has. */
export function tagCounts(html: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const tag of STRUCTURE) counts[tag] = (html.match(new RegExp(`<${tag}[\\s>/]`, "g")) ?? []).length;
  return counts;
}

/** The text of HTML: tags removed, the entities micromark writes decoded, word joiners dropped. */
export function textOf(html: string): string {
  return html
    .replace(/<[^>]*>/g, "")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")
    .replaceAll("\u2060", "");
}

// --- XML -------------------------------------------------------------------

const execFileP = promisify(execFile);

/** xmllint on a document: its exit code and complaints, and with `xpath` what that expression evaluates to. */
export async function xmllint(xml: string, xpath?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), "amadegi-xmllint-"));
  try {
    const file = join(dir, "doc.xml");
    await writeFile(file, xml);
    const args = xpath === undefined ? ["--noout", file] : ["--xpath", xpath, file];
    try {
      const { stdout, stderr } = await execFileP("xmllint", args, { maxBuffer: 64 * 1024 * 1024 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** XML 1.0's Char production, code point by code point. */
const isXmlChar = (cp: number): boolean =>
  cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || cp >= 0x10000;

/** What an XML parser should read back: each character XML cannot carry as its `\uXXXX` text. */
export function xmlReadBack(s: string): string {
  let out = "";
  for (const c of s) {
    const cp = c.codePointAt(0) ?? 0;
    out += isXmlChar(cp) ? c : `\\u${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  }
  return out;
}

// --- OpenMetrics -------------------------------------------------------------

/** A label value as the OpenMetrics ABNF reads it: `\\`, `\"` and `\n` are escapes, a bare `"` ends it. */
export function parseLabelValue(written: string): string {
  let out = "";
  for (let i = 0; i < written.length; i++) {
    const c = written[i];
    if (c === '"') throw new Error(`unescaped quote at ${i}`);
    if (c !== "\\") {
      out += c;
      continue;
    }
    const n = written[++i];
    if (n === "\\" || n === '"') out += n;
    else if (n === "n") out += "\n";
    else throw new Error(`invalid escape \\${n ?? ""} at ${i}`);
  }
  return out;
}

/** A sample line's labels, parsed per the spec: name="value" pairs separated by commas. */
export function parseLabels(line: string): Record<string, string> {
  const open = line.indexOf("{");
  const labels: Record<string, string> = {};
  if (open < 0) return labels;
  let i = open + 1;
  while (line[i] !== "}") {
    const eq = line.indexOf("=", i);
    if (eq < 0) throw new Error(`bad labels: ${line}`);
    const name = line.slice(i, eq);
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) || line[eq + 1] !== '"') throw new Error(`bad label at ${i}: ${line}`);
    let j = eq + 2;
    while (line[j] !== '"') {
      if (j >= line.length) throw new Error(`unterminated value: ${line}`);
      j += line[j] === "\\" ? 2 : 1;
    }
    labels[name] = parseLabelValue(line.slice(eq + 2, j));
    i = line[j + 1] === "," ? j + 2 : j + 1;
    if (i > line.length) throw new Error(`unterminated labels: ${line}`);
  }
  return labels;
}

// --- a gate's result with data in every field --------------------------------

/**
 * The result with every value that comes from data (names, ids, owners,
 * reasons, details, paths, the committee's names) replaced by `value(i)`, i
 * counting up, and the shape kept: the same rows, items and lists. Render it
 * with plain values and with attacks, and the output's structure must match.
 */
export function poisonResult(r: GateResult, value: (i: number) => string): GateResult {
  let i = 0;
  const v = () => value(i++);
  return {
    ...r,
    election: { ...r.election, name: v() },
    milestone: { ...r.milestone, id: v(), name: v(), where: v() },
    reasons: [v(), v()],
    inventory: { ...r.inventory, dir: v() },
    ...(r.results === undefined ? {} : { results: { ...r.results, file: v(), campaign: v() } }),
    criteria: r.criteria.map((c) => ({
      ...c,
      reason: v(),
      note: v(),
      byOwner: Object.fromEntries(Object.values(c.byOwner).map((n) => [v(), n])),
      offenders: c.offenders.map((o) => ({ ...o, id: v(), owner: v(), district: v(), reason: v() })),
      waived: c.waived.map((w) => ({ ...w, id: v(), owner: v(), reason: v(), waiver: { ...w.waiver, id: v(), approvedBy: v() } })),
    })),
    signoff: { required: 2, of: 3, met: false, members: [v(), v()], checks: [{ source: v(), status: "bad-signature", detail: v() }], reason: v() },
    expiredWaivers: [{ id: v(), item: v(), approvedBy: v(), until: "2027-01-01" }],
    changes: { previous: v(), newlyFailing: 1, recovered: 0, sample: [v(), v()] },
  };
}

const poisonTallies = (rows: readonly Tally[], v: () => string): Tally[] => rows.map((t) => ({ ...t, id: v(), name: v() }));

/** The report's tallies with data in every name and id (as poisonResult). */
export function poisonData(d: ReportData, value: (i: number) => string): ReportData {
  let i = 1000;
  const v = () => value(i++);
  return { ...d, byDistrict: poisonTallies(d.byDistrict, v), byOperator: poisonTallies(d.byOperator, v), byOwner: poisonTallies(d.byOwner, v) };
}

const COUNTS = { "not-provisioned": 1, "not-declared": 1, "changed-on-server": 1, "never-observed": 1, unreachable: 1 } as const;

/** A drift report read back from a file: every item's text from servers and the inventory, as `value(i)`. */
export function driftWith(value: (i: number) => string): Extract<LatestDrift, { found: true }> {
  let i = 2000;
  const v = () => value(i++);
  const items: DriftItem[] = (["not-provisioned", "not-declared", "changed-on-server", "never-observed", "unreachable"] as const).map((kind) => ({
    key: v(),
    kind,
    object: v(),
    objectKind: "server",
    subject: v(),
    station: v(),
    district: v(),
    owner: v(),
    detail: v(),
  }));
  const report: DriftReport = {
    version: 1,
    id: v(),
    stack: "rehearsal",
    at: "2027-02-17T06:00:00Z",
    date: "2027-02-17",
    inventory: { dir: v(), servers: 2, links: 8 },
    provisionedFrom: v(),
    provisionedServers: 2,
    results: { file: v(), campaign: v() },
    notJudged: [v()],
    checked: 40,
    counts: COUNTS,
    waived: { ...COUNTS, unreachable: 0 },
    verdict: "drift",
    exitCode: 1,
    items,
    facts: [{ server: v(), reachable: true, at: "2027-02-17T06:00:00Z", files: 3, listening: 2, versions: { [v()]: v() } }],
    changes: { previous: { id: v(), at: "2027-02-16T06:00:00Z" }, appeared: [v()], resolved: [v()] },
  };
  return { found: true, file: v(), report, ageHours: 2 };
}

/** The i-th attack, and a plain word in the same place for the run to compare with. */
export const attack = (i: number): string => ATTACKS[i % ATTACKS.length] ?? "";
export const plain = (i: number): string => `plain${i}`;
