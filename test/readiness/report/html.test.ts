// report.html against hostile input files (issue 14): the html`` tag escapes
// every interpolation for its place and refuses the places escaping cannot
// make safe; a report built by the real pipeline from an inventory, a results
// file (check-ins included), waivers, a committee file and a drift report
// whose every free-text field carries attack strings has every one of them
// escaped, a policy that runs only its own script and style by hash, and no
// event handler, style attribute or URL; the same render with every string of
// the gate's result poisoned (sign-off, history and all) too. Headless
// Chromium then proves it: no injected script runs, the report's own script
// does, the console reports no violation; and, as a control, the same strings
// put back unescaped do run under a permissive policy (so the test can see
// execution) and are blocked, and reported, under the report's own policy.
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readLatestDrift } from "../../../src/readiness/drift/index.ts";
import { gate, type GateResult } from "../../../src/readiness/gate.ts";
import { reportData } from "../../../src/readiness/report/data.ts";
import type { FoundDrift } from "../../../src/readiness/report/drift.ts";
import { renderHtml } from "../../../src/readiness/report/html.ts";
import { esc, html, Html, type Interpolation, join as joinHtml } from "../../../src/readiness/report/markup.ts";
import { writeReport } from "../../../src/readiness/report/index.ts";
import { edit, fixtureCopy, resultsFor } from "../helpers.ts";
import { chromiumPage, violations } from "./chromium.ts";

// ------------------------------------------------------------------------------------------
// The attack strings. Each that could run marks <html> (data-p-…) so a dumped DOM shows it ran.

const MARK = "document.documentElement.dataset";
const PAYLOADS = {
  script: `"><script>${MARK}.pScript=1</script>`,
  img: `<img src=x onerror=${MARK}.pImg=1>`,
  closeScript: `</script><script>${MARK}.pClose=1</script>`,
  svg: `<svg onload=${MARK}.pSvg=1 />`,
  attribute: `' onmouseover='${MARK}.pAttr=1' x='`,
  url: `javascript:${MARK}.pUrl=1`,
  template: `{{constructor.constructor('${MARK}.pTpl=1')()}}`,
  markup: `<b id="pwned-markup">`,
  window: `"><script>window.__x=1</script>`,
  separators: "\u2028\u2029",
  bidi: "\u202e",
} as const;
const P = Object.values(PAYLOADS);
/** All of them: for fields with no length limit. */
const ALL = P.join(" ");
/** The inventory's loader refuses bidi controls in its files (the results and drift files carry them). */
const NAMEABLE = P.filter((p) => p !== PAYLOADS.bidi);
/** Three of them, rotating, for a name (at most 200 characters): every payload lands in several names. */
let turn = 0;
function some(label: string): string {
  const pick = [0, 3, 7].map((k) => NAMEABLE[(turn + k) % NAMEABLE.length]).join("");
  turn++;
  return `${label} ${pick}`.slice(0, 200);
}
/** What may run: none may appear raw anywhere. */
const ACTIVE = [PAYLOADS.script, PAYLOADS.img, PAYLOADS.closeScript, PAYLOADS.svg, PAYLOADS.markup, PAYLOADS.window];
const MARKS = ["data-p-script", "data-p-img", "data-p-close", "data-p-svg"];

/** A YAML double-quoted scalar (JSON's, with the line and paragraph separators as escapes). */
const yaml = (text: string): string =>
  JSON.stringify(text)
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");

const NOW = new Date("2027-02-23T08:00:00Z"); // T-1 (due 1405-12-05 = 2027-02-24) in force; check-ins count from 2027-02-20

/** Names read back from the inventory, for the "appears escaped" checks. */
const NAMES = {
  election: some("انتخابات"),
  milestone: some("T-1"),
  district: some("ری"),
  tci: some("مخابرات"),
  irancell: some("ایرانسل"),
};

async function attackFiles(): Promise<{ root: string; results: string; drift: FoundDrift }> {
  const root = await fixtureCopy();
  await edit(root, "inventory/election.yaml", "name: انتخابات آزمایشی دروازه", `name: ${yaml(NAMES.election)}`);
  const firstMilestone = "لینک‌ها ثبت و سفارش داده شده";
  for (const m of [firstMilestone, "لینک‌ها برقرار، سرورها آماده", "تأیید روز انتخابات"])
    await edit(root, "inventory/election.yaml", `name: ${m}`, `name: ${yaml(some(m))}`);
  await edit(root, "inventory/election.yaml", "name: دستگاه‌ها متصل شده", `name: ${yaml(NAMES.milestone)}`);
  const district = "inventory/districts/rey.yaml";
  await edit(root, district, "  name: ری\n", `  name: ${yaml(NAMES.district)}\n`);
  await edit(root, district, "county: { id: rey, name: ری }", `county: { id: rey, name: ${yaml(some("ری"))} }`);
  const stationNames = ["دبستان یکم", "مسجد دوم", "شعبه سیار سوم", "هنرستان چهارم"];
  for (const s of stationNames) await edit(root, district, `name: ${s}`, `name: ${yaml(some(s))}`);
  await edit(root, "inventory/operators.yaml", "name: مخابرات", `name: ${yaml(NAMES.tci)}`);
  await edit(root, "inventory/operators.yaml", "name: همراه اول", "name: constructor");
  await edit(root, "inventory/operators.yaml", "name: ایرانسل", `name: ${yaml(NAMES.irancell)}`);
  await edit(root, "inventory/servers.yaml", "name: مرکز الف", `name: ${yaml(some("مرکز"))}`);
  await edit(root, "inventory/servers.yaml", "name: مرکز ب", `name: ${yaml(some("مرکز"))}`);
  for (const m of ["عضو یکم", "عضو دوم", "عضو سوم"]) await edit(root, "governance/committee.yaml", `name: ${m}`, `name: ${yaml(some(m))}`);
  await edit(
    root,
    "inventory/waivers.yaml",
    "waivers: []",
    [
      "waivers:",
      `  - { id: W-1, rule: redundancy.fixed-diversity, item: R-1, approvedBy: m-one, until: 1405-12-29, reason: ${yaml(NAMEABLE.join(" "))} }`,
      `  - { id: W-2, rule: redundancy.blind-spot, item: R-4-M, approvedBy: m-two, until: 1405-11-01, reason: ${yaml(some("expired"))} }`,
    ].join("\n"),
  );
  // The results file: the campaign's id, every result's origin, the failing links' check, key, address and
  // detail; a check-in's time (before the window, so its reason quotes it) and another's serial.
  const results = await resultsFor(root, {
    now: NOW,
    id: `campaign ${ALL}`,
    edit: (r) => {
      const base = { ...r, from: some("prober") };
      if (r.key === "link-icmp/R-3/R-3-M" || r.key === "link-icmp/R-1/R-1-F")
        return { ...base, key: `${r.key} ${ALL}`, check: `link-icmp ${ALL}`, address: ALL, status: "down", detail: ALL };
      if (r.key === "device-checkin/R-1/R-1-M") return { ...base, values: { ...r.values, CHECKIN_AT: `Tue, 16 Feb 2027 07:00:00 GMT (${PAYLOADS.img})` } };
      if (r.key === "device-checkin/R-2/R-2-M") return { ...base, values: { ...r.values, SERIAL: `DEV-9 ${ALL}` } };
      if (r.key === "device-checkin/R-4/R-4-M2") return { ...base, status: "down", detail: ALL };
      return base;
    },
  });
  // (The end record's time and the drift report's are strict ISO 8601 since issue 14: a time V8's lenient
  // parser would read past an attack is refused as "not a time" — test/readiness/criteria.test.ts, gate.test.ts.)
  // A drift report of the results' stack, read by the reader the gate uses.
  const driftDir = join(root, ".amadegi", "drift");
  await mkdir(driftDir, { recursive: true });
  const counts = { "not-provisioned": 1, "not-declared": 0, "changed-on-server": 1, "never-observed": 0, unreachable: 1 };
  const item = (kind: string, n: number) => ({
    key: `${kind} ${ALL}`,
    kind,
    object: `gw-a ${some("object")}`,
    objectKind: "server",
    subject: ALL,
    owner: some("owner"),
    detail: `${n} ${ALL}`,
  });
  await writeFile(
    join(driftDir, "rehearsal.json"),
    JSON.stringify({
      version: 1,
      id: `drift ${ALL}`,
      stack: "rehearsal",
      at: "2027-02-23T06:00:00Z",
      date: "2027-02-23",
      inventory: { dir: ALL, servers: 8, links: 9 },
      provisionedFrom: ALL,
      notJudged: [ALL],
      checked: 40,
      counts,
      waived: { ...counts, unreachable: 0 },
      verdict: "drift",
      exitCode: 1,
      items: [item("changed-on-server", 1), item("not-provisioned", 2), item(`unreachable ${ALL}`, 3)],
      facts: [],
    }),
  );
  const drift = await readLatestDrift(driftDir, "rehearsal", NOW);
  if (!drift.found) throw new Error(drift.reason);
  return { root, results, drift };
}

async function attackedReport(lang: "fa" | "en") {
  const { root, results, drift } = await attackFiles();
  const run = await gate({ inventory: join(root, "inventory"), results, now: NOW, milestone: "T-1" });
  const out = join(root, `report-${lang}`);
  const files = await writeReport({ ...run, drift }, out, lang);
  return { run, drift, out, file: files.html, html: await readFile(files.html, "utf8") };
}

// ------------------------------------------------------------------------------------------
// A tolerant reading of the output (the HTML tokenizer's rules for tags, attributes, raw text
// and comments), independent of html.ts's own.

interface Tag {
  readonly name: string;
  readonly attrs: readonly (readonly [string, string])[];
  /** A <script>'s or <style>'s text, exactly as written. */
  readonly raw?: string;
}

function tags(text: string): Tag[] {
  const found: Tag[] = [];
  let i = 0;
  while ((i = text.indexOf("<", i)) >= 0) {
    if (text.startsWith("<!--", i)) {
      const close = text.indexOf("-->", i + 4);
      i = close < 0 ? text.length : close + 3;
      continue;
    }
    if (/^<[!/?]/.test(text.slice(i, i + 2))) {
      i = text.indexOf(">", i) + 1 || text.length;
      continue;
    }
    if (!/[A-Za-z]/.test(text[i + 1] ?? "")) {
      i++;
      continue;
    }
    const name = /^[^\s/>]+/.exec(text.slice(i + 1))?.[0].toLowerCase() ?? "";
    i += 1 + name.length;
    const attrs: [string, string][] = [];
    for (;;) {
      while (/[\s/]/.test(text[i] ?? "")) i++;
      if (i >= text.length || text[i] === ">") break;
      const attr = /^[^\s/>][^\s/>=]*/.exec(text.slice(i))?.[0] ?? "";
      i += attr.length;
      while (/\s/.test(text[i] ?? "")) i++;
      let value = "";
      if (text[i] === "=") {
        i++;
        while (/\s/.test(text[i] ?? "")) i++;
        const quote = text[i];
        if (quote === '"' || quote === "'") {
          const close = text.indexOf(quote, i + 1);
          value = text.slice(i + 1, close < 0 ? text.length : close);
          i = close < 0 ? text.length : close + 1;
        } else {
          value = /^[^\s>]*/.exec(text.slice(i))?.[0] ?? "";
          i += value.length;
        }
      }
      attrs.push([attr.toLowerCase(), value]);
    }
    i++;
    if (name === "script" || name === "style") {
      const close = text.toLowerCase().indexOf(`</${name}`, i);
      const end = close < 0 ? text.length : close;
      found.push({ name, attrs, raw: text.slice(i, end) });
      i = end;
    } else found.push({ name, attrs });
  }
  return found;
}

const sha256 = (text: string): string => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;

function policyOf(page: string): Map<string, string[]> {
  const metas = tags(page).filter((t) => t.name === "meta" && t.attrs.some(([n, v]) => n === "http-equiv" && v.toLowerCase() === "content-security-policy"));
  expect(metas).toHaveLength(1);
  const content = metas[0]?.attrs.find(([n]) => n === "content")?.[1] ?? "";
  return new Map(
    content
      .split(";")
      .map((d) => d.trim().split(/\s+/))
      .map(([name = "", ...sources]) => [name, sources]),
  );
}

/** Everything the brief asks of a report built from hostile input. */
function expectSafe(page: string): void {
  const policy = policyOf(page);
  for (const sources of policy.values()) for (const s of sources) expect(s).not.toMatch(/unsafe-|^\*$|^data:|^https?:|^file:|^blob:|^'self'$/);
  expect(policy.get("default-src")).toEqual(["'none'"]);
  expect(policy.get("base-uri")).toEqual(["'none'"]);
  expect(policy.get("form-action")).toEqual(["'none'"]);
  expect(policy.has("img-src")).toBe(false); // default-src 'none': the page has no image but inline SVG
  const all = tags(page);
  // The CSP comes before anything it governs.
  expect(all.findIndex((t) => t.name === "meta" && t.attrs.some(([n]) => n === "http-equiv"))).toBeLessThan(
    all.findIndex((t) => t.name === "style" || t.name === "script"),
  );
  const scripts = all.filter((t) => t.name === "script");
  expect(scripts).toHaveLength(1); // ours; none from data
  for (const s of scripts) {
    expect(s.attrs).toEqual([]); // inline, no src
    expect(policy.get("script-src")).toEqual([sha256(s.raw ?? "")]);
  }
  const styles = all.filter((t) => t.name === "style");
  expect(styles).toHaveLength(1);
  expect(policy.get("style-src")).toEqual([sha256(styles[0]?.raw ?? "")]);
  const attributes = all.flatMap((t) => t.attrs.map(([n, v]) => ({ tag: t.name, n, v })));
  expect(attributes.filter((a) => a.n.startsWith("on"))).toEqual([]);
  // The one URL allowed: a link within the page to a district on the map (the # is the template's own).
  const inPage = (a: { tag: string; n: string; v: string }): boolean => a.tag === "a" && a.n === "href" && a.v.startsWith("#map-");
  expect(
    attributes.filter(
      (a) => ["style", "href", "src", "xlink:href", "action", "formaction", "srcdoc", "srcset", "background", "poster"].includes(a.n) && !inPage(a),
    ),
  ).toEqual([]);
  expect(all.filter((t) => t.name === "a").map((t) => t.attrs.map(([n]) => n))).toEqual(all.filter((t) => t.name === "a").map(() => ["class", "href"]));
  expect(attributes.filter((a) => /^\s*(javascript|data|vbscript):/i.test(a.v))).toEqual([]);
  expect(
    all
      .map((t) => t.name)
      .filter((n) => ["img", "iframe", "object", "embed", "base", "form", "link", "frame", "image", "use", "foreignobject", "animate", "set"].includes(n)),
  ).toEqual([]);
  expect(attributes.filter((a) => a.n === "id" && a.v.startsWith("pwned"))).toEqual([]);
  for (const p of ACTIVE) expect(page).not.toContain(p);
  expect(page).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/); // bidi controls are shown, not obeyed
}

// ------------------------------------------------------------------------------------------

describe("the html`` tag", () => {
  it.each([
    ["element text", (v: string) => html`<td>${v}</td>`, "<td>&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot; &#39;s&#39;</td>"],
    [
      "a double-quoted attribute",
      (v: string) => html`<input placeholder="${v}">`,
      '<input placeholder="&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot; &#39;s&#39;">',
    ],
    [
      "a single-quoted attribute",
      (v: string) => html`<i class='${v}'></i>`,
      "<i class='&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot; &#39;s&#39;'></i>",
    ],
    ["a list of strings", (v: string) => html`<p>${[v, 1]}</p>`, "<p>&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot; &#39;s&#39;1</p>"],
  ])("escapes data in %s", (_, render, expected) => {
    expect(render(`<img src=x onerror=alert(1)> & "q" 's'`).markup).toBe(expected);
  });

  it("inserts markup it made itself as it is, and nothing else", () => {
    const cell = html`<b>${"<i>"}</b>`;
    expect(html`<td>${cell}</td>`.markup).toBe("<td><b>&lt;i&gt;</b></td>");
    expect(joinHtml([cell, "<u>"], "، ").markup).toBe("<b>&lt;i&gt;</b>، &lt;u&gt;");
    // Not a look-alike: neither an object with the same shape nor one with Html's prototype.
    const forged = Object.create(Html.prototype) as Html;
    expect(Html.is(forged)).toBe(false);
    expect(html`<td>${{ markup: "<script>" } as unknown as Interpolation}</td>`.markup).toBe("<td>[object Object]</td>");
    expect(() => new Html(Symbol("html"), "<script>")).toThrow(/made by the html`` tag only/);
    // Whatever a file held where a string was expected is text.
    expect(html`<td>${42 as Interpolation}${undefined}</td>`.markup).toBe("<td>42</td>");
  });

  it.each([
    ["an unquoted attribute", (v: string) => html`<i class=${v}></i>`, /attribute class/],
    ["an event handler", (v: string) => html`<i onclick="${v}"></i>`, /attribute onclick/],
    ["a style attribute", (v: string) => html`<i style="color:${v}"></i>`, /attribute style/],
    ["a URL", (v: string) => html`<a href="${v}">x</a>`, /attribute href/],
    ["an SVG URL", (v: string) => html`<use xlink:href="${v}"/>`, /attribute xlink:href/],
    ["an attribute's name", (v: string) => html`<i ${v}></i>`, /attr-name|tag/],
    ["a tag's name", (v: string) => html`<${v}>`, /tag-name/],
    ["a script", (v: string) => html`<script>var x = "${v}";</script>`, /raw-text/],
    ["a style element", (v: string) => html`<style>i{color:${v}}</style>`, /raw-text/],
    ["a comment", (v: string) => html`<!-- ${v} -->`, /comment/],
  ])("refuses data in %s, whatever the value", (_, render, message) => {
    expect(() => render("harmless")).toThrow(message);
  });

  it("refuses markup in an attribute value", () => {
    expect(() => html`<i title="${html`<b>`}"></i>`).toThrow(/markup in an attribute/);
  });

  it("shows bidi controls instead of obeying them; leaves ZWNJ and the separators alone", () => {
    expect(esc("a\u202eb\u2066c\u200cd\u2028e")).toBe("a[U+202E]b[U+2066]c\u200cd\u2028e");
  });
});

describe("report.html from hostile input files", () => {
  it("escapes every field of every file; runs only its own script and style, by hash; has no handler, style attribute or URL", async () => {
    for (const lang of ["fa", "en"] as const) {
      const { run, html: page } = await attackedReport(lang);
      // The attacks reached the gate: the files were read, judged and the offenders named.
      expect(run.result.results?.campaign).toBe(`campaign ${ALL}`);
      expect(Number.isFinite(run.result.results?.ageHours)).toBe(true);
      expect(run.result.verdict).toBe("not-ready");
      expectSafe(page);
      // …and appear, escaped, where the report shows them.
      expect(page).toContain(`<h1>${esc(lang === "fa" ? "گزارش آمادگی" : "Readiness report")}: ${esc(NAMES.election)}</h1>`);
      expect(page).toContain(`<title>${esc(lang === "fa" ? "گزارش آمادگی" : "Readiness report")} — ${esc(NAMES.election)} — T-1</title>`);
      expect(page).toContain(` «${esc(NAMES.milestone)}»`);
      for (const name of [NAMES.tci, NAMES.irancell]) expect(page).toContain(`<td>${esc(name)} <bdi dir="ltr">`);
      expect(page).toContain(`">${esc(NAMES.district)} <bdi dir="ltr">`); // the district, linked to the map
      expect(page).toContain('<td><a class="to-map" href="#map-');
      expect(page).toContain('<td>constructor <bdi dir="ltr">mci</bdi></td>');
      expect(page).toContain(`<bdi dir="ltr">campaign ${esc(ALL)}</bdi>`); // the campaign's id
      expect(page).toContain(`down: ${esc(ALL)}</bdi>`); // a result's detail
      const checkinTime = `Tue, 16 Feb 2027 07:00:00 GMT (${PAYLOADS.img})`.slice(0, 40);
      expect(page).toContain(`check-in time ${esc(JSON.stringify(checkinTime))} is not a time`); // a check-in's time
      expect(page).toContain(`<bdi dir="ltr">device DEV-9 ${esc(ALL)} checked in over R-2-M`); // a check-in's serial
      expect(page).toContain(`<bdi dir="ltr">drift ${esc(ALL)}</bdi>`); // the drift report's id
      expect(page).toContain(`<tr class="drift-unreachable ${esc(ALL)}">`); // an item's kind, in a quoted class
      expect(page).toContain(`<td><bdi dir="ltr">3 ${esc(ALL)}</bdi></td>`); // an item's detail
      expect(page).toContain('<tr class="waived"><td><bdi dir="ltr">R-1</bdi>'); // the waiver applied (its reason is not shown)
      expect(page).toContain('<bdi dir="ltr">W-2</bdi> — <bdi dir="ltr">R-4-M</bdi>'); // the expired waiver
      expect(page).toContain(esc(PAYLOADS.window));
      expect(page).toContain("{{constructor.constructor(&#39;");
      expect(page).toContain("[U+202E]");
    }
  }, 120_000);

  it("escapes every string of the gate's result and the report's tallies, sign-off, history and drift included", async () => {
    const { run, drift } = await attackedReport("fa");
    const data = reportData(run);
    const signoff = {
      required: 2,
      of: 3,
      met: false,
      members: ["m-one"],
      reason: "r",
      checks: [
        { source: "approvals/x.txt", status: "malformed", detail: "d" },
        { source: "approvals/y.txt", status: "valid", member: "m-two", detail: "ok" },
      ],
    };
    const result = {
      ...run.result,
      reasons: ["why"],
      signoff,
      changes: { previous: "c-0", newlyFailing: 1, recovered: 0, sample: ["link-icmp/R-3/R-3-M"] },
      trend: [
        { at: "2027-02-22T08:00:00Z", verdict: "ready", score: 100 },
        { at: "2027-02-23T08:00:00Z", verdict: "not-ready" },
      ],
      criteria: run.result.criteria.map((c) => ({ ...c, byOwner: Object.fromEntries(Object.entries(c.byOwner).map(([k, v]) => [poison(k), v])) })),
    };
    const poisoned = poison(result) as GateResult;
    const tallies = { ...data, byDistrict: poison(data.byDistrict), byOperator: poison(data.byOperator), byOwner: poison(data.byOwner) } as typeof data;
    const page = renderHtml(poisoned, tallies, "en", poison(drift) as FoundDrift);
    expectSafe(page);
    // Every string was shown, escaped, or not at all: count the escaped attack against the strings poisoned.
    expect(page.split(esc(PAYLOADS.img)).length - 1).toBeGreaterThan(100);
    expect(page).toContain(`<p id="signoff">1 of 2 approvals (3): <bdi dir="ltr">m-one ${esc(ALL)}</bdi> — <bdi dir="ltr">r ${esc(ALL)}</bdi></p>`);
    expect(page).toContain(`<li><bdi dir="ltr">malformed ${esc(ALL)}: d ${esc(ALL)}</bdi></li>`);
    expect(page).toContain(`<li><bdi dir="ltr">link-icmp/R-3/R-3-M ${esc(ALL)}</bdi></li>`);
    // A poisoned time is not a time: the trend counts the runs it cannot place instead of drawing them.
    expect(page).toContain('<p class="unplaced">runs not shown, their time is not a time: 2</p>');
  }, 60_000);
});

/** Every string, deep, with all the attacks after it (the time zone stays one: the loader checked it). */
function poison(value: unknown, key = ""): unknown {
  if (typeof value === "string") return key === "timeZone" ? value : `${value} ${ALL}`;
  if (Array.isArray(value)) return value.map((v) => poison(v));
  if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, poison(v, k)]));
  return value;
}

// ------------------------------------------------------------------------------------------

/** The report with the attacks put back unescaped where the data was, under a given policy. */
function unescaped(page: string, policy?: string): string {
  let out = page;
  for (const p of ACTIVE) {
    expect(out).toContain(esc(p));
    out = out.replaceAll(esc(p), p);
  }
  return policy === undefined
    ? out
    : out.replace(/<meta http-equiv="Content-Security-Policy" content="[^"]*">/, `<meta http-equiv="Content-Security-Policy" content="${policy}">`);
}

const htmlTag = (dom: string): string => /<html[^>]*>/.exec(dom)?.[0] ?? "";
/** The search ran: the count it writes is in ASCII digits (the page's own are Persian), and it hid rows. */
const searched = (dom: string): boolean => /<span id="shown">[0-9]+<\/span>/.test(dom) && dom.includes('<tr hidden="">');

describe("report.html from hostile input files, in headless Chromium", () => {
  it("runs no injected script and shows no injected element; runs its own search; the console reports no violation", async () => {
    const { file } = await attackedReport("fa");
    const page = await chromiumPage(["--dump-dom", `file://${file}#q=R-3-M`]);
    expect(page.stdout).toContain("</html>");
    expect(htmlTag(page.stdout)).toBe('<html lang="fa" dir="rtl">');
    // The serializer writes text's "<" as &lt;: a raw "<b id=…" is an element.
    expect(page.stdout).not.toMatch(/<b id="pwned-markup"|<img|<svg onload/);
    expect(searched(page.stdout)).toBe(true);
    expect(violations(page)).toEqual([]);
  }, 120_000);

  it("control: the same strings unescaped run under a permissive policy, and are blocked (and reported) under the report's own", async () => {
    const { out, html: page } = await attackedReport("fa");
    const open = join(out, "unescaped-permissive.html");
    await writeFile(open, unescaped(page, "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"));
    const ran = await chromiumPage(["--dump-dom", `file://${open}#q=R-3-M`]);
    for (const mark of MARKS) expect(htmlTag(ran.stdout)).toContain(`${mark}="1"`); // each kind of payload can be seen running
    expect(ran.stdout).toContain('<b id="pwned-markup">');

    const strict = join(out, "unescaped-strict.html");
    await writeFile(strict, unescaped(page));
    const blocked = await chromiumPage(["--dump-dom", `file://${strict}#q=R-3-M`]);
    expect(htmlTag(blocked.stdout)).not.toMatch(/data-p-/);
    expect(searched(blocked.stdout)).toBe(true); // the hashed script still runs
    expect(violations(blocked).length).toBeGreaterThan(0); // and the console says what it blocked
    expect(violations(blocked).join("\n")).toMatch(/Executing inline (script|event handler) violates/);
  }, 180_000);
});
