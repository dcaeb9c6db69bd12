// summary.md, its drift section and junit.xml built from data that carries
// attacks (issue 14): the inventory's names, results' details, every field of
// a gate's result. Each output is read with its sink's own parser: GFM
// (micromark) must find exactly the structure a run with plain words makes,
// and every attack as text; xmllint must accept junit.xml and read each
// value back.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { visibleControls } from "../../src/lib/encode.ts";
import type { ProbeResult } from "../../src/probe/types.ts";
import { gate, type GateResult, type GateRun } from "../../src/readiness/gate.ts";
import { type ReportData, reportData } from "../../src/readiness/report/data.ts";
import { driftMarkdown } from "../../src/readiness/report/drift.ts";
import { writeReport } from "../../src/readiness/report/index.ts";
import { renderJunit } from "../../src/readiness/report/junit.ts";
import { renderMarkdown } from "../../src/readiness/report/markdown.ts";
import { ATTACKS, attack, driftWith, gfmHtmlOf, plain, poisonData, poisonResult, tagCounts, textOf, xmllint, xmlReadBack } from "../helpers/encoding.ts";
import { DISTRICT, edit, ELECTION, fixtureCopy, resultsFor } from "./helpers.ts";

const NOW = new Date("2027-02-17T08:00:00Z");

/** What the inventory's free text (names) and the results' details say in the attack run. */
const NAMES = {
  election: "# ✅ READY <img src=x onerror=alert(1)>",
  milestone: "[click](https://evil.example) ![x](https://evil.example/x.png)",
  district: "www.evil.example @amadegi/it-committee #1 *bold* `code`",
  tci: "| a | b |\n::error::READY",
  mci: "https://evil.example\r::add-mask::x mail@evil.example",
  // (The loader refuses bidi controls in the inventory: the results carry one.)
  irancell: "%0A::error::READY ##[error]x",
};
const DETAILS: Record<string, string> = {
  "link-icmp/R-3/R-3-M": "ok\n::error::READY <img src=x> [click](https://evil.example)",
  "link-icmp/R-1/R-1-F": "\u0000\u0007\u001b[31m \ufffe \ud800 \u202e ::add-mask::x &amp; ]]>",
  "device-checkin/R-3/R-3-M2": "@amadegi/it-committee #1 ``a`b`` ~~gone~~ $x$ :white_check_mark:",
};

/**
 * The readiness fixture's T-7, R-3 down on both SIMs and R-1's fiber down,
 * with the names and details above (`attacks`) or plain words in their place.
 */
async function fixtureRun(attacks: boolean): Promise<{ root: string; run: GateRun }> {
  const root = await fixtureCopy();
  const say = (text: string, i: number) => JSON.stringify(attacks ? text : `plain ${i}`);
  await edit(root, ELECTION, "name: انتخابات آزمایشی دروازه", `name: ${say(NAMES.election, 1)}`);
  await edit(root, ELECTION, "name: لینک‌ها برقرار، سرورها آماده", `name: ${say(NAMES.milestone, 2)}`);
  await edit(root, DISTRICT, "  name: ری\n  province", `  name: ${say(NAMES.district, 3)}\n  province`);
  await edit(root, "inventory/operators.yaml", "name: مخابرات", `name: ${say(NAMES.tci, 4)}`);
  await edit(root, "inventory/operators.yaml", "name: همراه اول", `name: ${say(NAMES.mci, 5)}`);
  await edit(root, "inventory/operators.yaml", "name: ایرانسل", `name: ${say(NAMES.irancell, 6)}`);
  const down = (r: ProbeResult) => {
    const detail = DETAILS[r.key];
    return detail === undefined ? r : { ...r, status: "down" as const, detail: attacks ? detail : `plain ${r.key}` };
  };
  const results = await resultsFor(root, { now: NOW, edit: down });
  return { root, run: await gate({ inventory: join(root, "inventory"), results, now: NOW, milestone: "T-7" }) };
}

describe("summary.md from an inventory and results that carry attacks", () => {
  it("renders in GFM with exactly the structure of a plain run, every attack as text", async () => {
    const made = await Promise.all(
      [false, true].map(async (attacks) => {
        const { root, run } = await fixtureRun(attacks);
        expect(run.result.verdict).toBe("not-ready");
        const files = await writeReport(run, join(root, "report"), "en");
        return { summary: await readFile(files.summary, "utf8"), junit: await readFile(files.junit, "utf8") };
      }),
    );
    const [clean, attacked] = made;
    if (clean === undefined || attacked === undefined) throw new Error("two runs");
    // No line of its own from data, no element from data.
    expect(attacked.summary.split("\n").length).toBe(clean.summary.split("\n").length);
    const html = gfmHtmlOf(attacked.summary);
    expect(tagCounts(html)).toEqual(tagCounts(gfmHtmlOf(clean.summary)));
    expect(html).not.toMatch(/<(a|img|script)[\s>]|<[^>]*\b(href|src|onerror)=/);
    const text = textOf(html);
    for (const shown of [...Object.values(NAMES), ...Object.values(DETAILS)].map(visibleControls)) expect(text).toContain(shown);
    // Unencoded, the first line would have been the attacker's heading.
    expect(gfmHtmlOf(`${NAMES.election}\n`)).toMatch(/^<h1>/);
    expect(html.split("\n")[0]).toBe("<h2>❌ T-7: NOT READY (exit 1)</h2>");
  }, 60_000);

  it("junit.xml is well-formed for xmllint and reads each detail back", async () => {
    const { root, run } = await fixtureRun(true);
    const files = await writeReport(run, join(root, "report"), "en");
    const junit = await readFile(files.junit, "utf8");
    const lint = await xmllint(junit);
    expect(lint.stderr).toBe("");
    expect(lint.code).toBe(0);
    const message = await xmllint(junit, 'string(//testcase[@classname="criterion.links-live"][@name="R-1-F"]/failure/@message)');
    expect(message.stdout).toContain(xmlReadBack(DETAILS["link-icmp/R-1/R-1-F"] ?? ""));
  }, 60_000);
});

/**
 * The HTML has the elements of `plain`'s, no more, no others. An id that holds
 * `|` is written as text, not code, in a table cell (markdownCode): a code
 * element or two fewer is the only difference allowed.
 */
function expectStructure(html: string, plain: Record<string, number>, round: string): void {
  const { code = 0, ...rest } = tagCounts(html);
  const { code: plainCode = 0, ...plainRest } = plain;
  expect(rest, round).toEqual(plainRest);
  expect(code, round).toBeLessThanOrEqual(plainCode);
  expect(code, round).toBeGreaterThanOrEqual(plainCode - 2);
}

/** The values of a result that summary.md shows (the rest are in report.html, results.json, junit.xml). */
function summaryValues(r: GateResult, data: ReportData): string[] {
  const m = r.milestone;
  return [
    r.election.name,
    m.id,
    m.name ?? "",
    ...r.reasons,
    r.results?.file ?? "",
    r.results?.campaign ?? "",
    ...r.criteria.flatMap((c) => [...Object.keys(c.byOwner), ...c.offenders.slice(0, 10).flatMap((o) => [o.id, o.owner, o.district ?? "", o.reason])]),
    ...(r.signoff?.members ?? []),
    r.signoff?.reason ?? "",
    r.changes?.previous ?? "",
    ...r.expiredWaivers.flatMap((w) => [w.id, w.item]),
    ...[...data.byDistrict, ...data.byOperator, ...data.byOwner].slice(0, 15).flatMap((t) => [t.id, t.name]),
  ].filter((v) => v !== "");
}

describe("every field of a gate's result, as data", () => {
  it("summary.md and its drift section: GFM finds the structure of plain values and each attack as text", async () => {
    const { run } = await fixtureRun(false);
    const data = reportData(run);
    const render = (value: (i: number) => string) => renderMarkdown(poisonResult(run.result, value), poisonData(data, value), driftWith(value));
    const plainMd = render(plain);
    const structure = tagCounts(gfmHtmlOf(plainMd));
    const drift = (value: (i: number) => string) => driftMarkdown(driftWith(value)).join("\n");
    const driftStructure = tagCounts(gfmHtmlOf(drift(plain)));
    // Every attack in every field: the attacks turn one place further each round.
    for (let k = 0; k < ATTACKS.length; k++) {
      const value = (i: number) => attack(i + k);
      const attackMd = render(value);
      expect(attackMd.split("\n").length).toBe(plainMd.split("\n").length);
      const html = gfmHtmlOf(attackMd);
      expectStructure(html, structure, `round ${k}`);
      const text = textOf(html);
      for (const shown of summaryValues(poisonResult(run.result, value), poisonData(data, value))) expect(text).toContain(visibleControls(shown));
      // The drift section alone, as summary.md embeds it.
      expectStructure(gfmHtmlOf(drift(value)), driftStructure, `drift, round ${k}`);
    }
  }, 60_000);

  it("junit.xml: well-formed for xmllint whatever every field holds, values read back", async () => {
    const { run } = await fixtureRun(false);
    for (let k = 0; k < ATTACKS.length; k++) {
      const poisoned = poisonResult(run.result, (i) => attack(i + k));
      const junit = renderJunit(poisoned);
      const lint = await xmllint(junit);
      expect(lint.stderr, `round ${k}`).toBe("");
      expect(lint.code).toBe(0);
      // Each offender's message, read back by position (an id may hold any quote).
      const offenders = poisoned.criteria.flatMap((c) => c.offenders);
      const got = await xmllint(
        junit,
        `concat(${offenders.map((_, j) => `//testcase[starts-with(@classname,"criterion.")][${j + 1}]/failure/@message`).join(",")},"")`,
      );
      expect(got.stdout.replace(/\n$/, ""), `round ${k}`).toBe(offenders.map((o) => xmlReadBack(`owner ${o.owner}: ${o.reason}`)).join(""));
    }
  }, 60_000);
});
