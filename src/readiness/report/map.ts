import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type GeoPermissibleObjects, type GeoProjection, geoConicConformal, geoPath } from "d3-geo";
import { feature } from "topojson-client";
import type { GeometryCollection, Topology } from "topojson-specification";
import type { StationStatus } from "./data.ts";
import { type Lang, num, WORDS } from "./i18n.ts";
import { type Html, html } from "./markup.ts";
import { provinceName } from "../../model/index.ts";

/**
 * The stations map, drawn once at render time as inline SVG (no script, so the
 * pages' strict policy holds and the map shows in a mail client or a print):
 *
 * - the country and its neighbours from Natural Earth (world-atlas's 1:50m
 *   countries, read with topojson-client), projected by d3-geo's Lambert
 *   conformal conic for Iran and fitted to the stations shown, so a district's
 *   report is a close-up and the national one the whole country; a close-up
 *   gets a small locator of the whole country with the view marked;
 * - each district as the convex hull of its stations, naming itself on hover;
 *   on the picture, names placed largest first where a label covers no other,
 *   above the stations: each district's when at most 40 are drawn, else each
 *   province's (the dashed hull of its districts' stations: 1,195 district
 *   names on one country would cover it); a hull's group carries `id="map-<district>"`, so a
 *   link from the lists (`#map-<district>`) scrolls to it and CSS's :target
 *   outlines it, with no script;
 * - stations binned into square cells of a few pixels, each cell coloured by
 *   its worst-off share, all cells of one colour one path: 58,640 stations cost
 *   a few thousand path segments and the national page stays small;
 * - the legend inside the picture, so a screenshot carries it.
 *
 * Geometry here; every name reaches the markup through the `html` tag.
 */

export const MAP_COLOURS: Readonly<Record<StationStatus, string>> = {
  ready: "#2e7d32",
  partial: "#f9a825",
  down: "#c62828",
  unknown: "#9e9e9e",
};

/** The map's rules, for a page's CSS: a district a link points at is outlined. */
export const MAP_CSS = `
svg.map .hull{fill:#5c6bc0;fill-opacity:.07;stroke:#5c6bc0;stroke-opacity:.55;stroke-width:1;stroke-linejoin:round}
svg.map .district:target .hull{fill-opacity:.18;stroke:#c62828;stroke-opacity:1;stroke-width:3}
svg.map .many .hull{fill-opacity:.03;stroke-opacity:.3;stroke-width:.5}
svg.map .province{fill:none;stroke:#37474f;stroke-opacity:.6;stroke-width:1.2;stroke-dasharray:4 3;stroke-linejoin:round}
svg.map .label{font-size:11px;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round;fill:#263238}
svg.map .label-province{font-size:12px;font-weight:bold}
svg.map .legend-text{font-size:12px;fill:#263238}
`;

export interface MapPoint {
  readonly lat: number;
  readonly lon: number;
  readonly status: StationStatus;
  /** The station's district id. */
  readonly district: string;
}

export interface MapInput {
  readonly points: readonly MapPoint[];
  /** The districts to draw, by id, with their province's id; a point whose district is not here is still drawn, without a hull. */
  readonly districts: readonly { readonly id: string; readonly name: string; readonly province?: string }[];
}

export interface MapOptions {
  /** The picture's accessible name (aria-label). */
  readonly title: string;
  readonly lang: Lang;
  readonly width?: number;
  readonly height?: number;
}

/** The view's smallest span in degrees: one station, or a village, is still shown in its surroundings. */
const MIN_SPAN_DEGREES = 0.08;
/** A view narrower than this share of the country's width gets a locator. */
const LOCATOR_BELOW = 0.45;
const IRAN = "364";

interface World {
  readonly countries: readonly { readonly id: string; readonly geometry: GeoPermissibleObjects }[];
  readonly iran: GeoPermissibleObjects;
}

let world: World | undefined;

/** Natural Earth's countries, read once per process (756 kB of TopoJSON, about 20 ms). */
function loadWorld(): World {
  if (world !== undefined) return world;
  const file = createRequire(import.meta.url).resolve("world-atlas/countries-50m.json");
  const topology = JSON.parse(readFileSync(file, "utf8")) as Topology<{ countries: GeometryCollection<{ name: string }> }>;
  const all = feature(topology, topology.objects.countries);
  const countries = all.features.map((f) => ({ id: String(f.id), geometry: f as GeoPermissibleObjects }));
  const iran = countries.find((c) => c.id === IRAN);
  if (iran === undefined) throw new Error("world-atlas/countries-50m.json has no Iran (id 364): reinstall the world-atlas package");
  world = { countries, iran: iran.geometry };
  return world;
}

/** Lambert conformal conic with standard parallels across Iran (25°N–40°N). */
const conic = (): GeoProjection => geoConicConformal().parallels([29, 37]).rotate([-53.5, 0]);

/** The corners of the stations' extent, widened to MIN_SPAN_DEGREES, as something d3 can fit. */
function extentOf(points: readonly MapPoint[]): GeoPermissibleObjects {
  let [minLat, maxLat, minLon, maxLon] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const p of points) {
    if (p.lat < minLat) minLat = p.lat;
    if (p.lat > maxLat) maxLat = p.lat;
    if (p.lon < minLon) minLon = p.lon;
    if (p.lon > maxLon) maxLon = p.lon;
  }
  const widen = (lo: number, hi: number): [number, number] => {
    const gap = Math.max(0, MIN_SPAN_DEGREES - (hi - lo)) / 2;
    return [lo - gap, hi + gap];
  };
  [minLat, maxLat] = widen(minLat, maxLat);
  [minLon, maxLon] = widen(minLon, maxLon);
  return {
    type: "MultiPoint",
    coordinates: [
      [minLon, minLat],
      [minLon, maxLat],
      [maxLon, minLat],
      [maxLon, maxLat],
    ],
  };
}

/** A cell's colour: down if more than a tenth of its stations are down, then partial, then ready; grey if nothing is known. */
function cellStatus(c: Record<StationStatus, number>): StationStatus {
  const known = c.ready + c.partial + c.down;
  if (known === 0) return "unknown";
  if (c.down * 10 > known) return "down";
  if ((c.down + c.partial) * 10 > known) return "partial";
  return "ready";
}

/** The convex hull (Andrew's monotone chain), counter-clockwise; fewer than three distinct points come back as they are. */
export function convexHull(points: readonly (readonly [number, number])[]): [number, number][] {
  const p = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([x, y]) => [x, y] as [number, number]);
  if (p.length < 3) return p;
  const cross = (o: [number, number], a: [number, number], b: [number, number]): number => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const half = (list: [number, number][]): [number, number][] => {
    const out: [number, number][] = [];
    for (const q of list) {
      while (out.length >= 2 && cross(out[out.length - 2] as [number, number], out[out.length - 1] as [number, number], q) <= 0) out.pop();
      out.push(q);
    }
    out.pop();
    return out;
  };
  return [...half(p), ...half([...p].reverse())];
}

const f1 = (n: number): string => n.toFixed(1);

/** A hull as an SVG path: a polygon, a segment, or a small square around a lone station. */
function hullPath(hull: readonly [number, number][]): string {
  if (hull.length === 0) return "";
  if (hull.length === 1) {
    const [x, y] = hull[0] as [number, number];
    return `M${f1(x - 4)} ${f1(y - 4)}h8v8h-8z`;
  }
  return `M${hull.map(([x, y]) => `${f1(x)} ${f1(y)}`).join("L")}z`;
}

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}
const overlaps = (a: Box, b: Box): boolean => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

/** A label's box, estimated (no fonts at render time) for the label's font size in px: Persian letters are narrower than their count suggests. */
function labelBox(text: string, x: number, y: number, size: number): Box {
  const w = text.length * size * 0.6 + 8;
  return { x0: x - w / 2, y0: y - size, x1: x + w / 2, y1: y + size * 0.3 };
}

/** Up to this many districts drawn, each is named on the map; beyond (a province's or the country's view), the provinces are. */
const NAME_DISTRICTS_UP_TO = 40;

interface Area {
  readonly id: string;
  readonly name: string;
  readonly hull: [number, number][];
  readonly cx: number;
  readonly cy: number;
  readonly stations: number;
}

/** Each group's hull and centre, largest group first (then by id). */
function areas(groups: ReadonlyMap<string, { name: string; points: [number, number][] }>): Area[] {
  return [...groups]
    .map(([id, g]) => {
      const hull = convexHull(g.points);
      const cx = hull.reduce((s, [x]) => s + x, 0) / hull.length;
      const cy = hull.reduce((s, [, y]) => s + y, 0) / hull.length;
      return { id, name: g.name, hull, cx, cy, stations: g.points.length };
    })
    .sort((a, b) => b.stations - a.stations || (a.id < b.id ? -1 : 1));
}

/** Labels placed greedily, largest area first, wherever a label stays inside the picture and off every label placed before. */
function labels(list: readonly Area[], kind: "district" | "province", width: number, height: number): Html[] {
  const size = kind === "province" ? 12 : 11;
  const placed: Box[] = [];
  const out: Html[] = [];
  for (const a of list) {
    const box = labelBox(a.name, a.cx, a.cy, size);
    if (box.x0 < 0 || box.x1 > width || box.y0 < 0 || box.y1 > height || placed.some((b) => overlaps(b, box))) continue;
    placed.push(box);
    out.push(html`<text class="label label-${kind}" x="${f1(a.cx)}" y="${f1(a.cy)}" text-anchor="middle">${a.name}</text>`);
  }
  return out;
}

/** The map as an <svg class="map" id="map">; an empty input draws the country alone. */
export function stationsMap(input: MapInput, o: MapOptions): Html {
  const width = o.width ?? 760;
  const height = o.height ?? 600;
  const { countries, iran } = loadWorld();
  const pad = 16;
  const projection = conic().fitExtent(
    [
      [pad, pad],
      [width - pad, height - pad],
    ],
    input.points.length > 0 ? extentOf(input.points) : iran,
  );
  projection.clipExtent([
    [0, 0],
    [width, height],
  ]);
  const path = geoPath(projection).digits(1);
  const land = countries
    .filter((c) => c.id !== IRAN)
    .map((c) => path(c.geometry) ?? "")
    .filter((d) => d !== "")
    .join("");
  const iranPath = path(iran) ?? "";

  // Stations: project once, bin into cells, and gather each district's points.
  const cell = input.points.length > 5000 ? 4 : input.points.length > 500 ? 5 : 8;
  const cols = Math.ceil(width / cell) + 1;
  const cells = new Map<number, Record<StationStatus, number>>();
  const byDistrict = new Map<string, [number, number][]>();
  for (const p of input.points) {
    const xy = projection([p.lon, p.lat]);
    if (xy === null) continue;
    const [x, y] = xy;
    const key = Math.floor(y / cell) * cols + Math.floor(x / cell);
    let c = cells.get(key);
    if (c === undefined) {
      c = { ready: 0, partial: 0, down: 0, unknown: 0 };
      cells.set(key, c);
    }
    c[p.status]++;
    const list = byDistrict.get(p.district);
    if (list === undefined) byDistrict.set(p.district, [[x, y]]);
    else list.push([x, y]);
  }
  const paths: Record<StationStatus, string[]> = { ready: [], partial: [], down: [], unknown: [] };
  for (const [key, c] of cells) {
    const x = (key % cols) * cell;
    const y = Math.floor(key / cols) * cell;
    paths[cellStatus(c)].push(`M${x} ${y}h${cell - 1}v${cell - 1}h-${cell - 1}z`);
  }
  // Worst drawn last, so it is on top.
  const order: StationStatus[] = ["unknown", "ready", "partial", "down"];
  const cellLayers = order
    .filter((s) => paths[s].length > 0)
    .map((s) => html`<path class="cells cells-${s}" fill="${MAP_COLOURS[s]}" d="${paths[s].join("")}"/>`);

  // Districts as hulls, each naming itself on hover. Names on the picture: each district's when few
  // are drawn, else each province's (the hull of its districts' stations), drawn above the cells.
  const districtOf = new Map(input.districts.map((d) => [d.id, d]));
  const groups = new Map<string, { name: string; points: [number, number][] }>();
  for (const [id, points] of byDistrict) {
    const d = districtOf.get(id);
    if (d !== undefined) groups.set(id, { name: d.name, points });
  }
  const drawn = areas(groups);
  const districts = drawn.map((d) => {
    const hover = `${d.name} (${d.id}): ${num(d.stations, o.lang)}`;
    return html`<g class="district" id="map-${d.id}"><title>${hover}</title><path class="hull" d="${hullPath(d.hull)}"/></g>`;
  });
  let provinces: Html[] = [];
  let names: Html[];
  if (drawn.length <= NAME_DISTRICTS_UP_TO) names = labels(drawn, "district", width, height);
  else {
    const byProvince = new Map<string, { name: string; points: [number, number][] }>();
    for (const [id, g] of groups) {
      const province = districtOf.get(id)?.province;
      if (province === undefined) continue;
      const p = byProvince.get(province) ?? { name: provinceName(province, o.lang), points: [] };
      for (const xy of g.points) p.points.push(xy);
      byProvince.set(province, p);
    }
    const shown = areas(byProvince);
    provinces = shown.map((p) => html`<path class="province" data-province="${p.id}" d="${hullPath(p.hull)}"/>`);
    names = labels(shown, "province", width, height);
  }

  const counts: Record<StationStatus, number> = { ready: 0, partial: 0, down: 0, unknown: 0 };
  for (const p of input.points) counts[p.status]++;
  const body = html`<rect class="water" width="${width}" height="${height}" fill="#dceaf3"/>
<path class="land" d="${land}" fill="#eeebe4" stroke="#c4bdb0" stroke-width="0.6"/>
<path class="country" d="${iranPath}" fill="#f3ecd9" stroke="#5d5446" stroke-width="1.4"/>
<g class="${drawn.length <= NAME_DISTRICTS_UP_TO ? "districts" : "districts many"}">${districts}</g>
<g class="provinces">${provinces}</g>
<g class="stations">${cellLayers}</g>
<g class="labels">${names}</g>
${locator(input, projection, width, height, iran)}
${legend(counts, o.lang, width)}`;
  const box = `0 0 ${width} ${height}`;
  const label = o.title;
  return html`<svg id="map" class="map" xmlns="http://www.w3.org/2000/svg" viewBox="${box}" width="${width}" height="${height}"
 role="img" aria-label="${label}" direction="ltr">${body}</svg>`;
}

/** Where a close-up is: the whole country small in a corner, the view as a blue box; nothing when the view is most of the country. */
function locator(input: MapInput, view: GeoProjection, width: number, height: number, iran: GeoPermissibleObjects): Html | undefined {
  if (input.points.length === 0) return undefined;
  const whole = geoPath(conic().fitWidth(width, iran)).bounds(iran);
  const shown = geoPath(conic().fitWidth(width, iran)).bounds(extentOf(input.points));
  if ((shown[1][0] - shown[0][0]) / (whole[1][0] - whole[0][0]) > LOCATOR_BELOW) return undefined;
  const size = Math.min(150, width / 4);
  const x0 = 8;
  const y0 = height - size - 8;
  const small = conic().fitExtent(
    [
      [x0 + 6, y0 + 6],
      [x0 + size - 6, y0 + size - 6],
    ],
    iran,
  );
  const smallPath = geoPath(small).digits(1);
  const corners = [view.invert?.([0, 0]), view.invert?.([width, 0]), view.invert?.([width, height]), view.invert?.([0, height])];
  const ring = corners.map((c) => (c === null || c === undefined ? null : small(c))).filter((c): c is [number, number] => c !== null);
  const frame = ring.length === 4 ? `M${ring.map(([x, y]) => `${f1(x)} ${f1(y)}`).join("L")}z` : "";
  const back = html`<rect x="${x0}" y="${y0}" width="${size}" height="${size}" fill="#fff" stroke="#999" opacity="0.92"/>`;
  const country = html`<path d="${smallPath(iran) ?? ""}" fill="#faf7f0" stroke="#5d5446" stroke-width="0.8"/>`;
  return html`<g class="locator">${back}${country}<path class="view" d="${frame}" fill="none" stroke="#1565c0" stroke-width="1.5"/></g>`;
}

/** The legend in the picture's top corner (right in Persian, left in English): a swatch and `status: count` per status. */
function legend(counts: Readonly<Record<StationStatus, number>>, lang: Lang, width: number): Html {
  const statuses: StationStatus[] = ["ready", "partial", "down", "unknown"];
  const words = WORDS[lang].status;
  const rows = statuses.map((s, i) => {
    const y = 14 + i * 18;
    const text = `${words[s]}: ${num(counts[s], lang)}`;
    const swatch = html`<rect x="${lang === "fa" ? width - 22 : 10}" y="${y}" width="12" height="12" fill="${MAP_COLOURS[s]}"/>`;
    return lang === "fa"
      ? html`${swatch}<text class="legend-text" x="${width - 28}" y="${y + 11}" direction="rtl" text-anchor="start">${text}</text>`
      : html`${swatch}<text class="legend-text" x="28" y="${y + 11}" text-anchor="start">${text}</text>`;
  });
  const bx = lang === "fa" ? width - 150 : 4;
  return html`<g class="legend"><rect x="${bx}" y="6" width="146" height="${statuses.length * 18 + 10}" fill="#fff" opacity="0.85" rx="4"/>${rows}</g>`;
}
