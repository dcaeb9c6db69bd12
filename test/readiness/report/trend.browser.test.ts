// The trend as Chromium lays it out: a report of a gate run with a history of several runs
// (the real gate, the real history file), opened in headless Chromium: every chart's dated axis
// has its Jalali and Gregorian tick labels rendered, left to right without overlapping, and the
// page's policy blocks nothing (the charts need no script, style attribute or URL).
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ProbeResult } from "../../../src/probe/types.ts";
import { gate, type GateRun } from "../../../src/readiness/gate.ts";
import { writeReport } from "../../../src/readiness/report/index.ts";
import { openPage } from "../../helpers/browser.ts";
import { fixtureCopy, resultsFor } from "../helpers.ts";

interface Label {
  readonly text: string;
  readonly x: number;
  readonly width: number;
  readonly height: number;
}

/** Per chart: its criterion (empty for the overall score), its dots, and its tick labels (Jalali, Gregorian) as laid out. */
const LAYOUT = `[...document.querySelectorAll("#trend figure")].map((f) => {
  const box = (t) => { const b = t.getBoundingClientRect(); return { text: t.textContent, x: b.x, width: b.width, height: b.height }; };
  return { criterion: f.dataset.criterion, dots: f.querySelectorAll("circle").length,
    jalali: [...f.querySelectorAll("text.j")].map(box), gregorian: [...f.querySelectorAll("text.g")].map(box) };
})`;

describe("the trend in report.html, in headless Chromium", () => {
  it("draws every chart's dated axis: tick labels rendered, increasing x, apart; no policy violation", async () => {
    const root = await fixtureCopy();
    const inventory = join(root, "inventory");
    const history = join(root, "state", "history.sqlite");
    const down = (r: ProbeResult): ProbeResult => (r.key === "link-icmp/R-1/R-1-F" ? { ...r, status: "down", detail: "no answer" } : r);
    // Four runs of T-7 (due 2027-02-18), unevenly spaced; the second has a link down.
    const runs = ["2027-02-05T06:00:00Z", "2027-02-09T06:00:00Z", "2027-02-10T18:00:00Z", "2027-02-16T06:00:00Z"];
    let run: GateRun | undefined;
    for (const [i, at] of runs.entries()) {
      const now = new Date(at);
      const results = await resultsFor(root, { now, id: `c-${i}`, ...(i === 1 ? { edit: down } : {}) }, `c${i}.jsonl`);
      run = await gate({ inventory, results, history, now, milestone: "T-7" });
    }
    if (run === undefined) throw new Error("no gate run");
    expect(run.result.trend?.map((t) => t.verdict)).toEqual(["ready", "not-ready", "ready", "ready"]);
    const files = await writeReport(run, join(root, "report"), "fa");

    const page = await openPage(files.html, { width: 1280, height: 900 });
    try {
      const charts = await page.evaluate<{ criterion: string; dots: number; jalali: Label[]; gregorian: Label[] }[]>(LAYOUT);
      expect(charts.map((c) => c.criterion)).toEqual(["", ...run.result.criteria.map((c) => c.id)]);
      for (const chart of charts) {
        expect(chart.dots).toBe(runs.length);
        for (const labels of [chart.jalali, chart.gregorian]) {
          expect(labels.length).toBeGreaterThan(1);
          for (const [i, l] of labels.entries()) {
            expect(l.width).toBeGreaterThan(0);
            expect(l.height).toBeGreaterThan(0);
            const before = labels[i - 1];
            if (before !== undefined) expect(l.x).toBeGreaterThan(before.x + before.width); // left to right, apart
          }
        }
        expect(chart.jalali.map((l) => l.text)).toEqual(charts[0]?.jalali.map((l) => l.text));
        for (const l of chart.jalali) expect(l.text).toMatch(/^[۰-۹]+ (بهمن|اسفند)$/);
        for (const l of chart.gregorian) expect(l.text).toMatch(/^2027-02-\d\d$/);
      }
      expect(page.violations()).toEqual([]);
    } finally {
      await page.close();
    }
  }, 120_000);
});
