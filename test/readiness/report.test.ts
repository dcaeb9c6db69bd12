// The report: report.html opened in headless Chromium (a screenshot checked for
// the verdict banner's and the map's colours, the DOM for Persian text, Jalali
// dates, Persian digits, ltr-isolated ids and the search, the console for
// policy violations), summary.md bounded, junit.xml with a case per criterion
// and per failing object, results.json, and atomic writes.
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadInventory } from "../../src/model/index.ts";
import { generateNational } from "../../src/model/synthetic/national.ts";
import type { ProbeResult } from "../../src/probe/types.ts";
import { gate } from "../../src/readiness/gate.ts";
import { type Lang, writeReport } from "../../src/readiness/report/index.ts";
import { writeSyntheticResults } from "../../src/readiness/synthetic.ts";
import { fixtureCopy, resultsFor, tempDir } from "./helpers.ts";
import { findArea, findColour, readPng } from "./png.ts";
import { chromium, chromiumPage, violations } from "./report/chromium.ts";

const NOW = new Date("2027-02-17T08:00:00Z");
const RED = "#c62828";
const GREEN = "#2e7d32";
const AMBER = "#f9a825";
/** The legend inside the map has a 12 × 12 swatch of each colour. */
const LEGEND_SWATCH = 144;
/** A station alone in its cell: 7 × 7 pixels at the fixture's few stations. */
const CELL = 49;
/** The country's fill: the fixture's stations are well inside Iran, so it fills the whole view. */
const MAP_BACKGROUND = "#f3ecd9";

const down =
  (...keys: string[]) =>
  (r: ProbeResult) =>
    keys.includes(r.key) ? { ...r, status: "down" as const, detail: "no answer" } : r;

/** A report of the fixture's T-7: R-3 (mobile) down on both SIMs, R-1's fiber down (one path left). */
async function report(lang: Lang, healthy = false): Promise<string> {
  const root = await fixtureCopy();
  const edit = healthy ? undefined : down("link-icmp/R-3/R-3-M", "device-checkin/R-3/R-3-M2", "link-icmp/R-1/R-1-F");
  const results = await resultsFor(root, { now: NOW, ...(edit === undefined ? {} : { edit }) });
  const out = join(root, "report");
  await writeReport(await gate({ inventory: join(root, "inventory"), results, now: NOW, milestone: "T-7" }), out, lang);
  return out;
}

describe("report.html in headless Chromium", () => {
  it("shows a red verdict banner above a map with ready, one-path and down stations", async () => {
    const out = await report("fa");
    const png = join(out, "shot.png");
    await chromium([`--screenshot=${png}`, "--window-size=1200,2400", `file://${join(out, "report.html")}`]);
    const img = readPng(await readFile(png));
    const map = findArea(img, MAP_BACKGROUND);
    expect([map.x1 - map.x0 + 1, map.y1 - map.y0 + 1]).toEqual([758, 598]); // the map (760 × 600), whole: the country fills it inside its clipped outline
    const above = { x0: 0, y0: 0, x1: img.width - 1, y1: map.y0 - 1 };
    expect(findColour(img, RED, above).count).toBeGreaterThan(30_000); // the verdict banner, not ready
    expect(findColour(img, GREEN, above).count).toBeLessThan(2_000); // only text, no green banner
    expect(findColour(img, GREEN, map).count).toBeGreaterThanOrEqual(LEGEND_SWATCH + CELL); // R-2 and R-4: ready
    expect(findColour(img, AMBER, map).count).toBeGreaterThanOrEqual(LEGEND_SWATCH + CELL); // R-1: one path left
    expect(findColour(img, RED, map).count).toBeGreaterThanOrEqual(LEGEND_SWATCH + CELL); // R-3: down
  }, 120_000);

  it("shows a green banner when ready", async () => {
    const out = await report("fa", true);
    const png = join(out, "shot.png");
    await chromium([`--screenshot=${png}`, "--window-size=1200,2400", `file://${join(out, "report.html")}`]);
    const img = readPng(await readFile(png));
    const map = findArea(img, MAP_BACKGROUND);
    expect(findColour(img, GREEN, { x0: 0, y0: 0, x1: img.width - 1, y1: map.y0 - 1 }).count).toBeGreaterThan(30_000);
    expect(findColour(img, RED, map).count).toBe(LEGEND_SWATCH); // the legend's only
  }, 120_000);

  it("is Persian-first: rtl, Persian words and digits, Jalali dates, ids isolated left-to-right; the search filters rows", async () => {
    const out = await report("fa");
    const page = await chromiumPage(["--dump-dom", `file://${join(out, "report.html")}#q=R-3`]);
    expect(violations(page)).toEqual([]); // its own script and style run by hash: the console reports nothing blocked
    const dom = page.stdout;
    expect(dom).toMatch(/<html lang="fa" dir="rtl">/);
    expect(dom).toContain("آماده نیست");
    expect(dom).toContain("۲۹ بهمن ۱۴۰۵"); // T-7 due 1405-11-29, Persian digits
    expect(dom).toContain('<bdi dir="ltr">R-1-F</bdi>');
    expect(dom).toContain("۶۲٫۵۰٪"); // links-live 5 of 8
    const rows = [...dom.matchAll(/<tr( hidden="")?><td><bdi dir="ltr">([^<]+)<\/bdi>/g)].map((m) => [m[2], m[1] === undefined ? "shown" : "hidden"]);
    expect(rows).toContainEqual(["R-3-M", "shown"]);
    expect(rows).toContainEqual(["R-1-F", "hidden"]);
  }, 120_000);

  it("is English with --lang en", async () => {
    const out = await report("en");
    const html = await readFile(join(out, "report.html"), "utf8");
    expect(html).toMatch(/<html lang="en" dir="ltr">/);
    expect(html).toContain('<span class="big">NOT READY</span>');
    expect(html).toContain("1405-11-29 (2027-02-18)");
  });

  it("needs no network: nothing to fetch, and a policy that forbids fetching", async () => {
    const html = await readFile(join(await report("fa"), "report.html"), "utf8");
    expect(html).toMatch(
      /content="default-src 'none'; script-src 'sha256-[A-Za-z0-9+/]{43}='; style-src 'sha256-[A-Za-z0-9+/]{43}='; base-uri 'none'; form-action 'none';/,
    );
    expect(html.match(/\bsrc=/g)).toBeNull();
    // Links only within the page, to a district on the map.
    expect(html.match(/\bhref="(?!#map-)/g)).toBeNull();
    expect(html.match(/\bhref="#map-/g)?.length).toBeGreaterThan(0);
    expect(html.replaceAll('xmlns="http://www.w3.org/2000/svg"', "")).not.toMatch(/https?:\/\//);
  });
});

describe("summary.md, junit.xml, results.json", () => {
  it("writes a test case per criterion and per failing object, and the verdict as data", async () => {
    const out = await report("fa");
    const junit = await readFile(join(out, "junit.xml"), "utf8");
    expect(junit).toContain('<testcase classname="criteria" name="links-live: 62.50% (threshold 100%)"><failure message="3 not ready"/></testcase>');
    expect(junit).toContain('<testcase classname="criterion.links-live" name="R-3-M"><failure message="owner mci: live, but down: no answer"/></testcase>');
    expect(junit).toContain('<testcase classname="criteria" name="gateways-up: 100.00% (threshold 100%)"/>');
    const summary = await readFile(join(out, "summary.md"), "utf8");
    expect(summary.split("\n")[0]).toBe("## ❌ T-7: NOT READY (exit 1)");
    expect(summary).toContain("| `links-live` | 62.50% | 100% | ❌ not met | tci 1, mci 1, irancell 1 |");
    const json = JSON.parse(await readFile(join(out, "results.json"), "utf8")) as { verdict: string; stations: { stationCounts: Record<string, number> } };
    expect(json.verdict).toBe("not-ready");
    expect(json.stations.stationCounts).toEqual({ ready: 2, partial: 1, down: 1, unknown: 0 });
    expect((await readdir(out)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("keeps summary.md small however much is not ready (3,000 stations, every link down)", async () => {
    const dir = await tempDir();
    for (const [path, text] of generateNational({ stations: 3000, seed: 7 })) {
      await import("node:fs/promises").then(({ mkdir }) => mkdir(join(dir, path, ".."), { recursive: true }));
      await writeFile(join(dir, path), text);
    }
    const loaded = await loadInventory(join(dir, "inventory"));
    if (loaded.inventory === undefined) throw new Error("generated inventory does not load");
    const results = join(dir, "results.jsonl");
    writeSyntheticResults(results, loaded.inventory, { now: NOW, edit: (r) => (r.link === undefined ? r : { ...r, status: "down", detail: "no answer" }) });
    const out = join(dir, "report");
    const files = await writeReport(await gate({ inventory: join(dir, "inventory"), results, now: NOW, milestone: "T-7" }), out, "fa");
    const summary = await readFile(files.summary, "utf8");
    expect(Buffer.byteLength(summary)).toBeLessThan(32 * 1024);
    const junit = await readFile(files.junit, "utf8");
    expect(junit.match(/classname="criterion\.links-live"/g)?.length).toBeGreaterThan(5000);
  }, 60_000);
});
