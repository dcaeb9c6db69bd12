// Each encoding against its sink's real reader: the GitHub Actions runner's
// reading of a log line (a faithful port), GFM (micromark), xmllint, and the
// OpenMetrics grammar. Fixed attack strings first, then seeded random ones.
import { describe, expect, it } from "vitest";
import {
  INERT_PREFIX,
  inertLine,
  logText,
  markdownCode,
  markdownCodeBlock,
  markdownText,
  openMetricsLabelValue,
  visibleControls,
  workflowCommand,
  workflowCommandProperty,
  workflowCommandValue,
  xmlAttr,
  xmlText,
} from "../../src/lib/encode.ts";
import {
  ATTACKS,
  commandsIn,
  dotnetTrimEnd,
  gfmHtmlOf,
  parseLabelValue,
  randomString,
  runnerCommand,
  seeded,
  tagCounts,
  textOf,
  xmllint,
  xmlReadBack,
} from "../helpers/encoding.ts";

/** Nothing a reader cannot see is left, and no line break. */
const INVISIBLE = /[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069\u2028\u2029\uFEFF\uFFFE\uFFFF]|[\uD800-\uDFFF]/u;

describe("visibleControls", () => {
  it.each([
    ["a\nb", "a\\nb"],
    ["a\r\nb", "a\\r\\nb"],
    ["\t", "\\t"],
    ["\u001b[31m", "\\u001B[31m"],
    ["\u0085\u009b", "\\u0085\\u009B"],
    ["\u202eevil", "\\u202Eevil"],
    ["\u2028", "\\u2028"],
    ["\ud800x\udfff", "\\uD800x\\uDFFF"],
    ["\ufffe\uffff", "\\uFFFE\\uFFFF"],
    ["😀 ok", "😀 ok"],
    ["نیم‌فاصله", "نیم‌فاصله"], // U+200C, which Persian needs, stays
  ])("%j → %j", (input, shown) => {
    expect(visibleControls(input)).toBe(shown);
  });
});

describe("logText and inertLine: no line the runner takes as a command", () => {
  it("shows line breaks and controls as escapes and puts a visible prefix before a command", () => {
    expect(logText("ok\n::error::READY")).toBe("ok\\n::error::READY");
    expect(logText("::error::READY")).toBe(`${INERT_PREFIX}::error::READY`);
    expect(logText("\u00a0::add-mask::x")).toBe(`${INERT_PREFIX}\u00a0::add-mask::x`);
    expect(logText("x ##[add-mask]y")).toBe("x #\\u0023[add-mask]y");
    expect(logText("\u202eevil")).toBe("\\u202Eevil");
  });

  it("the runner finds no command in an attack, alone, indented, or after text", () => {
    for (const a of ATTACKS) {
      const text = logText(a);
      expect(text).not.toMatch(INVISIBLE);
      for (const line of [text, `   ${text}`, `\t${text}`, `\u00a0${text}`, `x ${text}`])
        expect(runnerCommand(inertLine(line)), JSON.stringify(line)).toBeUndefined();
    }
  });

  it("holds for random strings made of what commands are made of", () => {
    const next = seeded(14);
    const alphabet = [
      "::",
      ":",
      "##[",
      "#",
      "[",
      "]",
      "error",
      "add-mask",
      " ",
      "\t",
      "\u00a0",
      "\u0085",
      "\u3000",
      "\ufeff",
      "\u200b",
      "\n",
      "\r",
      "%0A",
      "x",
    ];
    for (let i = 0; i < 5000; i++) {
      const s = randomString(next, alphabet);
      const text = logText(s);
      expect(text).not.toMatch(INVISIBLE);
      expect(runnerCommand(text), JSON.stringify(s)).toBeUndefined();
      expect(
        commandsIn(
          inertLine(s)
            .split(/\r\n|\r|\n/)
            .map(inertLine)
            .join("\n"),
        ),
        JSON.stringify(s),
      ).toEqual([]);
    }
  });

  it("keeps JSON the same document: `##[` inside a string reads back as `##[`", () => {
    const doc = JSON.stringify({ reason: "##[error]x ##[add-mask]y", id: "::error::z" }, null, 2);
    const guarded = doc.split("\n").map(inertLine).join("\n");
    expect(commandsIn(guarded)).toEqual([]);
    expect(JSON.parse(guarded)).toEqual({ reason: "##[error]x ##[add-mask]y", id: "::error::z" });
  });

  it("the runner port is faithful enough to find the commands the guard must stop", () => {
    expect(runnerCommand("  ::add-mask::x")).toMatchObject({ command: "add-mask", data: "x" });
    expect(runnerCommand("\u00a0::error file=a%2Cb::m%0An")).toEqual({ form: "::", command: "error", properties: { file: "a,b" }, data: "m\nn" });
    expect(runnerCommand("text ##[warning]careful")).toMatchObject({ form: "##[", command: "warning", data: "careful" });
    expect(runnerCommand("::nonsense::x")).toBeUndefined();
  });
});

describe("workflow commands: escaped exactly as @actions/core, read back by the runner", () => {
  it("escapes data and properties as escapeData and escapeProperty do", () => {
    expect(workflowCommandValue("50% late\r\nsee: a,b")).toBe("50%25 late%0D%0Asee: a,b");
    expect(workflowCommandProperty("d:1,2%\n")).toBe("d%3A1%2C2%25%0A");
    expect(workflowCommand("error", { file: "a.yaml", line: 3 }, "m")).toBe("::error file=a.yaml,line=3::m");
    expect(workflowCommand("notice", {}, "m")).toBe("::notice::m");
  });

  it("round-trips any file, title and message: one command, its own properties, the message whole", () => {
    const next = seeded(1405);
    const alphabet = [
      "%",
      "%25",
      "%0A",
      "%0D",
      "%3A",
      "%2C",
      ":",
      "::",
      ",",
      "=",
      ";",
      "]",
      "##[",
      "\r",
      "\n",
      "\r\n",
      " ",
      "file=x",
      "title=y",
      "::error::",
      "a",
      "ب",
    ];
    // A value the runner's Split('=', RemoveEmptyEntries) cannot keep: empty, or starting with '=' (not data of ours).
    const usable = (s: string) => (s === "" || s.startsWith("=") ? `f${s}` : s);
    for (let i = 0; i < 3000; i++) {
      const file = usable(randomString(next, alphabet));
      const title = usable(randomString(next, alphabet));
      const message = randomString(next, alphabet);
      const line = workflowCommand("error", { file, line: 7, col: 2, title }, message);
      expect(line).not.toMatch(/[\r\n]/);
      // The runner trims the property list: the last value (title) loses trailing white space (CR and LF are escaped by then), nothing else.
      const trimmed =
        dotnetTrimEnd(workflowCommandProperty(title)) === workflowCommandProperty(title) ? title : title.replace(/[^\r\n]+$/, (tail) => dotnetTrimEnd(tail));
      // A title of white space alone is trimmed to nothing, and the runner drops an empty property.
      expect(commandsIn(line)).toEqual([
        { form: "::", command: "error", properties: { file, line: "7", col: "2", ...(trimmed === "" ? {} : { title: trimmed }) }, data: message },
      ]);
    }
  });
});

/** The paragraph micromark makes of one line of text: its text, and whether it holds any other element. */
function rendered(markdown: string): { html: string; text: string } {
  const html = gfmHtmlOf(markdown);
  return { html, text: textOf(html).replace(/\n$/, "") };
}

const ONLY_PARAGRAPH = { ...tagCounts(""), p: 1 };

describe("markdownText: text in GFM, never structure", () => {
  it.each(ATTACKS.map((a) => [a]))("%j renders as one paragraph of exactly its text", (a) => {
    const { html, text } = rendered(markdownText(a));
    expect(tagCounts(html), html).toEqual(ONLY_PARAGRAPH);
    expect(text).toBe(visibleControls(a));
  });

  it("would have rendered the attacks as structure without it (the check can fail)", () => {
    for (const a of [
      "# ✅ READY",
      "[click](https://evil.example)",
      "![x](https://evil.example/x.png)",
      "www.evil.example",
      "https://evil.example",
      "<img src=x onerror=alert(1)>",
      "*bold*",
      "`code`",
      "- item",
      "mail@evil.example",
    ]) {
      expect(tagCounts(gfmHtmlOf(a)), a).not.toEqual(ONLY_PARAGRAPH);
    }
  });

  it("breaks GitHub's text filters with a word joiner: @mentions, #1 and GH-1 references, :emoji:", () => {
    for (const [a, pattern] of [
      ["@amadegi/it-committee", /(?:^|\W)@[a-z0-9]/i],
      ["#1", /(?:^|\W)#\d/],
      ["GH-1", /\bGH-\d/i],
      [":white_check_mark: READY", /:[a-z0-9_+-]+:/],
    ] as const) {
      const html = gfmHtmlOf(markdownText(a));
      expect(html).not.toMatch(pattern);
      expect(html).toContain("\u2060");
      expect(gfmHtmlOf(a)).toMatch(pattern); // as GitHub's filter would see it, unencoded
    }
  });

  it("stays one cell of a GFM table, and one list item's text, wherever it stands", () => {
    for (const a of ATTACKS) {
      const table = gfmHtmlOf(`| a | b |\n| --- | --- |\n| ${markdownText(a)} | ${markdownCode(a, "cell")} |\n`);
      // An id with `|` is written as text in a cell (markdownCode): no code element then.
      expect(tagCounts(table), a).toEqual({ ...tagCounts(""), table: 1, tr: 2, th: 2, td: 2, code: a.includes("|") ? 0 : 1 });
      const cells = [...table.matchAll(/<td>([^]*?)<\/td>/g)].map((m) => textOf(m[1] ?? ""));
      expect(cells, a).toEqual([visibleControls(a), visibleControls(a)]);
      const list = gfmHtmlOf(`- ${markdownText(a)}\n- next\n`);
      expect(tagCounts(list), a).toEqual({ ...tagCounts(""), ul: 1, li: 2 });
    }
  });

  it("holds for random strings of Markdown's punctuation", () => {
    const next = seeded(7);
    const alphabet = [
      ..."\\`*_~[]()<>|&$#!:@-+=.>\"' \t\n\r0123456789",
      "www.",
      "http://",
      "https://",
      "mailto:",
      "a@b.c",
      "&#64;",
      "<!--",
      "-->",
      "```",
      "~~~",
      "    ",
      "GH-",
      "x",
    ];
    for (let i = 0; i < 3000; i++) {
      const s = randomString(next, alphabet);
      if (s === "") continue;
      // Alone, so its first and last characters stand at the start and end of a line.
      const { html, text } = rendered(markdownText(s));
      expect(tagCounts(html), JSON.stringify(s)).toEqual(ONLY_PARAGRAPH);
      expect(text, JSON.stringify(s)).toBe(visibleControls(s));
    }
  });
});

describe("markdownCode and markdownCodeBlock", () => {
  it.each(ATTACKS.map((a) => [a]))("%j is one code span of exactly its text", (a) => {
    const html = gfmHtmlOf(`id ${markdownCode(a)}`);
    expect(tagCounts(html), html).toEqual({ ...tagCounts(""), p: 1, code: 1 });
    expect(textOf(html.match(/<code>([^]*)<\/code>/)?.[1] ?? "")).toBe(visibleControls(a));
  });

  it("keeps an engine's output whole in one block, whatever fences and HTML it holds", () => {
    const output = ["resource `a`", "```", "</details>", "````", "# heading", "~~~", "<img src=x>", "\tindented", "\u001b[1mbold\u001b[0m"].join("\n");
    const html = gfmHtmlOf(`<details><summary>out</summary>\n\n${markdownCodeBlock(output)}\n\n</details>\n`);
    expect(tagCounts(html)).toEqual({ ...tagCounts(""), pre: 1, code: 1, details: 1, summary: 1 });
    // eslint-disable-next-line no-control-regex -- ESC is what the block must show
    expect(textOf(html.match(/<code[^>]*>([^]*)<\/code>/)?.[1] ?? "")).toBe(`${output.replace(/\u001b/g, "\\u001B")}\n`);
  });
});

describe("xmlText and xmlAttr: xmllint reads back what was written", () => {
  it("escapes the five specials and keeps CR, LF and tab through a parser", () => {
    expect(xmlText(`<a href="x">&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
    expect(xmlAttr("a\tb\nc\rd")).toBe("a&#9;b&#10;c&#13;d");
    expect(xmlText("\u0000\ufffe\ud800")).toBe("\\u0000\\uFFFE\\uD800");
  });

  it("is well-formed for the attacks and for random strings over all of Unicode, and reads back", async () => {
    const next = seeded(2027);
    const strings = [...ATTACKS, "\u0000\u0001\u0008\u000b\u000c\u001f", "\ud800", "\udc00x\ud800", "\ud83d\ude00", "\r\n\r"];
    for (let i = 0; i < 400; i++) strings.push(randomString(next, ["<", ">", "&", '"', "'", "]]>", "\r", "\n", "\t", "&#0;", "x"], 16));
    const doc = `<?xml version="1.0" encoding="UTF-8"?>\n<r>${strings.map((s) => `<e v="${xmlAttr(s)}" w='${xmlAttr(s)}'>${xmlText(s)}</e>`).join("\n")}</r>\n`;
    const lint = await xmllint(doc);
    expect(lint.stderr).toBe("");
    expect(lint.code).toBe(0);
    // The parser's values, in batches (concat takes many arguments): attribute, other attribute, text.
    for (let from = 0; from < strings.length; from += 50) {
      const batch = strings.slice(from, from + 50);
      const parts = batch.flatMap((_, j) => [`/r/e[${from + j + 1}]/@v`, `/r/e[${from + j + 1}]/@w`, `string(/r/e[${from + j + 1}])`]);
      const got = await xmllint(doc, `concat(${parts.join(",")},"")`);
      expect(got.code).toBe(0);
      // A parser reads CR LF and a lone CR in text as written by reference; attributes too.
      expect(got.stdout.replace(/\n$/, "")).toBe(batch.map((s) => xmlReadBack(s).repeat(3)).join(""));
    }
  }, 60_000);

  it("a document with a raw control character is refused by xmllint (the check can fail)", async () => {
    expect((await xmllint('<?xml version="1.0"?><r v="\u0001"/>')).code).not.toBe(0);
  });
});

describe("openMetricsLabelValue", () => {
  it("escapes backslash, quote and newline only, and reads back; a lone surrogate becomes U+FFFD", () => {
    expect(openMetricsLabelValue('a "b"\\c\nd')).toBe('a \\"b\\"\\\\c\\nd');
    const next = seeded(3);
    for (let i = 0; i < 2000; i++) {
      const s = randomString(next, ["\\", '"', "\n", "\\n", '\\"', "}", ",", "=", "x"]);
      expect(parseLabelValue(openMetricsLabelValue(s))).toBe(s.replace(/[\uD800-\uDFFF]/gu, "\uFFFD"));
    }
  });
});
