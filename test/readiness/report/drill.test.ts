// A drill's page (src/readiness/report/drill.ts): its structure from a realistic report (an
// operator outage in the Pakdasht sample), hostile strings from the report kept inert, where it
// is written, and the page as Chromium renders it (test/helpers/browser.ts): the timeline's
// marks in order along its axis, the map drawn, no Content-Security-Policy violation.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Inventory } from "../../../src/model/index.ts";
import { emptyCounts } from "../../../src/probe/summary.ts";
import { drillMapInput, drillPagePath, renderDrillHtml, writeDrillPage } from "../../../src/readiness/report/drill.ts";
import { esc } from "../../../src/readiness/report/markup.ts";
import type { DrillReport } from "../../../src/rehearsal/drill/report.ts";
import { openPage } from "../../helpers/browser.ts";
import { pakdashtModel } from "../../rehearsal/fixture.ts";

const FAULT = Date.parse("2026-06-01T08:00:00.000Z");
const iso = (ms: number): string => new Date(FAULT + ms).toISOString();

let root = "";
let inventory: Inventory;

beforeAll(async () => {
  ({ root, inventory } = await pakdashtModel());
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/**
 * An operator outage of tci in Pakdasht as runDrill reports it: every tci link dropped, the
 * outage attributed to the operator, twelve stations watched (nine failed over to another
 * operator's link, two lost every path, one not measured), Alertmanager told within its goal,
 * restored whole.
 */
function drillReport(inv: Inventory, dir = "/var/lib/amadegi/rehearsal/drills"): DrillReport {
  const tci = inv.stations.flatMap((s) => s.links.filter((l) => l.operator === "tci").map((l) => l.id));
  const watched = inv.stations.filter((s) => s.links.some((l) => l.operator === "tci")).slice(0, 12);
  const outcomes: DrillReport["stations"]["outcomes"] = watched.map((s, i) => {
    const backup = s.links.find((l) => l.operator !== "tci")?.id ?? "?";
    if (i < 9)
      return { station: s.id, state: "failed-over", failoverMs: 11_000 + i * 1_500, noticedMs: 4_000 + i * 500, via: { link: backup, gateway: "gw-teh1-02" } };
    if (i < 11) return { station: s.id, state: "lost-every-path", noticedMs: 5_200, why: "the fault took every link it has" };
    return { station: s.id, state: "not-measured", why: "its device had not checked in before the fault" };
  });
  const campaign = (id: string, at: number, elapsedMs: number) => ({
    file: `${dir}/x/${id}.jsonl`,
    id,
    startedAt: iso(at),
    elapsedMs,
    targets: 1_208,
    counts: emptyCounts(),
    valid: true,
  });
  const expectedAlerts = [
    { alertname: "AmadegiOperatorOutage", id: "tci", receiver: "tci", notifiedMs: 95_000, resolvedMs: 38_000 },
    { alertname: "AmadegiStationUnreachable", id: watched[9]?.id ?? "?", receiver: "it-committee", notifiedMs: 88_000, resolvedMs: 40_000 },
  ];
  const id = "2026-06-01T08-00-00Z-operator-outage";
  return {
    version: 1,
    id,
    scenario: "operator-outage",
    description: `every link of operator tci stops answering (${tci.length} links)`,
    notes: [],
    stack: "rehearsal",
    district: "pakdasht",
    target: "tci",
    startedAt: iso(-45_000),
    faultAt: iso(0),
    restoredAt: iso(140_000),
    finishedAt: iso(190_000),
    injected: {
      faults: [{ object: { kind: "operator", id: "tci" }, cause: "path-lost", links: tci }],
      actions: [{ kind: "drop", ns: "amadegi-r-op-tci", operator: "tci", addresses: tci.length }],
      links: tci.length,
      stations: watched.length,
    },
    campaigns: { baseline: campaign("baseline", -30_000, 21_000), during: campaign("during", 2_000, 18_500), verify: campaign("verify", 141_000, 20_000) },
    attribution: {
      attributions: [
        {
          object: { kind: "operator", id: "tci" },
          cause: "path-lost",
          links: tci,
          evidence: tci.map((l) => `icmp ${l}`),
          firstAt: iso(3_100),
          lastAt: iso(17_400),
        },
      ],
      observableLinks: 560,
      lostLinks: tci.length,
      failingServers: [],
      qualityOnly: 2,
      standing: 1,
      unknown: 0,
      contradicted: [],
    },
    comparison: {
      items: [
        {
          expected: { object: { kind: "operator", id: "tci" }, cause: "path-lost", links: tci },
          outcome: "attributed",
          linksLost: tci.length,
          linksMissed: [],
          attributedAs: [{ object: { kind: "operator", id: "tci" }, cause: "path-lost" }],
          firstAt: iso(3_100),
          detectedAt: iso(17_400),
        },
      ],
      counts: { injected: 1, detected: 1, attributed: 1, misattributed: 0, partly: 0, missed: 0, falseAlarms: 0 },
      falseAlarms: [],
      complete: true,
    },
    detection: { timeToDetectionMs: 17_400, firstSignalMs: 3_100 },
    stations: {
      devicesRunning: true,
      windowMs: 30_000,
      affected: outcomes.length,
      failedOver: 9,
      lostEveryPath: outcomes.filter((o) => o.state === "lost-every-path").map((o) => o.station),
      pending: [],
      notMeasured: 1,
      failover: { count: 9, minMs: 11_000, medianMs: 17_000, maxMs: 23_000 },
      noticed: { count: 11, minMs: 4_000, medianMs: 5_200, maxMs: 8_000 },
      recorded: { count: 9, minMs: 11_800, medianMs: 17_600, maxMs: 23_900 },
      outcomes,
    },
    checkins: { records: 4_210, failures: [] },
    restore: { whole: true, leftovers: [], elapsedMs: 3_200, verified: "the verify campaign: every link healthy in the baseline answers again" },
    notifications: {
      measured: true,
      timing: {
        name: "rehearsal",
        scrapeInterval: 5,
        evaluationInterval: 5,
        linkFor: { fiber: 30 },
        causeFor: 30,
        stationFor: 60,
        groupWait: 10,
        groupInterval: 30,
        keepFiringFor: 0,
      },
      file: `${dir}/x/notifications.jsonl`,
      boundMs: 120_000,
      outcome: {
        expected: expectedAlerts,
        unexpected: [],
        misrouted: [],
        distinct: 2,
        posts: 3,
        timeToNotificationMs: 95_000,
        timeToResolutionMs: 40_000,
        complete: true,
      },
    },
    verdict: "detected-and-attributed",
    exitCode: 0,
    file: `${dir}/${id}.json`,
  };
}

/** The ids of the timeline's marks, in the order the markup has them. */
const marks = (page: string): string[] => [...page.matchAll(/<g id="tl-([a-z]+)"/g)].map((m) => m[1] ?? "");

describe("a drill's page", () => {
  it("shows the verdict, the timeline from the fault to the restore, the attribution, each station's failover, the notifications and the map", () => {
    const r = drillReport(inventory);
    const page = renderDrillHtml(r, "fa", { map: drillMapInput(r, inventory) });
    expect(page).toMatch(/<html lang="fa" dir="rtl">/);
    expect(page).toContain('http-equiv="Content-Security-Policy"');
    expect(page).toMatch(/<section id="drill-verdict" class="verdict verdict-detected-and-attributed">\s*<span class="big">تشخیص و انتساب درست<\/span>/);
    // The timeline: every mark measured, in time order, the goal beside the notification.
    expect(marks(page)).toEqual(["fault", "campaign", "signal", "detection", "noticed", "failover", "recorded", "notification", "goal", "restore", "resolved"]);
    expect(page).toContain("<title>تشخیص کامل: ۱۷٫۴ ثانیه\n");
    expect(page).toContain("<title>سوئیچ به مسیر پشتیبان: میانه ۱۷٫۰ ثانیه (۱۱٫۰ ثانیه–۲۳٫۰ ثانیه، ۹ شعبه)</title>");
    expect(page).toContain("<title>اعلان: ۹۵٫۰ ثانیه (هدف ۱۲۰٫۰ ثانیه)</title>");
    // Attribution: the operator, its cause, attributed, all its links seen lost.
    const attribution = page.slice(page.indexOf('<table id="attribution">'), page.indexOf("</table>", page.indexOf('<table id="attribution">')));
    expect(attribution).toContain(`<td>اپراتور <bdi dir="ltr">operator tci</bdi></td><td>قطع مسیر</td><td class="good">درست</td>`);
    expect(attribution).toMatch(new RegExp(`<td class="n">([۰-۹]+) / \\1</td>`));
    expect(r.injected.links).toBeGreaterThan(100);
    // Stations: one row each, ids left-to-right.
    const outcomes = page.slice(page.indexOf('<table id="station-outcomes">'), page.indexOf("</table>", page.indexOf('<table id="station-outcomes">')));
    expect(outcomes.split("<tr>").length - 2).toBe(12);
    const first = r.stations.outcomes[0];
    expect(outcomes).toContain(`<td><bdi dir="ltr">${first?.station}</bdi></td><td class="good">سوئیچ کرد</td>`);
    expect(outcomes).toContain(`<bdi dir="ltr">${first?.via?.link} → gw-teh1-02</bdi>`);
    expect(page).toMatch(/<p id="station-summary">تحت تأثیر: ۱۲ — سوئیچ کرد: ۹ — همه مسیرها قطع: ۲ — نامشخص: ۰ — اندازه‌گیری نشد: ۱<\/p>/);
    // Notifications and restore.
    expect(page).toMatch(/<p id="notifications">اعلان‌شده: ۲ \/ ۲ — رفع‌شده: ۲ \/ ۲/);
    expect(page).toMatch(/<p id="restore"><span class="good">کامل<\/span> — ۳٫۲ ثانیه/);
    // The map: the district's stations, two down, nine on their backup, one not observed, the rest untouched.
    expect(page).toContain('<svg id="map" class="map"');
    expect(page).toContain("قطع: ۲");
    expect(page).toContain("یک مسیر: ۹");
    expect(page).toContain("نامعلوم: ۱");
    expect(page).toContain(`آماده: ${(inventory.stations.length - 12).toString().replace(/\d/g, (d) => "۰۱۲۳۴۵۶۷۸۹"[Number(d)] ?? d)}`);
  });

  it("in English: the same page with English words and ASCII digits", () => {
    const r = drillReport(inventory);
    const page = renderDrillHtml(r, "en");
    expect(page).toMatch(/<html lang="en" dir="ltr">/);
    expect(page).toContain("<title>detected: 17.4 s\n");
    expect(page).toContain("<title>failover to a backup path: median 17.0 s (11.0 s–23.0 s, 9 stations)</title>");
    expect(page).not.toMatch(/[۰-۹]/);
    expect(page).not.toContain('<svg id="map"'); // no stations given, no map
  });

  it("what was not measured has no mark and says so; a fault not restored and a false alarm are shown as such", () => {
    const base = drillReport(inventory);
    const r: DrillReport = {
      ...base,
      verdict: "not-restored",
      exitCode: 2,
      detection: {},
      stations: { ...base.stations, devicesRunning: false, failover: { count: 0 }, noticed: { count: 0 }, recorded: { count: 0 } },
      notifications: { measured: false, why: "the inventory has no monitor server" },
      restore: { ...base.restore, whole: false, leftovers: ["nft table inet amadegi-drill in amadegi-r-op-tci"] },
      comparison: {
        ...base.comparison,
        falseAlarms: [
          {
            object: { kind: "server", id: "dns-1" },
            cause: "service-down",
            links: [],
            evidence: ["dns-answers dns-1"],
            firstAt: iso(9_000),
            lastAt: iso(9_000),
          },
        ],
      },
    };
    const page = renderDrillHtml(r, "en");
    expect(marks(page)).toEqual(["fault", "campaign", "restore"]);
    expect(page).toContain("<title>detected: not measured</title>");
    expect(page).toContain("<title>notification: not measured: the inventory has no monitor server</title>");
    expect(page).toContain('class="verdict verdict-not-restored"');
    expect(page).toContain('<span class="bad">NOT WHOLE</span>');
    expect(page).toContain('<li>left behind: <bdi dir="ltr">nft table inet amadegi-drill in amadegi-r-op-tci</bdi></li>');
    expect(page).toContain('<td class="bad">false alarm</td><td>—</td><td>server <bdi dir="ltr">server dns-1</bdi> (service down)');
    expect(page).toContain("(the device responders were not running)");
  });

  it("keeps every string of the report inert text: markup, quotes and bidi controls from a name or id", () => {
    const evil = {
      script: "<script>alert(1)</script>",
      attr: '"><img src=x onerror=alert(2)>',
      bidi: "PKD-\u202E0001-F",
    };
    const base = drillReport(inventory);
    const [o0, o1] = base.stations.outcomes;
    const r: DrillReport = {
      ...base,
      id: evil.script,
      description: evil.attr,
      notes: [evil.bidi, evil.script],
      target: evil.attr,
      verdict: evil.attr as DrillReport["verdict"],
      stations: {
        ...base.stations,
        outcomes: [
          { ...(o0 ?? { state: "failed-over" }), station: evil.script, via: { link: evil.bidi, gateway: evil.attr } },
          { ...(o1 ?? { state: "lost-every-path" }), station: evil.attr, state: evil.script as "pending", why: evil.bidi },
        ],
      },
      comparison: {
        ...base.comparison,
        items: base.comparison.items.map((i) => ({ ...i, expected: { ...i.expected, object: { kind: "operator" as const, id: evil.script } } })),
      },
      restore: { ...base.restore, verified: evil.bidi, leftovers: [evil.attr] },
      file: `/tmp/${evil.attr}.json`,
    };
    const page = renderDrillHtml(r, "fa", { map: drillMapInput(r, inventory) });
    expect(page).not.toContain("<script");
    expect(page).not.toContain("<img");
    expect(page).not.toContain("\u202E");
    expect(page).toContain(esc(evil.script));
    expect(page).toContain(esc(evil.attr));
    expect(page).toContain("PKD-[U+202E]0001-F");
    // An unknown verdict names no class of its own and is shown as written.
    expect(page).toContain('class="verdict verdict-unknown"');
    expect(page).toContain(`<span class="big"><bdi dir="ltr">${esc(evil.attr)}</bdi></span>`);
  });

  it("an affected station outside the drill's district is on the map; a station elsewhere the fault did not touch is not", () => {
    const r = drillReport(inventory);
    const elsewhere = { ...inventory.stations[0], id: "THR-0001", district: "tehran" } as Inventory["stations"][number];
    const untouched = { ...inventory.stations[1], id: "THR-0002", district: "tehran" } as Inventory["stations"][number];
    const outcomes = [...r.stations.outcomes, { station: "THR-0001", state: "pending" as const }];
    const input = drillMapInput(
      { ...r, stations: { ...r.stations, outcomes } },
      { stations: [...inventory.stations, elsewhere, untouched], districts: inventory.districts },
    );
    const counts = { ready: 0, partial: 0, down: 0, unknown: 0 };
    for (const p of input.points) counts[p.status]++;
    expect(counts).toEqual({ ready: inventory.stations.length - 12, partial: 9, down: 2, unknown: 2 });
    expect(input.points.filter((p) => p.district === "tehran")).toHaveLength(1);
    expect(input.districts.map((d) => d.id)).toEqual(["pakdasht"]);
  });

  it("is written beside the drill's JSON, .html for .json", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-t-drill-page-"));
    try {
      const r = drillReport(inventory, dir);
      await writeFile(r.file, JSON.stringify(r));
      const file = await writeDrillPage(r, "fa");
      expect(file).toBe(join(dir, `${r.id}.html`));
      expect(drillPagePath("/x/a.json")).toBe("/x/a.html");
      expect(await readFile(file, "utf8")).toBe(renderDrillHtml(r, "fa"));
      expect(existsSync(r.file)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("a drill's page, in headless Chromium", () => {
  it("draws the timeline with the fault, the detection and the restore in order along its axis, and the map; no policy violation", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-t-drill-render-"));
    try {
      const shots = process.env.AMADEGI_SCREENSHOTS ?? dir;
      await mkdir(shots, { recursive: true });
      const r = drillReport(inventory, dir);
      const page = await openPage(await writeDrillPage(r, "fa", { map: drillMapInput(r, inventory) }), { width: 1200, height: 900 });
      try {
        const box = await page.evaluate<{ left: number; right: number; width: number; height: number }>(
          `(() => { const b = document.getElementById("timeline").getBoundingClientRect(); ` +
            `return { left: b.left, right: b.right, width: b.width, height: b.height }; })()`,
        );
        expect(box.width).toBeGreaterThan(500);
        expect(box.height).toBeGreaterThan(200);
        const xs = await page.evaluate<number[]>(
          `["fault", "detection", "restore"].map((m) => { ` +
            `const b = document.querySelector("#tl-" + m + " .tick").getBoundingClientRect(); return b.x + b.width / 2; })`,
        );
        expect(xs).toHaveLength(3);
        expect(xs[0]).toBeLessThan(xs[1] ?? 0);
        expect(xs[1]).toBeLessThan(xs[2] ?? 0);
        // Each row's name is on the reading side (right, in Persian) of the plot, its value inside the plot: nothing overlaps.
        const placed = await page.evaluate<{ axis: [number, number]; labels: [number, number][]; values: [number, number][] }>(
          `(() => { const box = (e) => { const b = e.getBoundingClientRect(); return [b.left, b.right]; }; ` +
            `return { axis: box(document.getElementById("tl-axis")), labels: [...document.querySelectorAll("#timeline text.label")].map(box), ` +
            `values: [...document.querySelectorAll("#timeline text.value")].map(box) }; })()`,
        );
        const [plotLeft, plotRight] = placed.axis;
        expect(placed.labels).toHaveLength(10);
        expect(placed.values).toHaveLength(10);
        for (const [left, right] of placed.labels)
          expect(left > plotRight && right <= box.right + 1, `label ${left}–${right}, plot ends ${plotRight}`).toBe(true);
        for (const [left, right] of placed.values)
          expect(left >= plotLeft - 1 && right <= plotRight + 1, `value ${left}–${right} in ${plotLeft}–${plotRight}`).toBe(true);
        expect(await page.evaluate<number>(`document.getElementById("map").getBoundingClientRect().width`)).toBeGreaterThan(300);
        const png = await page.screenshot(join(shots, "drill.fa.png"));
        expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
        expect(page.violations()).toEqual([]);
      } finally {
        await page.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it("a hostile report's strings are text: no element they name exists, nothing was blocked; unescaped, they would have been", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-t-drill-render-"));
    try {
      const base = drillReport(inventory, dir);
      const evil = '"><img src=x onerror=console.log(1)><script>console.log(2)</script>';
      const r: DrillReport = { ...base, description: evil, notes: [evil], restore: { ...base.restore, leftovers: [evil] } };
      const file = await writeDrillPage(r, "fa");
      const page = await openPage(file, { width: 1000, height: 800 });
      try {
        expect(await page.evaluate<number>(`document.querySelectorAll("img, script, [onerror]").length`)).toBe(0);
        expect(await page.evaluate<string>(`document.getElementById("description").textContent`)).toBe(evil);
        expect(page.messages.filter((m) => m.startsWith("console."))).toEqual([]);
        expect(page.violations()).toEqual([]);
      } finally {
        await page.close();
      }
      // Control: the same string unescaped is markup; the page's policy blocks it, and the browser says so.
      const unescaped = join(dir, "unescaped.html");
      await writeFile(unescaped, (await readFile(file, "utf8")).replace(esc(evil), evil));
      const control = await openPage(unescaped, { width: 1000, height: 800 });
      try {
        expect(await control.evaluate<number>(`document.querySelectorAll("#description img, #description script").length`)).toBe(2);
        expect(control.violations().join("\n")).toMatch(/script-src|img-src/);
        expect(control.messages.filter((m) => m.startsWith("console."))).toEqual([]);
      } finally {
        await control.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
