import { writeFileAtomic } from "../../lib/fs.ts";
import type { Inventory } from "../../model/index.ts";
import type { StationStatus } from "./data.ts";
import { type Lang, instant, num, WORDS } from "./i18n.ts";
import { MAP_CSS, type MapInput, type MapPoint, stationsMap } from "./map.ts";
import { type Html, html, htmlPage, type Interpolation, join, ltr, pageAssets, PAGE_CSS } from "./markup.ts";

/**
 * A drill's page, written beside its JSON (`<state>/drills/<id>.html`): the
 * timeline from the fault to the restore (first signal, detection, the
 * devices' failover, notification and its goal, the restore and its
 * resolution) as inline SVG, what the pipeline attributed each fault to, each
 * station's failover, what monitoring told, the restore, and the stations on
 * the report's map. Persian first like report.html; every field of the drill's
 * report reaches the page through markup.ts's `html` tag.
 *
 * The readiness layer may not import the rehearsal's modules
 * (test/architecture/layers.test.ts), so `DrillView` names the part of a
 * drill's report (src/rehearsal/drill/report.ts, `DrillReport`) this page
 * reads; the CLI passes the report itself, which TypeScript checks against it.
 */

interface ObjectView {
  readonly kind: string;
  readonly id: string;
}

interface SpreadView {
  readonly count: number;
  readonly minMs?: number;
  readonly medianMs?: number;
  readonly maxMs?: number;
}

interface CampaignView {
  readonly file: string;
  readonly id: string;
  readonly startedAt: string;
  readonly elapsedMs: number;
  readonly targets: number;
  readonly valid: boolean;
}

export interface DrillView {
  readonly id: string;
  readonly scenario: string;
  readonly description: string;
  readonly notes: readonly string[];
  readonly stack: string;
  readonly district?: string;
  readonly target?: string;
  readonly startedAt: string;
  readonly faultAt: string;
  readonly restoredAt: string;
  readonly campaigns: { readonly baseline: CampaignView; readonly during: CampaignView; readonly verify?: CampaignView };
  readonly comparison: {
    readonly items: readonly {
      readonly expected: { readonly object: ObjectView; readonly cause: string; readonly links: readonly string[] };
      readonly outcome: string;
      readonly linksLost: number;
      readonly attributedAs: readonly { readonly object: ObjectView; readonly cause: string }[];
      readonly detectedAt?: string;
    }[];
    readonly counts: Readonly<Record<"injected" | "detected" | "attributed" | "misattributed" | "partly" | "missed" | "falseAlarms", number>>;
    readonly falseAlarms: readonly { readonly object: ObjectView; readonly cause: string; readonly evidence: readonly string[] }[];
  };
  readonly detection: { readonly timeToDetectionMs?: number; readonly firstSignalMs?: number };
  readonly stations: {
    readonly devicesRunning: boolean;
    readonly affected: number;
    readonly failedOver: number;
    readonly lostEveryPath: readonly string[];
    readonly pending: readonly string[];
    readonly notMeasured: number;
    readonly failover: SpreadView;
    readonly noticed: SpreadView;
    readonly recorded: SpreadView;
    readonly outcomes: readonly {
      readonly station: string;
      readonly state: string;
      readonly failoverMs?: number;
      readonly via?: { readonly link: string; readonly gateway: string };
      readonly noticedMs?: number;
      readonly why?: string;
    }[];
  };
  readonly restore: { readonly whole: boolean; readonly leftovers: readonly string[]; readonly elapsedMs: number; readonly verified: string };
  readonly notifications: {
    readonly measured: boolean;
    readonly why?: string;
    readonly boundMs?: number;
    readonly outcome?: {
      readonly expected: readonly {
        readonly alertname: string;
        readonly id: string;
        readonly receiver: string;
        readonly notifiedMs?: number;
        readonly resolvedMs?: number;
      }[];
      readonly unexpected: readonly { readonly alertname: string; readonly id: string; readonly receiver: string }[];
      readonly misrouted: readonly { readonly alertname: string; readonly id: string; readonly receiver: string; readonly expected: string }[];
      readonly distinct: number;
      readonly posts: number;
      readonly timeToNotificationMs?: number;
      readonly timeToResolutionMs?: number;
    };
  };
  readonly verdict: string;
  readonly exitCode: number;
  readonly file: string;
}

/** Rows per table on the page; the rest are in the drill's JSON. */
export const DRILL_ROWS = 500;

const VERDICT_COLOURS = { "detected-and-attributed": "#2e7d32", "not-notified": "#ef6c00", "not-fully-detected": "#c62828", "not-restored": "#6a1b9a" };
const MARK_COLOURS = {
  fault: "#c62828",
  campaign: "#78909c",
  signal: "#ef6c00",
  detection: "#1565c0",
  noticed: "#8d6e63",
  failover: "#f9a825",
  recorded: "#558b2f",
  notification: "#6a1b9a",
  restore: "#2e7d32",
  resolved: "#00838f",
} as const;
type Mark = keyof typeof MARK_COLOURS;

const CSS = `${PAGE_CSS}
main{max-width:1100px;margin:0 auto;padding:16px}
.verdict{color:#fff;padding:20px 24px;border-radius:8px;margin:12px 0;background:#9e9e9e}
${Object.entries(VERDICT_COLOURS)
  .map(([v, colour]) => `.verdict-${v}{background:${colour}}`)
  .join("")}
.verdict .big{font-size:2.2rem;font-weight:bold;display:block}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{border-bottom:1px solid #e4e4e4;padding:4px 6px;text-align:start;vertical-align:top}
th{background:#f5f5f5}
td.n{text-align:end;white-space:nowrap}
.good{color:#2e7d32;font-weight:bold}.bad{color:#c62828;font-weight:bold}
svg.timeline{display:block;max-width:100%;height:auto;background:#fcfcfc;border:1px solid #e4e4e4;border-radius:4px}
svg.timeline text{font-size:12px;fill:#263238}
svg.timeline .axis{stroke:#90a4ae}
svg.timeline .grid{stroke:#eceff1}
svg.timeline .guide{stroke-dasharray:4 3;stroke-width:1}
svg.timeline .band{fill-opacity:.3}
svg.timeline .tick{stroke-width:3}
svg.timeline .goal{stroke-dasharray:6 3;stroke-width:2}
${Object.entries(MARK_COLOURS)
  .map(([m, colour]) => `svg.timeline .m-${m}{fill:${colour};stroke:${colour}}`)
  .join("")}
${MAP_CSS}
footer{color:#777;font-size:.8rem;margin-top:2em}
`;

const ASSETS = pageAssets(CSS);

// ------------------------------------------------------------------------------------------
// Numbers read from the report: a field of a damaged or hand-edited file is no number, never a mark.

const finite = (n: unknown): number | undefined => (typeof n === "number" && Number.isFinite(n) ? n : undefined);
const parsed = (iso: unknown): number | undefined => (typeof iso === "string" ? finite(Date.parse(iso)) : undefined);
const known = <T extends object>(table: T, key: string): key is Extract<keyof T, string> => Object.hasOwn(table, key);

function seconds(ms: number | undefined, lang: Lang): string {
  const n = finite(ms);
  return n === undefined ? "—" : `${num(n / 1000, lang, 1)} ${WORDS[lang].drill.seconds}`;
}

// ------------------------------------------------------------------------------------------
// The timeline.

/** One row of the timeline: a point (`at`), a band (`from`–`to`, its median `at`), or nothing measured. */
interface Row {
  readonly mark: Mark;
  readonly value: string;
  readonly at?: number;
  readonly from?: number;
  readonly to?: number;
  /** A second mark on the row (the notification's goal). */
  readonly goal?: number;
  readonly title?: string;
}

const TL = { width: 960, label: 190, row: 30, top: 12, axis: 36, pad: 18 } as const;
/** A value's width, estimated (no fonts at render time): enough to choose its side of the mark. */
const textWidth = (text: string): number => text.length * 6.6 + 8;

/** Axis steps in seconds, few enough to label. */
function step(endMs: number): number {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
  return steps.find((s) => endMs / 1000 / s <= 10) ?? 7200;
}

function rows(r: DrillView, lang: Lang, timeZone: string): Row[] {
  const w = WORDS[lang].drill;
  const fault = parsed(r.faultAt);
  const since = (iso: string | undefined): number | undefined => {
    const t = parsed(iso);
    return t === undefined || fault === undefined ? undefined : t - fault;
  };
  const spreadRow = (mark: Mark, s: SpreadView): Row => {
    const [lo, mid, hi] = [finite(s.minMs), finite(s.medianMs), finite(s.maxMs)];
    if (finite(s.count) === undefined || s.count === 0 || mid === undefined) return { mark, value: w.notMeasured };
    const range = `${seconds(lo, lang)}–${seconds(hi, lang)}${lang === "fa" ? "،" : ","} ${num(s.count, lang)} ${WORDS[lang].stations}`;
    const value = `${w.median} ${seconds(mid, lang)} (${range})`;
    return { mark, value, at: mid, from: lo ?? mid, to: hi ?? mid };
  };
  const point = (mark: Mark, at: number | undefined, title?: string): Row =>
    at === undefined ? { mark, value: w.notMeasured } : { mark, value: seconds(at, lang), at, ...(title === undefined ? {} : { title }) };

  const during = since(r.campaigns.during.startedAt);
  const duringMs = finite(r.campaigns.during.elapsedMs);
  const restoredAt = since(r.restoredAt);
  const restoreMs = finite(r.restore.elapsedMs);
  const restoreStart = restoredAt === undefined || restoreMs === undefined ? undefined : restoredAt - restoreMs;
  const told = r.notifications.outcome;
  const goal = finite(r.notifications.boundMs);
  const notifiedAt = finite(told?.timeToNotificationMs);
  const resolvedAfter = finite(told?.timeToResolutionMs);
  const attributions = r.comparison.items.flatMap((i) => i.attributedAs.map((a) => `${a.object.kind} ${a.object.id} (${a.cause})`));
  const notification: Row =
    notifiedAt === undefined
      ? { mark: "notification", value: r.notifications.measured ? w.notMeasured : `${w.notMeasured}: ${r.notifications.why ?? "?"}` }
      : { mark: "notification", value: `${seconds(notifiedAt, lang)} (${w.goal} ${seconds(goal, lang)})`, at: notifiedAt };
  return [
    fault === undefined ? { mark: "fault", value: String(r.faultAt) } : { mark: "fault", value: instant(r.faultAt, lang, timeZone), at: 0 },
    during === undefined || duringMs === undefined
      ? { mark: "campaign", value: w.notMeasured }
      : { mark: "campaign", value: seconds(duringMs, lang), from: during, to: during + duringMs },
    point("signal", finite(r.detection.firstSignalMs)),
    point("detection", finite(r.detection.timeToDetectionMs), attributions.slice(0, 20).join("\n")),
    spreadRow("noticed", r.stations.noticed),
    spreadRow("failover", r.stations.failover),
    spreadRow("recorded", r.stations.recorded),
    goal === undefined ? notification : { ...notification, goal },
    restoreStart === undefined || restoredAt === undefined
      ? { mark: "restore", value: w.notMeasured }
      : { mark: "restore", value: `${seconds(restoreStart, lang)} + ${seconds(restoreMs, lang)}`, at: restoreStart, from: restoreStart, to: restoredAt },
    point("resolved", restoreStart === undefined || resolvedAfter === undefined ? undefined : restoreStart + resolvedAfter),
  ];
}

/** A value's text from `x`, running rightwards or leftwards (a right-to-left text's `end` is its left edge). */
function valueText(x: string, y: number, text: string, lang: Lang, rightwards: boolean): Html {
  if (lang === "fa")
    return rightwards
      ? html`<text class="value" x="${x}" y="${y}" direction="rtl" text-anchor="end">${text}</text>`
      : html`<text class="value" x="${x}" y="${y}" direction="rtl" text-anchor="start">${text}</text>`;
  return rightwards
    ? html`<text class="value" x="${x}" y="${y}" text-anchor="start">${text}</text>`
    : html`<text class="value" x="${x}" y="${y}" text-anchor="end">${text}</text>`;
}

/**
 * Time runs left to right in both languages (as report.html's trend); each
 * row's name sits on the reading side (right for Persian, left for English),
 * its value beside its mark. Each mark is `<g id="tl-<mark>">`, its tick at
 * its time; the row's <title> holds its name and value, for a hover.
 */
function timeline(r: DrillView, lang: Lang, timeZone: string): Html {
  const w = WORDS[lang].drill;
  const list = rows(r, lang, timeZone);
  const ends = list.flatMap((x) => [x.at, x.to, x.goal]).filter((x): x is number => x !== undefined);
  const endMs = Math.max(1000, ...ends) * 1.05;
  const height = TL.top + list.length * TL.row + TL.axis;
  const [x0, x1] = lang === "fa" ? [TL.pad, TL.width - TL.label - TL.pad] : [TL.label + TL.pad, TL.width - TL.pad];
  const x = (ms: number): string => (x0 + (Math.max(0, ms) / endMs) * (x1 - x0)).toFixed(1);
  /** A band's width, at least 2 px: a restore of a second is still seen. */
  const width = (from: number, to: number): string => Math.max(2, Number(x(to)) - Number(x(from))).toFixed(1);
  const yAxis = TL.top + list.length * TL.row;
  const every = step(endMs);
  const ticks = Array.from({ length: Math.floor(endMs / 1000 / every) + 1 }, (_, i) => i * every * 1000);
  const grid = ticks.map((t) => {
    const tx = x(t);
    const label = html`<text x="${tx}" y="${yAxis + 18}" text-anchor="middle">${num(t / 1000, lang)}</text>`;
    const line = html`<line class="grid" x1="${tx}" y1="${TL.top}" x2="${tx}" y2="${yAxis}"/>`;
    return html`${line}<line class="axis" x1="${tx}" y1="${yAxis}" x2="${tx}" y2="${yAxis + 5}"/>${label}`;
  });
  // The unit at the axis's outer end: where a reader of the language starts.
  const unit =
    lang === "fa"
      ? html`<text x="${x0}" y="${yAxis + 32}" text-anchor="start">${w.seconds}</text>`
      : html`<text x="${x1}" y="${yAxis + 32}" text-anchor="end">${w.seconds}</text>`;
  const axis = html`<line id="tl-axis" class="axis" x1="${x0}" y1="${yAxis}" x2="${x1}" y2="${yAxis}"/>${grid}${unit}`;
  const drawn = list.map((row, i) => {
    const y = TL.top + i * TL.row;
    const mid = y + TL.row / 2;
    const name = w.marks[row.mark];
    const label =
      lang === "fa"
        ? html`<text class="label" x="${TL.width - 8}" y="${mid + 4}" direction="rtl" text-anchor="start">${name}</text>`
        : html`<text class="label" x="8" y="${mid + 4}" text-anchor="start">${name}</text>`;
    const band =
      row.from === undefined || row.to === undefined
        ? undefined
        : html`<rect class="band m-${row.mark}" x="${x(row.from)}" y="${y + 7}" width="${width(row.from, row.to)}" height="${TL.row - 14}"/>`;
    const tick =
      row.at === undefined ? undefined : html`<line class="tick m-${row.mark}" x1="${x(row.at)}" y1="${y + 4}" x2="${x(row.at)}" y2="${y + TL.row - 4}"/>`;
    const dot = row.at === undefined || band !== undefined ? undefined : html`<circle class="m-${row.mark}" cx="${x(row.at)}" cy="${mid}" r="5"/>`;
    const mark = row.at === undefined && band === undefined ? undefined : html`<g id="tl-${row.mark}" class="mark">${band}${tick}${dot}</g>`;
    const goal =
      row.goal === undefined
        ? undefined
        : html`<g id="tl-goal" class="mark"><title>${w.marks.goal}: ${seconds(row.goal, lang)}</title>${html`<line class="goal m-${row.mark}"
x1="${x(row.goal)}" y1="${y + 2}" x2="${x(row.goal)}" y2="${y + TL.row - 2}"/>`}</g>`;
    // The value beside what is drawn: after it where it fits, else before it.
    const drawnAt = [row.at, row.from, row.to, row.goal].filter((t): t is number => t !== undefined);
    const right = drawnAt.length === 0 ? x0 : Number(x(Math.max(...drawnAt))) + 9;
    const left = drawnAt.length === 0 ? x0 : Number(x(Math.min(...drawnAt))) - 9;
    const after = right + textWidth(row.value) <= x1;
    const value = valueText((after ? right : left).toFixed(1), mid + 4, row.value, lang, after);
    const title = html`<title>${name}: ${row.value}${row.title === undefined || row.title === "" ? "" : `\n${row.title}`}</title>`;
    return html`<g class="row row-${row.mark}">${title}${label}${mark}${goal}${value}</g>`;
  });
  // The fault and the start of the restore, across every row: what happened between them happened during the fault.
  const guides = list
    .filter((row) => (row.mark === "fault" || row.mark === "restore") && row.at !== undefined)
    .map((row) => html`<line class="guide m-${row.mark}" x1="${x(row.at ?? 0)}" y1="${TL.top}" x2="${x(row.at ?? 0)}" y2="${yAxis}"/>`);
  const box = `0 0 ${TL.width} ${height}`;
  return html`<svg id="timeline" class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="${box}" width="${TL.width}" height="${height}"
role="img" aria-label="${w.timeline}" direction="ltr">${axis}${guides}${drawn}</svg>`;
}

// ------------------------------------------------------------------------------------------
// The sections.

const td = (content: Interpolation): Html => html`<td>${content}</td>`;
/** A number's cell: at the line's end. */
const tn = (content: Interpolation): Html => html`<td class="n">${content}</td>`;

function objectName(o: ObjectView, lang: Lang): Html {
  const w = WORDS[lang].drill;
  return html`${known(w.objects, o.kind) ? w.objects[o.kind] : undefined} ${ltr(`${o.kind} ${o.id}`)}`;
}

function causeName(cause: string, lang: Lang): Html {
  const w = WORDS[lang].drill;
  return known(w.causes, cause) ? html`${w.causes[cause]}` : ltr(cause);
}

function more(total: number, lang: Lang): Html | undefined {
  return total > DRILL_ROWS ? html`<p>${num(total - DRILL_ROWS, lang)} ${WORDS[lang].drill.more}</p>` : undefined;
}

function verdictSection(r: DrillView, lang: Lang): Html {
  const words = WORDS[lang];
  const w = words.drill;
  const c = r.comparison.counts;
  const verdict = known(w.verdict, r.verdict) ? r.verdict : undefined;
  const counts = (["injected", "detected", "attributed", "misattributed", "partly", "missed", "falseAlarms"] as const).map(
    (k) => html`<li>${w.counts[k]}: ${num(c[k], lang)}</li>`,
  );
  return html`<section id="drill-verdict" class="verdict verdict-${verdict ?? "unknown"}">
<span class="big">${verdict === undefined ? ltr(r.verdict) : w.verdict[verdict]}</span>
<span>${words.exit} ${num(r.exitCode, lang)}</span>
<ul id="drill-counts">${counts}</ul>
</section>`;
}

function attributionSection(r: DrillView, lang: Lang): Html {
  const w = WORDS[lang].drill;
  const fault = parsed(r.faultAt);
  const items = r.comparison.items.slice(0, DRILL_ROWS).map((i) => {
    const outcome = known(w.outcomes, i.outcome) ? i.outcome : undefined;
    const said = join(
      i.attributedAs.map((a) => html`${objectName(a.object, lang)} (${causeName(a.cause, lang)})`),
      lang === "fa" ? "، " : ", ",
    );
    const detected = parsed(i.detectedAt);
    const inMs = detected === undefined || fault === undefined ? undefined : detected - fault;
    const cls = outcome === "attributed" ? "good" : "bad";
    const lost = html`${num(i.linksLost, lang)} / ${num(i.expected.links.length, lang)}`;
    const cells = html`<td class="${cls}">${outcome === undefined ? ltr(i.outcome) : w.outcomes[outcome]}</td><td class="n">${lost}</td>`;
    return html`<tr>${td(objectName(i.expected.object, lang))}${td(causeName(i.expected.cause, lang))}${cells}${td(said)}${tn(seconds(inMs, lang))}</tr>`;
  });
  const alarms = r.comparison.falseAlarms.slice(0, DRILL_ROWS).map((a) => {
    const evidence = ltr(a.evidence.slice(0, 3).join(", ") + (a.evidence.length > 3 ? ", …" : ""));
    const said = html`${objectName(a.object, lang)} (${causeName(a.cause, lang)}) ${evidence}`;
    return html`<tr class="false-alarm"><td>—</td><td>—</td><td class="bad">${w.falseAlarm}</td><td>—</td>${td(said)}<td></td></tr>`;
  });
  const head = html`<tr><th>${w.injected}</th><th>${w.cause}</th><th>${w.outcome}</th><th>${w.linksLost}</th><th>${w.said}</th><th>${w.detectedIn}</th></tr>`;
  const rest = more(r.comparison.items.length, lang) ?? more(r.comparison.falseAlarms.length, lang);
  return html`<h2>${w.attribution}</h2><table id="attribution"><thead>${head}</thead><tbody>${items}${alarms}</tbody></table>${rest}`;
}

function stationsSection(r: DrillView, lang: Lang): Html {
  const words = WORDS[lang];
  const w = words.drill;
  const st = r.stations;
  if (finite(st.affected) === 0) return html`<h2>${w.stations}</h2><p id="station-summary">${w.noStations}</p>`;
  const counted: [string, number][] = [
    [w.affected, st.affected],
    [w.states["failed-over"], st.failedOver],
    [w.states["lost-every-path"], st.lostEveryPath.length],
    [w.states.pending, st.pending.length],
    [w.states["not-measured"], st.notMeasured],
  ];
  const summary = join(
    counted.map(([word, n]) => `${word}: ${num(n, lang)}`),
    " — ",
  );
  const off = st.devicesRunning ? undefined : html` (${w.devicesOff})`;
  const outcomes = st.outcomes.slice(0, DRILL_ROWS).map((o) => {
    const state = known(w.states, o.state) ? o.state : undefined;
    const cls = state === "failed-over" ? "good" : state === "lost-every-path" ? "bad" : undefined;
    const via = o.via === undefined ? undefined : ltr(`${o.via.link} → ${o.via.gateway}`);
    const why = o.why === undefined ? undefined : html`<br>${ltr(o.why)}`;
    const stateCell = html`<td class="${cls ?? ""}">${state === undefined ? ltr(o.state) : w.states[state]}${why}</td>`;
    return html`<tr>${td(ltr(o.station))}${stateCell}${tn(seconds(o.failoverMs, lang))}${td(via)}${tn(seconds(o.noticedMs, lang))}</tr>`;
  });
  const head = html`<tr><th>${w.station}</th><th>${w.outcome}</th><th>${w.marks.failover}</th><th>${w.via}</th><th>${w.noticedAt}</th></tr>`;
  return html`<h2>${w.stations}</h2><p id="station-summary">${summary}${off}</p>
<table id="station-outcomes"><thead>${head}</thead><tbody>${outcomes}</tbody></table>${more(st.outcomes.length, lang)}`;
}

function notificationsSection(r: DrillView, lang: Lang): Html {
  const w = WORDS[lang].drill;
  const n = r.notifications;
  const o = n.outcome;
  if (!n.measured || o === undefined) return html`<h2>${w.notifications}</h2><p id="notifications">${w.notMeasured}: ${ltr(n.why ?? "?")}</p>`;
  const told = o.expected.filter((e) => finite(e.notifiedMs) !== undefined).length;
  const resolved = o.expected.filter((e) => finite(e.resolvedMs) !== undefined).length;
  const notified = `${w.marks.notification}: ${seconds(o.timeToNotificationMs, lang)} (${w.goal} ≤ ${seconds(n.boundMs, lang)})`;
  const timing = `${notified} — ${w.marks.resolved}: ${seconds(o.timeToResolutionMs, lang)}`;
  const of = (k: number): string => `${num(k, lang)} / ${num(o.expected.length, lang)}`;
  const summary = html`${w.told}: ${of(told)} — ${w.resolvedCount}: ${of(resolved)} — ${timing}`;
  const rows = o.expected.slice(0, DRILL_ROWS).map((e) => {
    const cls = finite(e.notifiedMs) === undefined ? "bad" : "good";
    const when = finite(e.notifiedMs) === undefined ? w.notTold : seconds(e.notifiedMs, lang);
    return html`<tr>${td(ltr(e.alertname))}${td(ltr(e.id))}${td(ltr(e.receiver))}<td class="n ${cls}">${when}</td>${tn(seconds(e.resolvedMs, lang))}</tr>`;
  });
  const head = html`<tr><th>${w.alert}</th><th></th><th>${w.receiver}</th><th>${w.marks.notification}</th><th>${w.marks.resolved}</th></tr>`;
  const wrong = [
    ...o.unexpected.slice(0, DRILL_ROWS).map((u) => html`<li>${w.unexpected}: ${ltr(`${u.alertname} ${u.id} @ ${u.receiver}`)}</li>`),
    ...o.misrouted.slice(0, DRILL_ROWS).map((m) => html`<li>${w.misrouted}: ${ltr(`${m.alertname} ${m.id} @ ${m.receiver} ≠ ${m.expected}`)}</li>`),
  ];
  const list = wrong.length > 0 ? html`<ul>${wrong}</ul>` : undefined;
  return html`<h2>${w.notifications}</h2><p id="notifications">${summary}</p>
<table id="alerts"><thead>${head}</thead><tbody>${rows}</tbody></table>${more(o.expected.length, lang)}${list}`;
}

function restoreSection(r: DrillView, lang: Lang): Html {
  const w = WORDS[lang].drill;
  const x = r.restore;
  const left = x.leftovers.length === 0 ? undefined : html`<ul>${x.leftovers.map((l) => html`<li>${w.leftovers}: ${ltr(l)}</li>`)}</ul>`;
  const whole = x.whole ? html`<span class="good">${w.whole}</span>` : html`<span class="bad">${w.notWhole}</span>`;
  return html`<h2>${w.restore}</h2><p id="restore">${whole} — ${seconds(x.elapsedMs, lang)} — ${ltr(x.verified)}</p>${left}`;
}

function campaignsSection(r: DrillView, lang: Lang): Html {
  const w = WORDS[lang].drill;
  const list = (["baseline", "during", "verify"] as const).flatMap((k) => {
    const c = r.campaigns[k];
    if (c === undefined) return [];
    const valid = c.valid ? undefined : html` <span class="bad">✗</span>`;
    return [
      html`<tr>${td(w.campaignNames[k])}<td>${ltr(c.id)}${valid}</td>${tn(num(c.targets, lang))}${tn(seconds(c.elapsedMs, lang))}${td(ltr(c.file))}</tr>`,
    ];
  });
  const head = html`<tr><th></th><th></th><th>${w.targets}</th><th></th><th></th></tr>`;
  return html`<h2>${w.campaigns}</h2><table id="campaigns"><thead>${head}</thead><tbody>${list}</tbody></table>`;
}

// ------------------------------------------------------------------------------------------
// The map: the drill's stations on report.html's map.

const MAP_STATUS: Readonly<Record<string, StationStatus>> = {
  "failed-over": "partial",
  "lost-every-path": "down",
  pending: "unknown",
  "not-measured": "unknown",
};

/**
 * The drill's stations as the map's points: every station the drill looked at
 * (its district's, or all), and any it affected outside that; lost every path
 * is down, failed over to its backup is partial (one path), undecided or not
 * measured is unknown, and a station the fault did not touch is ready.
 */
export function drillMapInput(r: DrillView, inventory: Pick<Inventory, "stations" | "districts">): MapInput {
  const outcome = new Map(r.stations.outcomes.map((o) => [o.station, o.state]));
  const points: MapPoint[] = [];
  for (const s of inventory.stations) {
    const state = outcome.get(s.id);
    if (state === undefined && r.district !== undefined && s.district !== r.district) continue;
    const status: StationStatus = state === undefined ? "ready" : ((Object.hasOwn(MAP_STATUS, state) ? MAP_STATUS[state] : undefined) ?? "unknown");
    points.push({ lat: s.location.lat, lon: s.location.lon, status, district: s.district });
  }
  const used = new Set(points.map((p) => p.district));
  return { points, districts: inventory.districts.filter((d) => used.has(d.id)).map((d) => ({ id: d.id, name: d.name, province: d.province })) };
}

function mapSection(map: MapInput, lang: Lang): Html {
  const w = WORDS[lang].drill;
  return html`<h2>${w.map}</h2><p>${w.mapHelp}</p>${stationsMap(map, { title: w.map, lang })}`;
}

// ------------------------------------------------------------------------------------------
// The page.

export interface DrillPageOptions {
  /** The stations for the map (`drillMapInput`); without them the page has no map. */
  readonly map?: MapInput;
  /** The election's time zone, for the instants shown (default Asia/Tehran). */
  readonly timeZone?: string;
}

export function renderDrillHtml(r: DrillView, lang: Lang, o: DrillPageOptions = {}): string {
  const words = WORDS[lang];
  const w = words.drill;
  const timeZone = o.timeZone ?? "Asia/Tehran";
  const scenario = known(w.scenarios, r.scenario) ? html`${w.scenarios[r.scenario]} ${ltr(r.scenario)}` : ltr(r.scenario);
  const where = r.district === undefined ? undefined : html` — ${words.district} ${ltr(r.district)}`;
  const target = r.target === undefined ? undefined : html` — ${ltr(r.target)}`;
  const notes = r.notes.length === 0 ? undefined : html`<h2>${w.notes}</h2><ul id="notes">${r.notes.map((n) => html`<li>${ltr(n)}</li>`)}</ul>`;
  const body = html`<main>
<h1>${w.title}: ${scenario}</h1>
<p>${ltr(r.id)} — ${w.stack} ${ltr(r.stack)}${where}${target} — ${w.faultAt} ${instant(r.faultAt, lang, timeZone)}</p>
<p id="description">${ltr(r.description)}</p>
${verdictSection(r, lang)}
<h2>${w.timeline}</h2>
<p>${w.timelineHelp}</p>
${timeline(r, lang, timeZone)}
${attributionSection(r, lang)}
${stationsSection(r, lang)}
${o.map === undefined ? undefined : mapSection(o.map, lang)}
${notificationsSection(r, lang)}
${restoreSection(r, lang)}
${campaignsSection(r, lang)}
${notes}
<footer>${words.generated} — ${w.report} ${ltr(r.file)}</footer>
</main>`;
  return htmlPage({ lang, title: html`${w.title} — ${r.scenario} — ${r.id}`, assets: ASSETS, body });
}

/** Where a drill's page goes: beside its JSON, `.html` for `.json`. */
export function drillPagePath(jsonFile: string): string {
  return `${jsonFile.replace(/\.json$/, "")}.html`;
}

/** Renders the page in memory, then writes it atomically beside the drill's JSON; its path. */
export async function writeDrillPage(r: DrillView, lang: Lang, o: DrillPageOptions = {}): Promise<string> {
  const page = renderDrillHtml(r, lang, o);
  const file = drillPagePath(r.file);
  await writeFileAtomic(file, page, 0o644);
  return file;
}
