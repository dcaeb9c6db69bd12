import type { ReportData, StationStatus } from "./data.ts";

/**
 * The stations map's geometry, drawn as SVG by html.ts (ADR 0005, no charting
 * library): stations are binned into square cells of a few pixels, each cell
 * coloured by its worst-off share, and all cells of one colour are one path.
 * So 60,000 stations cost a few thousand short path segments (well under a
 * megabyte), the map renders without JavaScript, and it stays readable where
 * thousands of stations share a city. Only numbers leave this module: the
 * markup, and the escaping of anything in it, is html.ts's.
 */

export const MAP_COLOURS: Readonly<Record<StationStatus, string>> = {
  ready: "#2e7d32",
  partial: "#f9a825",
  down: "#c62828",
  unknown: "#9e9e9e",
};

export interface MapOptions {
  readonly width: number;
  readonly height: number;
}

/** One colour's cells: an SVG path (`M x y h v h z` per cell), numbers and path letters only. */
export interface MapLayer {
  readonly status: StationStatus;
  readonly d: string;
}

/** A cell's colour: down if more than a tenth of its stations are down, then partial, then ready; grey if nothing is known. */
function cellStatus(c: Record<StationStatus, number>): StationStatus {
  const known = c.ready + c.partial + c.down;
  if (known === 0) return "unknown";
  if (c.down * 10 > known) return "down";
  if ((c.down + c.partial) * 10 > known) return "partial";
  return "ready";
}

export function mapLayers(data: ReportData, o: MapOptions): MapLayer[] {
  const pts = data.points;
  const pad = 12;
  let minLat = Infinity;
  let maxLat = -Infinity;
  let minLon = Infinity;
  let maxLon = -Infinity;
  for (const p of pts) {
    if (p.lat < minLat) minLat = p.lat;
    if (p.lat > maxLat) maxLat = p.lat;
    if (p.lon < minLon) minLon = p.lon;
    if (p.lon > maxLon) maxLon = p.lon;
  }
  if (pts.length === 0) return [];
  // Equirectangular with the longitude scaled by cos(latitude): right enough for one country.
  const midLat = ((minLat + maxLat) / 2) * (Math.PI / 180);
  const spanX = Math.max((maxLon - minLon) * Math.cos(midLat), 0.01);
  const spanY = Math.max(maxLat - minLat, 0.01);
  const scale = Math.min((o.width - 2 * pad) / spanX, (o.height - 2 * pad) / spanY);
  const cell = pts.length > 5000 ? 4 : pts.length > 500 ? 6 : pts.length > 50 ? 10 : 14;
  const cols = Math.ceil(o.width / cell);
  const cells = new Map<number, Record<StationStatus, number>>();
  for (const p of pts) {
    const x = pad + (p.lon - minLon) * Math.cos(midLat) * scale;
    const y = o.height - pad - (p.lat - minLat) * scale;
    const key = Math.floor(y / cell) * cols + Math.floor(x / cell);
    let c = cells.get(key);
    if (c === undefined) {
      c = { ready: 0, partial: 0, down: 0, unknown: 0 };
      cells.set(key, c);
    }
    c[p.status]++;
  }
  const paths: Record<StationStatus, string[]> = { ready: [], partial: [], down: [], unknown: [] };
  for (const [key, c] of cells) {
    const x = (key % cols) * cell;
    const y = Math.floor(key / cols) * cell;
    paths[cellStatus(c)].push(`M${x} ${y}h${cell - 1}v${cell - 1}h-${cell - 1}z`);
  }
  // Worst drawn last, so it is on top.
  const order: StationStatus[] = ["unknown", "ready", "partial", "down"];
  return order.filter((s) => paths[s].length > 0).map((s) => ({ status: s, d: paths[s].join("") }));
}
