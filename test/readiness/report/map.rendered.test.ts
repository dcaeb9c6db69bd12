// The sample's report (the project's own inventory: Pakdasht and the Tehran electoral district,
// 1,415 stations) as Chromium renders it, in Persian and English: the real gate over four dated
// runs (the history gives the trend its ticks), tci's links in Pakdasht down on the last run, so
// the map has every status and the lists link to a district. The checks are in report-page.ts;
// here, what the sample adds: it is a close-up, so the locator marks the view; each of its
// districts has an outline and its Persian name.
import { cp, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadInventory } from "../../../src/model/index.ts";
import type { ProbeResult } from "../../../src/probe/types.ts";
import { gate, type GateRun } from "../../../src/readiness/gate.ts";
import { writeReport } from "../../../src/readiness/report/index.ts";
import { writeSyntheticResults } from "../../../src/readiness/synthetic.ts";
import { tempDir } from "../helpers.ts";
import { checkReportPage, screenshotDir } from "./report-page.ts";

const REPO = join(import.meta.dirname, "..", "..", "..");
// Four gate runs of T-7 (due 1405-11-29 = 2027-02-18), unevenly spaced.
const RUNS = ["2027-01-28T06:00:00Z", "2027-02-04T06:00:00Z", "2027-02-10T18:00:00Z", "2027-02-16T06:00:00Z"];

describe("the sample's report.html in headless Chromium", () => {
  let root = "";
  let run: GateRun;
  let districts: { id: string; name: string }[] = [];
  beforeAll(async () => {
    root = await tempDir("amadegi-sample-report-");
    // The inventory and the committee that approved its waivers.
    for (const dir of ["inventory", "governance"]) await cp(join(REPO, dir), join(root, dir), { recursive: true });
    const inv = (await loadInventory(join(root, "inventory"))).inventory;
    if (inv === undefined) throw new Error("the sample inventory does not load");
    districts = inv.districts.map((d) => ({ id: d.id, name: d.name }));
    const last = RUNS.length - 1;
    for (const [i, at] of RUNS.entries()) {
      const now = new Date(at);
      const results = join(root, `results-${i}.jsonl`);
      const edit = (r: ProbeResult): ProbeResult =>
        i === last && r.link !== undefined && r.district === "pakdasht" && r.operator === "tci"
          ? { ...r, status: "down", failure: "timeout", detail: "no answer" }
          : r;
      writeSyntheticResults(results, inv, { now, id: `c-${i}`, edit });
      run = await gate({ inventory: join(root, "inventory"), results, history: join(root, "history.sqlite"), now, milestone: "T-7" });
    }
  }, 120_000);
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it.each(["fa", "en"] as const)(
    "%s: verdict, outline, labelled districts, legend, dated ticks and map links as rendered",
    async (lang) => {
      expect(run.result.verdict).toBe("not-ready");
      expect(run.result.trend).toHaveLength(RUNS.length);
      const files = await writeReport(run, join(root, `report-${lang}`), lang);
      const shots = await screenshotDir(join(root, "screenshots"));
      const layout = await checkReportPage(files.html, run, lang, shots, `report.sample.${lang}`);

      expect(layout.hulls).toBe(districts.length);
      expect(layout.locator, "a close-up marks its view on the country").not.toBeNull();
      // Both districts (Pakdasht, and Tehran's five counties as one electoral district) named in Persian.
      expect(layout.labels.map((l) => l.text).sort()).toEqual(districts.map((d) => d.name).sort());
      // Pakdasht's tci links are down: its stations are partial, and the lists link to its outline.
      expect(layout.cells.map((c) => c.status)).toContain("cells cells-partial");
      expect(layout.mapLinks.map((m) => m.target)).toContain("map-pakdasht");
    },
    120_000,
  );
});
