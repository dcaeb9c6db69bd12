/**
 * How text from data (the inventory's names, ids and reasons, the check
 * catalog, results files' details, check-in records, what a server answered)
 * is written into each kind of output, so that it is shown as text there and
 * never read as that output's structure: a Markdown heading or link, a GitHub
 * Actions workflow command, an XML tag or a character XML cannot carry, an
 * OpenMetrics label that ends early. One function per sink; each sink's
 * renderer calls it on every piece of data it writes, and the tests parse the
 * output with the sink's own parser (docs/security.md).
 *
 * report.html has its own escaping (src/readiness/report/html.ts).
 */

/** U+2060 WORD JOINER: invisible, and breaks GitHub's text filters (mentions, references, emoji). */
const WJ = "\u2060";

const NAMED: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * Characters a reader cannot see or that move what they see: C0 and C1
 * controls (line breaks, ESC of terminal sequences, CSI), the bidi controls
 * (Trojan Source: U+202E turns the rest of a line around), line and paragraph
 * separators, the byte-order mark, the noncharacters U+FFFE and U+FFFF, and
 * lone surrogates (no encoding can carry them). With the `u` flag a class of
 * surrogates matches only unpaired ones: a pair is one code point above U+FFFF.
 */
const INVISIBLE = /[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069\u2028\u2029\uFEFF\uFFFE\uFFFF]|[\uD800-\uDFFF]/gu;

/** `\uXXXX`, the notation of JSON and JavaScript, which every reader of these outputs knows. */
const codeUnit = (c: string): string => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`;

/**
 * Every invisible or reordering character as a visible escape: `\n`, `\r`,
 * `\t`, else `\uXXXX`. A backslash already in the text is kept as it is (paths
 * and reasons stay readable), so `\n` in the output may also have been those
 * two characters: an escape is shown, never undone. Letters of any script,
 * and U+200C/U+200D (Persian writing needs them), are left alone.
 */
export function visibleControls(text: string): string {
  return text.replace(INVISIBLE, (c) => NAMED[c] ?? codeUnit(c));
}

// --- GitHub Actions' log and the terminal ---------------------------------

/**
 * What the runner skips before a `::` (its TrimStart skips .NET white space),
 * widened to every space, control and format character, so nothing invisible
 * can stand in front of a command.
 */
const COMMAND_START = /^[\s\p{Z}\p{Cc}\p{Cf}]*::/u;

/** Put before a line that would be a workflow command: visible, and not white space, so the runner's trim keeps it. */
export const INERT_PREFIX = "[inert] ";

/**
 * A line that the Actions runner will not take as a workflow command. The
 * runner reads a command from a line whose start, after white space, is `::`
 * (`::error::`, `::add-mask::x` hides x from every later line of the log,
 * `::stop-commands::` turns our own annotations off), and from `##[name]`
 * anywhere in a line (the old form, still parsed). A line starting with `::`
 * gets INERT_PREFIX: indenting it would not help, the runner trims. `##[`
 * becomes `#\u0023[`: visible in text, and inside a JSON string the same
 * `##[` again, so `--json` output stays the same document.
 */
export function inertLine(line: string): string {
  const text = line.replaceAll("##[", "#\\u0023[");
  return COMMAND_START.test(text) ? `${INERT_PREFIX}${text}` : text;
}

/**
 * Text for one line of the terminal or the CI log: line breaks and every
 * other invisible character shown as escapes (so data never starts a line of
 * its own, moves the cursor or colours the terminal), and never a workflow
 * command, even when it ends up at the start of a line.
 */
export function logText(text: string): string {
  return inertLine(visibleControls(text));
}

/**
 * A workflow command that amadegi means to emit (an annotation): only
 * `workflowCommand` makes one, and the CLI's Io writes only these past its
 * guard (src/cli/command.ts).
 */
export type WorkflowCommand = string & { readonly __workflowCommand: true };

/** A command's message: exactly @actions/core's escapeData, which the runner undoes. */
export function workflowCommandValue(text: string): string {
  return text.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

/**
 * A property's value: exactly @actions/core's escapeProperty (also `:` and
 * `,`, which would end it). The runner trims white space around the list of
 * properties, so the last value loses trailing spaces (not CR or LF, which
 * are escaped by then), as it does for the toolkit's commands: cosmetic.
 */
export function workflowCommandProperty(text: string): string {
  return workflowCommandValue(text).replace(/:/g, "%3A").replace(/,/g, "%2C");
}

export type AnnotationLevel = "error" | "warning" | "notice";
export type AnnotationProperty = "file" | "line" | "endLine" | "col" | "endColumn" | "title";

/** `::error file=…,line=…,title=…::message`, every value escaped: one line whatever the data holds. */
export function workflowCommand(
  level: AnnotationLevel,
  properties: Readonly<Partial<Record<AnnotationProperty, string | number>>>,
  message: string,
): WorkflowCommand {
  const props = Object.entries(properties)
    .map(([key, value]) => `${key}=${workflowCommandProperty(String(value))}`)
    .join(",");
  return `::${level}${props === "" ? "" : ` ${props}`}::${workflowCommandValue(message)}` as WorkflowCommand;
}

// --- Markdown (GitHub Flavored, as the job summary and comments render it) --

/**
 * Inline Markdown text that renders as exactly the text given (but for
 * invisible characters, shown as escapes, and word joiners) and can form
 * nothing: no heading, list, quote, thematic break or table row, no code,
 * emphasis, strikethrough or math, no link, image, autolink (`<…>`, and GFM's
 * bare `www.`, `http://` and e-mail addresses), entity or HTML, no table cell
 * break, and none of GitHub's filters on the rendered text: @mentions (a
 * team's would be notified), `#1` and `GH-1` references, `:emoji:`. How:
 * CommonMark's backslash escapes for the punctuation that can open or close
 * something; at the start, the markers that only count there; a word joiner
 * after `@`, `#` and `:`, which GitHub's filters would otherwise still match
 * in the rendered text; leading and trailing spaces as `&#32;` (indentation
 * would make code). Line breaks never survive (visibleControls). Use it
 * anywhere in a line, in a table cell too; not inside raw HTML.
 */
export function markdownText(text: string): string {
  return visibleControls(text)
    .replace(/[\\`*_~[\]<>|&$#!:@]/g, (c) => `\\${c}${c === "@" || c === "#" || c === ":" ? WJ : ""}`)
    .replace(/(www)\./gi, "$1\\.")
    .replace(/\b(gh)-(?=\d)/gi, `$1${WJ}-`)
    .replace(/^(\d{1,9})([.)])/, "$1\\$2")
    .replace(/^[-+=]/, "\\$&")
    .replace(/^ +| +$/g, (spaces) => "&#32;".repeat(spaces.length));
}

/** The shortest run of backticks that does not occur in the text. */
function fenceFor(text: string): string {
  const runs = new Set((text.match(/`+/g) ?? []).map((run) => run.length));
  let n = 1;
  while (runs.has(n)) n++;
  return "`".repeat(n);
}

/**
 * Inline code (monospace, for ids and file names): nothing inside a code span
 * is Markdown, and GitHub's mention and reference filters skip it. The fence
 * is a run of backticks the text does not hold, so the text cannot close it.
 * In a table cell (`where: "cell"`) a text with `|` is written as
 * markdownText instead (not monospace). Never at the start of a line: a fence
 * of three backticks there would open a code block.
 */
export function markdownCode(text: string, where: "inline" | "cell" = "inline"): string {
  const shown = visibleControls(text);
  if (shown === "") return "";
  // A table splits its row before it reads code spans, taking `\\` and `\|` as escapes: in a code
  // span, where a backslash is literal, no escaping shows both `\` and `|` right. Ids never hold `|`.
  if (where === "cell" && shown.includes("|")) return markdownText(text);
  const fence = fenceFor(shown);
  // A code span loses one space at each end when it has both, and a backtick at an end would join the fence.
  const pad = /^`|`$/.test(shown) || /^ [^]*[^ ][^]* $/.test(shown) ? " " : "";
  return `${fence}${pad}${shown}${pad}${fence}`;
}

/**
 * A fenced code block for text of many lines (an engine's output): lines
 * kept, every other invisible character shown, and a fence longer than any
 * run of backticks inside, so no line of the text can close it.
 */
export function markdownCodeBlock(text: string, info = "text"): string {
  // Tabs stay tabs: inside a code block they only indent.
  const body = text
    .split(/\r\n|\n/)
    .map((line) => line.split("\t").map(visibleControls).join("\t"))
    .join("\n");
  const fence = "`".repeat(Math.max(3, ...(body.match(/`+/g) ?? []).map((run) => run.length + 1)));
  return `${fence}${info}\n${body}\n${fence}`;
}

// --- XML (junit.xml) ---------------------------------------------------------

/** Characters XML 1.0 cannot carry even as references: C0 controls but tab, LF, CR; U+FFFE, U+FFFF; lone surrogates. */
// eslint-disable-next-line no-control-regex -- finding these control characters is its job
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDFFF]/gu;

const XML_ENTITY: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
  "\r": "&#13;",
  "\t": "&#9;",
  "\n": "&#10;",
};

/**
 * Character data of an element: `& < > " '` as entities, CR as `&#13;` (a
 * parser would turn it into LF), and what XML 1.0 cannot carry shown as
 * `\uXXXX`, so the file stays well-formed and a reader sees that something
 * was there.
 */
export function xmlText(text: string): string {
  return text.replace(NOT_XML, codeUnit).replace(/[&<>"'\r]/g, (c) => XML_ENTITY[c] ?? c);
}

/** An attribute value (in double or single quotes): as xmlText, and tab and LF as references, which a parser would otherwise turn into spaces. */
export function xmlAttr(text: string): string {
  return text.replace(NOT_XML, codeUnit).replace(/[&<>"'\r\n\t]/g, (c) => XML_ENTITY[c] ?? c);
}

// --- OpenMetrics ------------------------------------------------------------

/**
 * A label value, between double quotes: the OpenMetrics escapes `\\`, `\"`
 * and `\n`, nothing else (the spec has no others). A lone surrogate cannot be
 * written as UTF-8: it becomes U+FFFD here rather than wherever the bytes are
 * written.
 */
export function openMetricsLabelValue(text: string): string {
  return text.replace(/[\\"\n]|[\uD800-\uDFFF]/gu, (c) => (c === "\\" ? "\\\\" : c === '"' ? '\\"' : c === "\n" ? "\\n" : "\uFFFD"));
}

/**
 * One Alertmanager matcher, `name="value"`, the value between double quotes
 * with Alertmanager's escapes (`\\`, `\"`, `\n`): a value from data matches
 * itself and never ends the quotes. `name` is the caller's own label name.
 */
export function alertmanagerMatcher(name: string, value: string): string {
  return `${name}="${value.replace(/[\\"\n]/g, (c) => (c === "\\" ? "\\\\" : c === '"' ? '\\"' : "\\n"))}"`;
}
