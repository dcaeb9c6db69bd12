// The national report (`amadegi generate`'s synthetic country: 58,640 stations) as Chromium renders
// it: the real gate over two dated runs, one link in fifty down. The checks every report must pass
// are in report-page.ts; here, what the whole country adds: the page stays under 10 MB, the view is
// the whole country (no locator), every district is outlined, the provinces are named (most of the
// 31, no name on another), and the cells show the links that are down. In vitest.config.ts's HEAVY
// list: generating, gating and drawing the country loads both cores for a while.
import { statSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Inventory, loadInventory, provinceName } from "../../../src/model/index.ts";
import { writeNational } from "../../../src/model/synthetic/national.ts";
import type { ProbeResult } from "../../../src/probe/types.ts";
import { gate, type GateRun } from "../../../src/readiness/gate.ts";
import { writeReport } from "../../../src/readiness/report/index.ts";
import { writeSyntheticResults } from "../../../src/readiness/synthetic.ts";
import { tempDir } from "../helpers.ts";
import { checkReportPage, screenshotDir } from "./report-page.ts";

const STATIONS = 58_640;
const RUNS = ["2027-02-10T06:00:00Z", "2027-02-16T06:00:00Z"];

describe("the national report.html in headless Chromium", () => {
  let root = "";
  let inv: Inventory;
  let run: GateRun;
  beforeAll(async () => {
    root = await tempDir("amadegi-national-report-");
    await writeNational(root, { stations: STATIONS, seed: 1 });
    const loaded = (await loadInventory(join(root, "inventory"))).inventory;
    if (loaded === undefined) throw new Error("the national inventory does not load");
    inv = loaded;
    for (const [i, at] of RUNS.entries()) {
      const now = new Date(at);
      const results = join(root, `results-${i}.jsonl`);
      let n = 0;
      const edit = (r: ProbeResult): ProbeResult =>
        r.link !== undefined && ++n % 50 === 0 ? { ...r, status: "down", failure: "timeout", detail: "no answer" } : r;
      writeSyntheticResults(results, inv, { now, id: `c-${i}`, edit });
      run = await gate({ inventory: join(root, "inventory"), results, history: join(root, "history.sqlite"), now, milestone: "T-7" });
    }
  }, 600_000);
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("fa: the whole country, its districts outlined and labelled apart, under 10 MB", async () => {
    expect(inv.stations).toHaveLength(STATIONS);
    const files = await writeReport(run, join(root, "report"), "fa");
    expect(statSync(files.html).size).toBeLessThan(10 * 1024 * 1024);
    const layout = await checkReportPage(files.html, run, "fa", await screenshotDir(join(root, "screenshots")), "report.national.fa");

    expect(layout.locator, "the whole country needs no locator").toBeNull();
    expect(layout.hulls).toBe(inv.districts.length);
    // 1,195 districts are too many names for one picture: the provinces are named instead, largest
    // first where a name fits, and each district names itself on hover.
    const provinces = new Set(inv.districts.map((d) => d.province));
    expect(provinces.size).toBe(31);
    expect(layout.labels.length).toBeGreaterThanOrEqual(25);
    const names = new Set([...provinces].map((p) => provinceName(p, "fa")));
    expect(names.has("تهران")).toBe(true);
    for (const l of layout.labels) expect(names.has(l.text), l.text).toBe(true);
    expect(new Set(layout.cells.map((c) => c.status))).toEqual(new Set(["cells cells-ready", "cells cells-partial"]));
  }, 300_000);
});
