// The map's logic without a browser (map.rendered and map.national check it as Chromium draws it):
// the hull, which names go on the picture (each district's when few are drawn, else each
// province's), every district's outline with its link target and hover name, and the legend.
import { describe, expect, it } from "vitest";
import { type MapInput, type MapPoint, convexHull, stationsMap } from "../../../src/readiness/report/map.ts";

const texts = (svg: string, cls: string): string[] => [...svg.matchAll(new RegExp(`<text class="${cls}"[^>]*>([^<]*)</text>`, "g"))].map((m) => m[1] ?? "");

/** `count` districts in a grid over central Iran, four stations each; the first `down` stations down. */
function grid(count: number, province: (i: number) => string, down = 0): MapInput {
  const points: MapPoint[] = [];
  const districts: { id: string; name: string; province: string }[] = [];
  for (let i = 0; i < count; i++) {
    const lat = 30 + Math.floor(i / 8) * 0.8;
    const lon = 50 + (i % 8) * 1.0;
    districts.push({ id: `d-${i}`, name: `حوزه ${i}`, province: province(i) });
    for (const [dy, dx] of [
      [0, 0],
      [0.2, 0],
      [0, 0.2],
      [0.2, 0.2],
    ] as const)
      points.push({ lat: lat + dy, lon: lon + dx, district: `d-${i}`, status: points.length < down ? "down" : "ready" });
  }
  return { points, districts };
}

describe("convexHull", () => {
  it("keeps the corners of a square and drops the points inside and on its edges", () => {
    const hull = convexHull([
      [0, 0],
      [2, 0],
      [1, 1],
      [2, 2],
      [0, 2],
      [1, 0],
      [0.5, 1.5],
    ]);
    expect(hull.map(([x, y]) => `${x},${y}`).sort()).toEqual(["0,0", "0,2", "2,0", "2,2"]);
  });
  it("gives fewer than three distinct points back as they are", () => {
    expect(convexHull([[1, 1]])).toEqual([[1, 1]]);
    expect(convexHull([])).toEqual([]);
  });
});

describe("stationsMap", () => {
  it("names each district when a few are drawn, each with its outline and link target", () => {
    const svg = stationsMap(
      grid(6, () => "tehran"),
      { title: "t", lang: "fa" },
    ).markup;
    expect(svg.match(/<g class="district" id="map-d-\d+">/g)).toHaveLength(6);
    expect(texts(svg, "label label-district").sort()).toEqual(["حوزه 0", "حوزه 1", "حوزه 2", "حوزه 3", "حوزه 4", "حوزه 5"]);
    expect(svg).not.toContain('class="province"');
    expect(svg).toContain('<g class="districts">');
  });

  it("names the provinces instead beyond 40 districts, in the page's language; each district still names itself on hover", () => {
    const input = grid(48, (i) => (i < 24 ? "isfahan" : "yazd"));
    for (const [lang, names] of [
      ["fa", ["اصفهان", "یزد"]],
      ["en", ["Isfahan", "Yazd"]],
    ] as const) {
      const svg = stationsMap(input, { title: "t", lang }).markup;
      expect(svg.match(/<g class="district" id="map-d-\d+"><title>/g)).toHaveLength(48);
      expect(svg).toContain('<g class="districts many">');
      expect(svg.match(/<path class="province" data-province="(isfahan|yazd)"/g)).toHaveLength(2);
      expect(texts(svg, "label label-province").sort()).toEqual([...names].sort());
      expect(texts(svg, "label label-district")).toEqual([]);
      expect(svg).toContain(`<title>حوزه 47 (d-47): ${lang === "fa" ? "۴" : "4"}</title>`);
    }
  });

  it("shows a province the list does not know by its id", () => {
    const svg = stationsMap(
      grid(41, () => "atlantis"),
      { title: "t", lang: "en" },
    ).markup;
    expect(texts(svg, "label label-province")).toEqual(["atlantis"]);
  });

  it("counts every status in the legend and colours the cells of stations that are down", () => {
    const svg = stationsMap(
      grid(6, () => "tehran", 4),
      { title: "t", lang: "en" },
    ).markup;
    expect(texts(svg, "legend-text")).toEqual(["ready: 20", "one path: 0", "down: 4", "unknown: 0"]);
    expect(svg).toContain('<path class="cells cells-down"');
    expect(svg).not.toContain("cells-partial");
  });

  it("never places two names on each other, whatever the districts' crowding", () => {
    // Forty districts on one spot: one name fits, the others name themselves on hover.
    const input: MapInput = {
      points: Array.from({ length: 40 }, (_, i) => ({ lat: 35, lon: 51, district: `d-${i}`, status: "ready" as const })),
      districts: Array.from({ length: 40 }, (_, i) => ({ id: `d-${i}`, name: `حوزه ${i}`, province: "tehran" })),
    };
    expect(texts(stationsMap(input, { title: "t", lang: "fa" }).markup, "label label-district")).toHaveLength(1);
  });
});
