// What a reader sees in report.html, measured in headless Chromium (test/helpers/browser.ts) for
// the rendered-report tests (map.rendered: the sample; map.national: the whole country). Each
// figure is read from the laid-out page, so a label drawn off the picture, two labels on top of
// each other, an empty outline or a legend row outside its box fails here though the HTML text
// would pass.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "vitest";
import type { GateRun } from "../../../src/readiness/gate.ts";
import { WORDS } from "../../../src/readiness/report/i18n.ts";
import { type BrowserPage, openPage } from "../../helpers/browser.ts";

export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface ReportLayout {
  readonly verdict: { readonly text: string; readonly box: Rect; readonly background: string };
  readonly svg: Rect;
  /** The country's outline (the path may reach past the view on a close-up: the picture clips it). */
  readonly country: Rect;
  readonly hulls: number;
  readonly labels: readonly (Rect & { readonly text: string; readonly visibility: string })[];
  readonly legendBox: Rect;
  readonly legend: readonly (Rect & { readonly text: string })[];
  readonly cells: readonly (Rect & { readonly status: string })[];
  /** The locator's view frame, on a close-up. */
  readonly locator: Rect | null;
  readonly ticks: { readonly jalali: readonly (Rect & { readonly text: string })[]; readonly gregorian: readonly (Rect & { readonly text: string })[] };
  /** Every in-page link to the map: its target id, and whether an element has that id. */
  readonly mapLinks: readonly { readonly target: string; readonly found: boolean }[];
}

const LAYOUT = `(() => {
  const rect = (e) => { const b = e.getBoundingClientRect(); return { x: b.x, y: b.y, width: b.width, height: b.height }; };
  const map = document.querySelector("svg#map");
  const view = map.querySelector("g.locator path.view");
  const first = document.querySelector("#trend figure");
  return {
    verdict: { text: document.querySelector("#verdict .big").innerText, box: rect(document.getElementById("verdict")),
      background: getComputedStyle(document.getElementById("verdict")).backgroundColor },
    svg: rect(map),
    country: rect(map.querySelector("path.country")),
    hulls: map.querySelectorAll("g.district path.hull").length,
    labels: [...map.querySelectorAll("g.labels text.label")].map((t) => ({ ...rect(t), text: t.textContent, visibility: getComputedStyle(t).visibility })),
    legendBox: rect(map.querySelector("g.legend rect")),
    legend: [...map.querySelectorAll("g.legend text.legend-text")].map((t) => ({ ...rect(t), text: t.textContent })),
    cells: [...map.querySelectorAll("path.cells")].map((p) => ({ ...rect(p), status: p.getAttribute("class") })),
    locator: view === null ? null : rect(view),
    ticks: first === null ? { jalali: [], gregorian: [] } : {
      jalali: [...first.querySelectorAll("text.j")].map((t) => ({ ...rect(t), text: t.textContent })),
      gregorian: [...first.querySelectorAll("text.g")].map((t) => ({ ...rect(t), text: t.textContent })),
    },
    mapLinks: [...document.querySelectorAll('a[href^="#map-"]')].map((a) => {
      const target = decodeURIComponent(a.getAttribute("href").slice(1));
      return { target, found: document.getElementById(target) !== null };
    }),
  };
})()`;

const inside = (r: Rect, box: Rect, slack = 1): boolean =>
  r.x >= box.x - slack && r.y >= box.y - slack && r.x + r.width <= box.x + box.width + slack && r.y + r.height <= box.y + box.height + slack;
const apart = (a: Rect, b: Rect): boolean => a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;

/** Where the rendered-report tests leave their screenshots: AMADEGI_SCREENSHOTS when set, else `fallback`. */
export async function screenshotDir(fallback: string): Promise<string> {
  const dir = process.env.AMADEGI_SCREENSHOTS ?? fallback;
  await mkdir(dir, { recursive: true });
  return dir;
}

/**
 * Opens a report.html, checks what every report must show (below), saves a screenshot as
 * `<shots>/<name>.png` (the page down to the map: the verdict, criteria and map; the rows below
 * are many thousand at national size), the map alone as `<name>.map.png` and the trend as
 * `<name>.trend.png`, and returns the layout for the caller's own checks:
 * - the verdict banner says the gate's verdict in the page's language, on its colour;
 * - the country's outline has an area and meets the picture;
 * - every district label is visible, inside the picture and clear of every other label;
 * - the legend has a row per status, each inside the legend's box;
 * - the stations' cells lie inside the picture;
 * - the trend's first chart has dated ticks (Jalali and Gregorian) laid out left to right;
 * - every link to the map names an element on the page, and following one outlines its district;
 * - the page's policy blocked nothing.
 */
export async function checkReportPage(file: string, run: GateRun, lang: "fa" | "en", shots: string, name: string): Promise<ReportLayout> {
  const page: BrowserPage = await openPage(file, { width: 1280, height: 900 });
  try {
    const l = await page.evaluate<ReportLayout>(LAYOUT);
    expect(l.verdict.text).toBe(WORDS[lang].verdict[run.result.verdict]);
    expect(l.verdict.box.width * l.verdict.box.height).toBeGreaterThan(0);
    expect(l.verdict.background).not.toBe("rgba(0, 0, 0, 0)");

    expect(l.svg.width).toBeGreaterThan(500);
    expect(l.svg.height).toBeGreaterThan(400);
    expect(l.country.width * l.country.height).toBeGreaterThan(0);
    expect(apart(l.country, l.svg), "the outline meets the picture").toBe(false);

    expect(l.labels.length).toBeGreaterThan(0);
    expect(l.labels.length).toBeLessThanOrEqual(l.hulls);
    for (const [i, a] of l.labels.entries()) {
      expect(a.visibility, a.text).toBe("visible");
      expect(a.width * a.height, a.text).toBeGreaterThan(0);
      expect(inside(a, l.svg), `label ${a.text} inside the picture`).toBe(true);
      for (const b of l.labels.slice(i + 1)) expect(apart(a, b), `labels ${a.text} and ${b.text} apart`).toBe(true);
    }

    expect(l.legend).toHaveLength(4);
    const statuses = WORDS[lang].status;
    expect(l.legend.map((r) => r.text.split(":")[0])).toEqual([statuses.ready, statuses.partial, statuses.down, statuses.unknown]);
    for (const row of l.legend) expect(inside(row, l.legendBox), `legend row ${row.text} inside its box`).toBe(true);

    expect(l.cells.length).toBeGreaterThan(0);
    for (const c of l.cells) expect(inside(c, l.svg), `${c.status} inside the picture`).toBe(true);

    for (const ticks of [l.ticks.jalali, l.ticks.gregorian]) {
      expect(ticks.length).toBeGreaterThan(1);
      for (const [i, t] of ticks.entries()) {
        expect(t.width * t.height, t.text).toBeGreaterThan(0);
        const before = ticks[i - 1];
        if (before !== undefined) expect(t.x, `${before.text} then ${t.text}`).toBeGreaterThan(before.x + before.width);
      }
    }

    for (const link of l.mapLinks) expect(link.found, `#${link.target}`).toBe(true);
    // Following a link outlines its district (CSS :target, no script): the hull's stroke changes.
    const followed = l.mapLinks[0]?.target;
    if (followed !== undefined) {
      const stroke = `getComputedStyle(document.getElementById(${JSON.stringify(followed)}).querySelector(".hull")).stroke`;
      const before = await page.evaluate<string>(stroke);
      const after = await page.evaluate<string>(`(location.hash = ${JSON.stringify(`#${followed}`)}, ${stroke})`);
      expect(after, `#${followed} outlined`).not.toBe(before);
      expect(after).toBe("rgb(198, 40, 40)");
    }
    const top = await page.screenshot(join(shots, `${name}.png`), { until: "svg#map" });
    const map = await page.screenshot(join(shots, `${name}.map.png`), "svg#map");
    for (const png of [top, map, await page.screenshot(join(shots, `${name}.trend.png`), "#trend")]) expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
    expect(page.violations()).toEqual([]);
    return l;
  } finally {
    await page.close();
  }
}
