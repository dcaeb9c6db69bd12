import { writeFileAtomic } from "../../lib/fs.ts";
import type { Inventory } from "../../model/index.ts";
import { type Lang, instant, num, WORDS } from "./i18n.ts";
import { type Html, html, htmlPage, join, ltr, pageAssets, PAGE_CSS } from "./markup.ts";

/**
 * The rehearsal drawn (`amadegi rehearsal status --html FILE`): its namespaces
 * (probing, core with every server, one per operator), the veths between them,
 * and every station's links, each coloured by what `rehearsal status` found.
 * One self-contained page, inline SVG, Persian first like report.html.
 *
 * The readiness layer may not import the rehearsal's modules
 * (test/architecture/layers.test.ts), so this module names the part of a plan
 * and of a status it reads; the CLI passes the rehearsal's own Plan and
 * RehearsalStatus, which TypeScript checks against these shapes.
 *
 * Links are not drawn one by one (the sample has 2,831): they are counted per
 * operator × district, each cell a bar of the states' shares. A link's state is
 * derived, never measured (status sends no packet): see `linkStates`.
 */

/** What the picture reads of the rehearsal's plan (src/rehearsal/plan.ts). */
export interface PlanView {
  readonly core: string;
  readonly probe: string;
  readonly namespaces: readonly { readonly name: string; readonly role: "core" | "probe" | "operator"; readonly operator?: string }[];
  readonly veths: readonly { readonly aNs: string; readonly aIf: string; readonly bNs: string; readonly bIf: string; readonly alias: string }[];
  readonly servers: readonly { readonly id: string; readonly address: string; readonly port: number; readonly roles: readonly string[] }[];
  readonly operators: readonly {
    readonly id: string;
    readonly ns: string;
    readonly interconnects: number;
    readonly blind: readonly { readonly link: string }[];
    readonly weak: readonly { readonly link: string }[];
  }[];
  readonly hash: string;
}

/** What the picture reads of `rehearsal status` (src/rehearsal/status.ts). */
export interface StatusView {
  readonly exists: boolean;
  readonly whole: boolean;
  readonly matchesInventory: boolean;
  readonly marker?: { readonly complete: boolean; readonly startedAt: string; readonly steps: number };
  readonly namespaces: readonly { readonly name: string; readonly exists: boolean; readonly problems: readonly string[] }[];
  readonly strayNamespaces: readonly string[];
  readonly servers: readonly { readonly id: string; readonly listening: boolean; readonly pid?: number; readonly restarts?: number }[];
  readonly supervisor?: { readonly pid: number; readonly alive: boolean };
  readonly pins: boolean;
  readonly problems: readonly string[];
}

export interface RehearsalPictureInput {
  readonly inventory: Pick<Inventory, "election" | "operators" | "districts" | "stations">;
  readonly plan: PlanView;
  readonly status: StatusView;
  /** The link states the rehearsal answers (its ANSWERING_STATES: installed, live). */
  readonly answering: ReadonlySet<string>;
}

export const NS_STATES = ["up", "damaged", "down"] as const;
export type NsState = (typeof NS_STATES)[number];
export const LINK_STATES = ["up", "lossy", "blind", "unknown", "down", "absent"] as const;
export type LinkDrawn = (typeof LINK_STATES)[number];
export const STATION_STATES = ["path", "unknown", "none"] as const;
export type StationDrawn = (typeof STATION_STATES)[number];
type VethState = "up" | "down";

export interface Picture {
  readonly state: "whole" | "not-whole" | "not-up";
  readonly namespaces: readonly { readonly name: string; readonly role: string; readonly operator?: string; readonly state: NsState }[];
  readonly stray: readonly string[];
  readonly veths: readonly {
    readonly aNs: string;
    readonly aIf: string;
    readonly bNs: string;
    readonly bIf: string;
    readonly alias: string;
    readonly state: VethState;
  }[];
  readonly servers: readonly { readonly id: string; readonly address: string; readonly port: number; readonly gateway: boolean; readonly listening: boolean }[];
  readonly operators: readonly {
    readonly id: string;
    readonly name: string;
    readonly ns: string;
    readonly interconnects: number;
    readonly path: "up" | "unknown" | "down";
  }[];
  readonly districts: readonly { readonly id: string; readonly name: string; readonly stations: Readonly<Record<StationDrawn, number>> }[];
  /** One per operator × district that has links, operators and districts in the picture's order. */
  readonly cells: readonly {
    readonly operator: string;
    readonly district: string;
    readonly counts: Readonly<Record<LinkDrawn, number>>;
    readonly total: number;
  }[];
  readonly links: Readonly<Record<LinkDrawn, number>>;
  readonly stations: Readonly<Record<StationDrawn, number>>;
  /** Links whose operator the plan lacks (validate refuses such an inventory): counted, not drawn. */
  readonly unplanned: number;
}

const zero = <K extends string>(keys: readonly K[]): Record<K, number> => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

/** A veth is down when either end's namespace is missing or status names one of its two interfaces (missing, or not UP). */
function vethState(v: PlanView["veths"][number], ns: (name: string) => StatusView["namespaces"][number] | undefined): VethState {
  const end = (name: string, ifname: string): boolean => {
    const found = ns(name);
    return found !== undefined && found.exists && !found.problems.some((p) => p.startsWith(`interface ${ifname} `));
  };
  return end(v.aNs, v.aIf) && end(v.bNs, v.bIf) ? "up" : "down";
}

/**
 * What can be known of each link without sending a packet, in this order: not
 * built (no address, or a state the rehearsal does not answer); down when its
 * operator's namespace or the core is missing, or no veth joins them; unknown
 * when either namespace is there with problems (status counts missing address
 * blocks and routes, not which); a blind spot or weak link as the plan's survey
 * model drops it; else it answers.
 */
export function rehearsalPicture(input: RehearsalPictureInput): Picture {
  const { inventory, plan, status } = input;
  const statusOf = new Map(status.namespaces.map((n) => [n.name, n]));
  const nsState = (name: string): NsState => {
    const s = statusOf.get(name);
    return s === undefined || !s.exists ? "down" : s.problems.length > 0 ? "damaged" : "up";
  };
  const veths = plan.veths.map((v) => ({ ...v, state: vethState(v, (n) => statusOf.get(n)) }));
  const operatorName = new Map(inventory.operators.map((o) => [o.id, o.name]));
  const operators = plan.operators.map((o) => {
    const own = veths.filter((v) => v.bNs === o.ns);
    const ends = [nsState(plan.core), nsState(o.ns)];
    const path =
      ends.includes("down") || own.length === 0 || own.every((v) => v.state === "down")
        ? ("down" as const)
        : ends.includes("damaged") || own.some((v) => v.state === "down")
          ? ("unknown" as const)
          : ("up" as const);
    return { id: o.id, name: operatorName.get(o.id) ?? o.id, ns: o.ns, interconnects: o.interconnects, path };
  });
  const pathOf = new Map(operators.map((o) => [o.id, o.path]));
  const blind = new Set(plan.operators.flatMap((o) => o.blind.map((b) => b.link)));
  const weak = new Set(plan.operators.flatMap((o) => o.weak.map((w) => w.link)));

  const districtIds = [...new Set([...inventory.districts.map((d) => d.id), ...inventory.stations.map((s) => s.district)])];
  const districtName = new Map(inventory.districts.map((d) => [d.id, d.name]));
  const cellCounts = new Map<string, Record<LinkDrawn, number>>();
  const stationsOf = new Map(districtIds.map((d) => [d, zero(STATION_STATES)]));
  const links = zero(LINK_STATES);
  const stations = zero(STATION_STATES);
  let unplanned = 0;
  for (const station of inventory.stations) {
    const seen = new Set<LinkDrawn>();
    for (const link of station.links) {
      const path = pathOf.get(link.operator);
      if (path === undefined) {
        unplanned += 1;
        continue;
      }
      const drawn: LinkDrawn =
        link.address === undefined || !input.answering.has(link.lifecycle.state)
          ? "absent"
          : path !== "up"
            ? path
            : blind.has(link.id)
              ? "blind"
              : weak.has(link.id)
                ? "lossy"
                : "up";
      seen.add(drawn);
      links[drawn] += 1;
      const key = `${link.operator}\u0000${station.district}`;
      const cell = cellCounts.get(key) ?? zero(LINK_STATES);
      cell[drawn] += 1;
      cellCounts.set(key, cell);
    }
    const drawn: StationDrawn = seen.has("up") || seen.has("lossy") ? "path" : seen.has("unknown") ? "unknown" : "none";
    stations[drawn] += 1;
    const tally = stationsOf.get(station.district);
    if (tally !== undefined) tally[drawn] += 1;
  }
  const cells = operators.flatMap((o) =>
    districtIds.flatMap((d) => {
      const counts = cellCounts.get(`${o.id}\u0000${d}`);
      return counts === undefined ? [] : [{ operator: o.id, district: d, counts, total: LINK_STATES.reduce((n, s) => n + counts[s], 0) }];
    }),
  );
  const gateway = (roles: readonly string[]): boolean => roles.includes("gateway");
  const listening = new Map(status.servers.map((s) => [s.id, s.listening]));
  return {
    state: status.whole ? "whole" : status.exists ? "not-whole" : "not-up",
    namespaces: plan.namespaces.map((n) => ({
      name: n.name,
      role: n.role,
      ...(n.operator === undefined ? {} : { operator: n.operator }),
      state: nsState(n.name),
    })),
    stray: status.strayNamespaces,
    veths,
    servers: plan.servers.map((s) => ({ id: s.id, address: s.address, port: s.port, gateway: gateway(s.roles), listening: listening.get(s.id) === true })),
    operators,
    districts: districtIds.map((d) => ({ id: d, name: districtName.get(d) ?? d, stations: stationsOf.get(d) ?? zero(STATION_STATES) })),
    cells,
    links,
    stations,
    unplanned,
  };
}

// ------------------------------------------------------------------------------------------
// The page.

const COLOURS = {
  ns: { up: "#e8f5e9", damaged: "#fff3e0", down: "#ffebee" },
  nsStroke: { up: "#2e7d32", damaged: "#ef6c00", down: "#c62828" },
  link: { up: "#2e7d32", lossy: "#f9a825", blind: "#6d4c41", unknown: "#ef6c00", down: "#c62828", absent: "#bdbdbd" },
  station: { path: "#2e7d32", unknown: "#ef6c00", none: "#c62828" },
  veth: { up: "#2e7d32", down: "#c62828" },
  server: { up: "#2e7d32", down: "#c62828" },
  state: { whole: "#2e7d32", "not-whole": "#c62828", "not-up": "#616161" },
} as const;

const rules = (prefix: string, table: Readonly<Record<string, string>>, property: string): string =>
  Object.entries(table)
    .map(([k, v]) => `${prefix}${k}{${property}:${v}}`)
    .join("");

const CSS = `${PAGE_CSS}
main{max-width:1280px;margin:0 auto;padding:16px}
.state{color:#fff;padding:16px 20px;border-radius:8px;margin:12px 0}
${rules(".state-", COLOURS.state, "background")}
.state .big{font-size:2rem;font-weight:bold;display:block}
svg#rehearsal{max-width:100%;height:auto;border:1px solid #e0e0e0;border-radius:6px;background:#fafafa}
svg text{font-size:12px;fill:#1c1c1c;stroke:none}
svg text.small{font-size:10px;fill:#555}
svg text.mid{text-anchor:middle}
.box{stroke-width:1.5}
${rules("rect.ns-", COLOURS.ns, "fill")}
${rules("rect.ns-", COLOURS.nsStroke, "stroke")}
rect.ns-stray{fill:#f3e5f5;stroke:#6a1b9a;stroke-dasharray:4 3}
.noic{stroke-dasharray:5 4}
${rules("g.srv-", COLOURS.server, "fill")}
g.rh-srv text{fill:#fff;font-weight:bold}
rect.gw{stroke:#0d47a1;stroke-width:3}
${rules(".veth-", COLOURS.veth, "stroke")}
line.veth{stroke-width:3}
line.trunk{stroke:#cfd8dc;stroke-width:6}
rect.track{fill:#fff;stroke:#9e9e9e;stroke-width:.5}
${rules(".lk-", COLOURS.link, "fill")}
${rules(".st-", COLOURS.station, "fill")}
.legend{display:flex;flex-wrap:wrap;gap:4px 18px;margin:10px 0}
.legend div{min-width:220px}
.legend b{display:block}
.legend span{display:block}
.legend i{display:inline-block;width:12px;height:12px;margin-inline-end:6px;vertical-align:middle;border:1px solid #999}
${rules(".legend .lk-", COLOURS.link, "background")}
${rules(".legend .st-", COLOURS.station, "background")}
${rules(".legend .ns-", COLOURS.ns, "background")}
${rules(".legend .ns-", COLOURS.nsStroke, "border-color")}
.legend .ns-stray{background:#f3e5f5;border-color:#6a1b9a}
${rules(".legend .veth-", COLOURS.veth, "background")}
${rules(".legend .srv-", COLOURS.server, "background")}
.legend .gw{border:3px solid #0d47a1}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{border-bottom:1px solid #e4e4e4;padding:4px 6px;text-align:start;vertical-align:top}
th{background:#f5f5f5}
td.n{text-align:end;white-space:nowrap}
footer{color:#777;font-size:.8rem;margin-top:2em}
`;

const ASSETS = pageAssets(CSS);

/** The geometry, in pixels. */
const G = { pad: 16, label: 240, col: 160, stations: 200, probeW: 300, boxH: 46, chipW: 124, chipH: 24, gap: 6, opH: 62, row: 42, bar: 12 } as const;

/** At most `n` characters (code points: a surrogate pair is never cut), the rest as "…": the whole is in the element's <title>. */
function clip(text: string, n: number): string {
  const chars = Array.from(text);
  return chars.length <= n ? text : `${chars.slice(0, n - 1).join("")}…`;
}

/** Persian's own comma and semicolon. */
const COMMA = { fa: "، ", en: ", " } as const;
const SEMI = { fa: "؛ ", en: "; " } as const;

const sum = (r: Readonly<Record<string, number>>): number => Object.values(r).reduce((a, b) => a + b, 0);

function svgPicture(p: Picture, lang: Lang): Html {
  const w = WORDS[lang].rehearsal;
  const ops = p.operators;
  const inner = Math.max(G.label + Math.max(ops.length, 1) * G.col + G.stations, 720);
  const width = inner + 2 * G.pad;
  // Laid out from the start side; Persian's start is the right, so x is mirrored there.
  const X = (x: number, span = 0): number => (lang === "fa" ? width - x - span : x);
  const nsState = new Map(p.namespaces.map((n) => [n.name, n.state]));
  const stateOf = (name: string): NsState => nsState.get(name) ?? "down";
  const parts: Html[] = [];

  // The probing namespace.
  const probe = p.namespaces.find((n) => n.role === "probe");
  const probeX = (width - G.probeW) / 2;
  const probeY = G.pad;
  if (probe !== undefined) {
    const box = html`<rect class="box ns-${probe.state}" x="${probeX}" y="${probeY}" width="${G.probeW}" height="${G.boxH}" rx="6"/>`;
    const label = html`<text class="mid" x="${width / 2}" y="${probeY + 19}">${probe.name}</text>`;
    const role = html`<text class="mid small" x="${width / 2}" y="${probeY + 36}">${w.role.probe} — ${w.ns[probe.state]}</text>`;
    parts.push(html`<g class="rh-ns ns-${probe.state}" data-ns="${probe.name}"><title>${probe.name}: ${w.ns[probe.state]}</title>${box}${label}${role}</g>`);
  }

  // The core with every server.
  const core = p.namespaces.find((n) => n.role === "core");
  const coreY = probeY + G.boxH + 40;
  const perRow = Math.max(1, Math.floor((inner - 16 + G.gap) / (G.chipW + G.gap)));
  const chipRows = Math.max(1, Math.ceil(p.servers.length / perRow));
  const coreH = 50 + chipRows * (G.chipH + G.gap) + 6;
  for (const v of p.veths.filter((v) => v.bNs === probe?.name)) {
    const x = width / 2;
    const line = html`<line class="veth veth-${v.state}" x1="${x}" y1="${probeY + G.boxH}" x2="${x}" y2="${coreY}"/>`;
    parts.push(html`<g class="rh-veth"><title>${v.alias}: ${v.aIf} ↔ ${v.bIf} — ${w.veth[v.state]}</title>${line}</g>`);
  }
  if (core !== undefined) {
    const listening = p.servers.filter((s) => s.listening).length;
    const box = html`<rect class="box ns-${core.state}" x="${G.pad}" y="${coreY}" width="${inner}" height="${coreH}" rx="6"/>`;
    const label = html`<text x="${X(G.pad + 10)}" y="${coreY + 18}">${core.name} — ${w.role.core} — ${w.ns[core.state]}</text>`;
    const sshd = html`<text class="small" x="${X(G.pad + 10)}" y="${coreY + 36}">sshd ${num(listening, lang)}/${num(p.servers.length, lang)}</text>`;
    const chips = p.servers.map((s, i) => {
      const x = X(G.pad + 8 + (i % perRow) * (G.chipW + G.gap), G.chipW);
      const y = coreY + 46 + Math.floor(i / perRow) * (G.chipH + G.gap);
      const state = s.listening ? "up" : "down";
      const rect = html`<rect class="${s.gateway ? "gw" : ""}" x="${x}" y="${y}" width="${G.chipW}" height="${G.chipH}" rx="4"/>`;
      const text = html`<text class="mid" x="${x + G.chipW / 2}" y="${y + 16}">${clip(s.id, 16)}</text>`;
      const title = html`<title>${s.id} ${s.address}:${s.port}${s.gateway ? html` — ${w.server.gateway}` : undefined} — ${w.server[state]}</title>`;
      return html`<g class="rh-srv srv-${state}" data-server="${s.id}">${title}${rect}${text}</g>`;
    });
    const title = html`<title>${core.name}: ${w.ns[core.state]}</title>`;
    parts.push(html`<g class="rh-ns ns-${core.state}" data-ns="${core.name}">${title}${box}${label}${sshd}${chips}</g>`);
  }

  // The operators, each a column: its namespace, its veths up to the core, its links per district below.
  const opY = coreY + coreH + 64;
  const matrixY = opY + G.opH + 24;
  const colX = (i: number): number => G.pad + G.label + i * G.col;
  const rowsH = p.districts.length * G.row;
  ops.forEach((o, i) => {
    const x0 = colX(i) + 8;
    const boxW = G.col - 16;
    const centre = X(x0, boxW) + boxW / 2;
    parts.push(html`<line class="trunk" x1="${centre}" y1="${opY + G.opH}" x2="${centre}" y2="${matrixY + rowsH}"/>`);
    const own = p.veths.filter((v) => v.bNs === o.ns);
    own.forEach((v, j) => {
      const x = centre + (j - (own.length - 1) / 2) * 12;
      const line = html`<line class="veth veth-${v.state}" x1="${x}" y1="${coreY + coreH}" x2="${x}" y2="${opY}"/>`;
      parts.push(html`<g class="rh-veth"><title>${v.alias}: ${v.aIf} ↔ ${v.bIf} — ${w.veth[v.state]}</title>${line}</g>`);
    });
    const state = stateOf(o.ns);
    const frame = `box ns-${state}${o.interconnects === 0 ? " noic" : ""}`;
    const box = html`<rect class="${frame}" x="${X(x0, boxW)}" y="${opY}" width="${boxW}" height="${G.opH}" rx="6"/>`;
    const name = html`<text class="mid" x="${centre}" y="${opY + 18}">${clip(o.name, 20)}</text>`;
    const nsName = html`<text class="mid small" x="${centre}" y="${opY + 34}">${clip(o.ns, 26)}</text>`;
    const links = p.cells.filter((c) => c.operator === o.id).reduce((n, c) => n + c.total, 0);
    const third = o.interconnects === 0 ? w.noInterconnect : `${num(links, lang)} ${w.nLinks} — ${w.ns[state]}`;
    const info = html`<text class="mid small" x="${centre}" y="${opY + 51}">${clip(third, 30)}</text>`;
    const alone = o.interconnects === 0 ? html` — ${w.noInterconnect}` : undefined;
    const title = html`<title>${w.role.operator} ${o.name} (${o.id})${COMMA[lang]}${o.ns}: ${w.ns[state]}${alone}</title>`;
    parts.push(html`<g class="rh-ns ns-${state}" data-ns="${o.ns}">${title}${box}${name}${nsName}${info}</g>`);
  });

  // The districts: a label, a cell per operator, and the district's stations.
  const stationsX = colX(ops.length) + 8;
  const stationsW = G.stations - 24;
  parts.push(html`<text class="mid" x="${X(stationsX, stationsW) + stationsW / 2}" y="${opY + G.opH}">${w.stations}</text>`);
  const bar = (x: number, y: number, span: number, counts: Readonly<Record<string, number>>, keys: readonly string[], prefix: string): Html => {
    const total = sum(counts);
    let at = 0;
    const segments = keys.map((k) => {
      const n = counts[k] ?? 0;
      if (n === 0 || total === 0) return undefined;
      const from = Math.round((at / total) * span);
      at += n;
      const to = Math.round((at / total) * span);
      return html`<rect class="seg ${prefix}${k}" x="${X(x + from, to - from)}" y="${y}" width="${to - from}" height="${G.bar}"/>`;
    });
    return html`<rect class="track" x="${X(x, span)}" y="${y}" width="${span}" height="${G.bar}"/>${segments}`;
  };
  const cellOf = new Map(p.cells.map((c) => [`${c.operator}\u0000${c.district}`, c]));
  p.districts.forEach((d, r) => {
    const y = matrixY + r * G.row;
    const stationsTotal = sum(d.stations);
    const label = html`<text x="${X(G.pad + 4)}" y="${y + 16}">${clip(d.name, 34)}</text>`;
    const id = html`<text class="small" x="${X(G.pad + 4)}" y="${y + 32}">${clip(d.id, 30)}</text>`;
    parts.push(html`<g class="rh-district" data-district="${d.id}"><title>${w.district} ${d.name} (${d.id})</title>${label}${id}</g>`);
    ops.forEach((o, i) => {
      const cell = cellOf.get(`${o.id}\u0000${d.id}`);
      const x = colX(i) + 12;
      const span = G.col - 24;
      const centre = X(x, span) + span / 2;
      if (cell === undefined) {
        parts.push(html`<text class="mid small" x="${centre}" y="${y + 20}">—</text>`);
        return;
      }
      const shares = LINK_STATES.filter((s) => cell.counts[s] > 0).map((s) => `${w.link[s]} ${num(cell.counts[s], lang)}`);
      const title = html`<title>${o.name} (${o.id}) × ${d.name} (${d.id}): ${num(cell.total, lang)} ${w.nLinks} — ${join(shares, COMMA[lang])}</title>`;
      const count = html`<text class="mid" x="${centre}" y="${y + 34}">${num(cell.total, lang)}</text>`;
      const body = html`${title}${bar(x, y + 8, span, cell.counts, LINK_STATES, "lk-")}${count}`;
      parts.push(html`<g class="rh-cell" data-operator="${o.id}" data-district="${d.id}" data-links="${String(cell.total)}">${body}</g>`);
    });
    const path = `${num(stationsTotal, lang)} — ${w.station.path} ${num(d.stations.path, lang)}`;
    const shares = STATION_STATES.map((s) => `${w.station[s]} ${num(d.stations[s], lang)}`);
    const title = html`<title>${d.name} (${d.id}): ${num(stationsTotal, lang)} ${WORDS[lang].stations} — ${join(shares, COMMA[lang])}</title>`;
    const text = html`<text class="mid small" x="${X(stationsX, stationsW) + stationsW / 2}" y="${y + 34}">${path}</text>`;
    parts.push(html`<g class="rh-stations" data-district="${d.id}">${title}${bar(stationsX, y + 8, stationsW, d.stations, STATION_STATES, "st-")}${text}</g>`);
  });

  // Namespaces with the prefix that the plan does not have.
  let height = matrixY + rowsH + 8;
  if (p.stray.length > 0) {
    height += 8;
    parts.push(html`<text x="${X(G.pad + 4)}" y="${height + 12}">${w.stray}</text>`);
    const strayW = 200;
    p.stray.forEach((name, i) => {
      const x = X(G.pad + G.label + (i % 4) * (strayW + 8), strayW);
      const y = height + Math.floor(i / 4) * 30;
      const frame = html`<rect class="box ns-stray" x="${x}" y="${y}" width="${strayW}" height="24" rx="4"/>`;
      const label = html`<text class="mid small" x="${x + strayW / 2}" y="${y + 16}">${clip(name, 30)}</text>`;
      parts.push(html`<g class="rh-stray" data-ns="${name}"><title>${name}: ${w.ns.stray}</title>${frame}${label}</g>`);
    });
    height += Math.ceil(p.stray.length / 4) * 30;
  }
  height += G.pad;
  const box = `0 0 ${width} ${height}`;
  return html`<svg id="rehearsal" xmlns="http://www.w3.org/2000/svg" viewBox="${box}" width="${width}" height="${height}"
 role="img" aria-label="${w.title}">${parts}</svg>`;
}

function legend(p: Picture, lang: Lang): Html {
  const w = WORDS[lang].rehearsal;
  const item = (cls: string, text: string, n?: number): Html => html`<span><i class="${cls}"></i>${text}${n === undefined ? "" : `: ${num(n, lang)}`}</span>`;
  const count = <T extends string>(states: readonly T[], of: readonly { readonly state: T }[]): Record<T, number> => {
    const r = zero(states);
    for (const x of of) r[x.state] += 1;
    return r;
  };
  const ns = count(NS_STATES, p.namespaces);
  const veth = count(["up", "down"] as const, p.veths);
  const listening = p.servers.filter((s) => s.listening).length;
  const stray = p.stray.length > 0 ? item("ns-stray", w.ns.stray, p.stray.length) : undefined;
  const gateways = p.servers.filter((s) => s.gateway).length;
  const servers = [
    item("srv-up", w.server.up, listening),
    item("srv-down", w.server.down, p.servers.length - listening),
    item("gw", w.server.gateway, gateways),
  ];
  return html`<div class="legend" id="legend">
<div><b>${w.namespaces}</b>${NS_STATES.map((s) => item(`ns-${s}`, w.ns[s], ns[s]))}${stray}</div>
<div><b>${w.servers}</b>${servers}</div>
<div><b>${w.veths}</b>${item("veth-up", w.veth.up, veth.up)}${item("veth-down", w.veth.down, veth.down)}</div>
<div><b>${w.links}</b>${LINK_STATES.map((s) => item(`lk-${s}`, w.link[s], p.links[s]))}</div>
<div><b>${w.stations}</b>${STATION_STATES.map((s) => item(`st-${s}`, w.station[s], p.stations[s]))}</div>
</div>`;
}

function statusSection(input: RehearsalPictureInput, p: Picture, lang: Lang): Html {
  const w = WORDS[lang].rehearsal;
  const s = input.status;
  const m = s.marker;
  const started = m === undefined ? "" : instant(m.startedAt, lang, input.inventory.election.timeZone);
  const matches = s.matchesInventory ? w.matches : w.differs;
  const done = m === undefined ? "" : m.complete ? w.markerState.complete : w.markerState.incomplete;
  const marker =
    m === undefined
      ? undefined
      : html`<span>${w.marker}: ${done}${COMMA[lang]}${num(m.steps, lang)} ${w.steps}${COMMA[lang]}${w.started} ${started}${SEMI[lang]}${matches}</span><br>`;
  const sup = s.supervisor === undefined ? w.supervisorState.none : s.supervisor.alive ? w.supervisorState.running : w.supervisorState.stopped;
  const supPid = s.supervisor === undefined ? undefined : html` (${ltr(`pid ${s.supervisor.pid}`)})`;
  const listening = p.servers.filter((x) => x.listening).length;
  const pins = s.pins ? w.pinsState.present : w.pinsState.missing;
  const facts = html`<span>sshd ${num(listening, lang)}/${num(p.servers.length, lang)} — ${w.supervisor}: ${sup}${supPid} — ${w.pins}: ${pins}</span>`;
  return html`<section id="status" class="state state-${p.state}"><span class="big">${w.state[p.state]}</span>${marker}${facts}</section>`;
}

function cellTable(p: Picture, lang: Lang): Html {
  const w = WORDS[lang].rehearsal;
  const opName = new Map(p.operators.map((o) => [o.id, o.name]));
  const districtName = new Map(p.districts.map((d) => [d.id, d.name]));
  const head = html`<tr><th>${w.operator}</th><th>${w.district}</th><th>${w.total}</th>${LINK_STATES.map((s) => html`<th>${w.link[s]}</th>`)}</tr>`;
  const rows = p.cells.map((c) => {
    const counts = LINK_STATES.map((s) => html`<td class="n">${num(c.counts[s], lang)}</td>`);
    const who = html`<td>${opName.get(c.operator)} ${ltr(c.operator)}</td><td>${districtName.get(c.district)} ${ltr(c.district)}</td>`;
    return html`<tr>${who}<td class="n">${num(c.total, lang)}</td>${counts}</tr>`;
  });
  return html`<table id="cells"><thead>${head}</thead><tbody>${rows}</tbody></table>`;
}

/** The page: the status line, the picture, its legend, how links are drawn, the problems, the cells as a table. */
export function renderRehearsalHtml(input: RehearsalPictureInput, lang: Lang, at?: string): string {
  const w = WORDS[lang].rehearsal;
  const p = rehearsalPicture(input);
  const total = sum(p.links);
  const unplanned = p.unplanned === 0 ? undefined : html` ${num(p.unplanned, lang)} ${w.unplanned}.`;
  const counted = html`${num(total, lang)} ${w.nLinks} — ${num(p.cells.length, lang)} ${w.cells}`;
  const note = html`<p id="aggregated">${w.aggregated}: ${counted}${SEMI[lang]}${w.cellHelp}.${unplanned}</p>
<p>${w.derived}</p>`;
  const problems =
    input.status.problems.length === 0
      ? undefined
      : html`<h2>${w.problems}</h2><ul id="problems">${input.status.problems.map((x) => html`<li>${ltr(x)}</li>`)}</ul>`;
  const when = at === undefined ? undefined : html` — ${instant(at, lang, input.inventory.election.timeZone)}`;
  const body = html`<main>
<h1>${w.title}: ${input.inventory.election.name}</h1>
${statusSection(input, p, lang)}
${svgPicture(p, lang)}
<h2>${w.legend}</h2>
${legend(p, lang)}
${note}
${problems}
<h2>${w.table}</h2>
${cellTable(p, lang)}
<footer>${WORDS[lang].generated}${when} — ${w.plan} ${ltr(input.plan.hash)}</footer>
</main>`;
  return htmlPage({ lang, title: html`${w.title} — ${w.state[p.state]}`, assets: ASSETS, body });
}

/** Render in memory, then write atomically (a reader sees the old page or the new, never half). */
export async function writeRehearsalHtml(
  file: string,
  input: RehearsalPictureInput,
  lang: Lang,
  at?: string,
): Promise<{ readonly file: string; readonly bytes: number }> {
  const page = renderRehearsalHtml(input, lang, at);
  await writeFileAtomic(file, page);
  return { file, bytes: Buffer.byteLength(page) };
}
