// The rehearsal drawn, as a browser renders it (headless Chromium, test/helpers/browser.ts): the
// picture has a size, every namespace is a visible group with its state's colour (its style
// applied under the page's policy), the legend is on screen, Persian lays the operators out from
// the right, and the policy reported no violation. The screenshots go to AMADEGI_SCREENSHOTS when
// it is set, else to a temporary directory.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Inventory } from "../../../src/model/index.ts";
import { renderRehearsalHtml } from "../../../src/readiness/report/rehearsal.ts";
import { ANSWERING_STATES, type Plan, planRehearsal } from "../../../src/rehearsal/plan.ts";
import { openPage } from "../../helpers/browser.ts";
import { brokenStatus, sampleModel } from "./rehearsal-fixture.ts";

interface Box {
  readonly ns: string;
  readonly cls: string;
  readonly x: number;
  readonly width: number;
  readonly height: number;
  readonly fill: string;
}

// Each namespace's group: its class, its box on screen, and the computed fill of its frame.
const GROUPS = `[...document.querySelectorAll("svg#rehearsal g.rh-ns")].map((g) => {
  const r = g.getBoundingClientRect();
  return { ns: g.dataset.ns, cls: g.getAttribute("class"), x: r.x, width: r.width, height: r.height, fill: getComputedStyle(g.querySelector("rect")).fill };
})`;

describe("the rehearsal drawn, rendered", () => {
  let root = "";
  let inventory: Inventory;
  let plan: Plan;
  let shots = "";
  beforeAll(async () => {
    ({ root, inventory } = await sampleModel());
    plan = planRehearsal(inventory);
    shots = process.env.AMADEGI_SCREENSHOTS ?? join(root, "screenshots");
    await mkdir(shots, { recursive: true });
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it.each(["fa", "en"] as const)("%s: the picture, each namespace's group and the legend are drawn, mci missing in red, no violation", async (lang) => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-picture-page-"));
    const file = join(dir, `rehearsal.${lang}.html`);
    await writeFile(file, renderRehearsalHtml({ inventory, plan, status: brokenStatus(plan), answering: ANSWERING_STATES }, lang, "2025-01-02T03:06:00Z"));
    const page = await openPage(file, { width: 1280, height: 900 });
    try {
      const svg = await page.evaluate<{ width: number; height: number }>(
        `(() => { const r = document.querySelector("svg#rehearsal").getBoundingClientRect(); return { width: r.width, height: r.height }; })()`,
      );
      expect(svg.width).toBeGreaterThan(600);
      expect(svg.height).toBeGreaterThan(300);

      const groups = await page.evaluate<Box[]>(GROUPS);
      expect(groups.map((g) => g.ns).sort()).toEqual(plan.namespaces.map((n) => n.name).sort());
      for (const g of groups) expect(g.width * g.height, g.ns).toBeGreaterThan(0);
      expect(groups.find((g) => g.ns === "amadegi-r-op-mci")).toMatchObject({ cls: "rh-ns ns-down", fill: "rgb(255, 235, 238)" });
      expect(groups.find((g) => g.ns === "amadegi-r-op-tci")).toMatchObject({ cls: "rh-ns ns-up", fill: "rgb(232, 245, 233)" });
      // Operators in id order from the start side: the right in Persian, the left in English.
      const x = (ns: string): number => groups.find((g) => g.ns === ns)?.x ?? Number.NaN;
      expect(lang === "fa" ? x("amadegi-r-op-irancell") > x("amadegi-r-op-tci") : x("amadegi-r-op-irancell") < x("amadegi-r-op-tci")).toBe(true);

      const legend = await page.evaluate<{ width: number; height: number; visibility: string; text: string }>(
        `(() => { const e = document.getElementById("legend"); const r = e.getBoundingClientRect();` +
          ` return { width: r.width, height: r.height, visibility: getComputedStyle(e).visibility, text: e.innerText }; })()`,
      );
      expect(legend.width * legend.height).toBeGreaterThan(0);
      expect(legend.visibility).toBe("visible");
      expect(legend.text).toContain(lang === "fa" ? "موجود نیست: ۱" : "missing: 1");
      expect(await page.evaluate<string>(`document.querySelector("#status .big").innerText`)).toBe(
        lang === "fa" ? "تمرین کامل نیست" : "rehearsal is NOT whole",
      );
      const png = await page.screenshot(join(shots, `rehearsal.${lang}.png`));
      expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
      expect(page.violations()).toEqual([]);
    } finally {
      await page.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
