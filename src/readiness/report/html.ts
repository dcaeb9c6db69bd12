import type { Judged } from "../judge.ts";
import type { DriftItem } from "../drift/index.ts";
import { DRIFT_KINDS } from "../drift/index.ts";
import type { GateResult } from "../gate.ts";
import { type ReportData, type Tally } from "./data.ts";
import { DRIFT_ROWS, type FoundDrift } from "./drift.ts";
import { day, digits, instant, type Lang, num, ownerName, percent, WORDS, type Words } from "./i18n.ts";
import { MAP_CSS, stationsMap } from "./map.ts";
import { type Html, html, htmlPage, join, ltr, pageAssets, PAGE_CSS } from "./markup.ts";
import { trendCharts } from "./trend.ts";

/**
 * report.html: one self-contained file (no network: inline CSS, inline SVG, a
 * few lines of inline JS for the search), Persian-first: `lang="fa" dir="rtl"`,
 * Persian digits and Jalali dates, and every id, address and file name
 * isolated left-to-right in <bdi dir="ltr"> so it reads the same in RTL text.
 *
 * Every field reaches the page through markup.ts's `html` tag.
 */

/** Offender rows per criterion in the HTML; the rest are in results.json. */
export const ROWS_PER_CRITERION = 2000;

const VERDICT_COLOURS = { ready: "#2e7d32", "not-ready": "#c62828", "cannot-judge": "#ef6c00" } as const;
const BAR = { width: 120, height: 10, ready: "#2e7d32", rest: "#e57373" } as const;

const CSS = `${PAGE_CSS}
main{max-width:1100px;margin:0 auto;padding:16px}
.verdict{color:#fff;padding:20px 24px;border-radius:8px;margin:12px 0}
${Object.entries(VERDICT_COLOURS)
  .map(([v, colour]) => `.verdict-${v}{background:${colour}}`)
  .join("")}
.verdict .big{font-size:2.4rem;font-weight:bold;display:block}
.verdict ul{margin:.4em 0 0}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{border-bottom:1px solid #e4e4e4;padding:4px 6px;text-align:start;vertical-align:top}
th{background:#f5f5f5}
td.n{text-align:end;white-space:nowrap}
.pass{color:#2e7d32;font-weight:bold}.fail{color:#c62828;font-weight:bold}.cannot-judge{color:#ef6c00;font-weight:bold}
svg.bar{vertical-align:middle}
svg.map{max-width:100%;height:auto;display:block}
a.to-map{color:inherit;text-decoration:underline dotted}
${MAP_CSS}
input#q{width:100%;padding:8px;font-size:1rem;margin:6px 0;border:1px solid #bbb;border-radius:4px}
details{margin:8px 0}summary{cursor:pointer;font-weight:bold}
.trends{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:8px 20px}.trends figure{margin:0}.trends figcaption{font-size:.9rem}
.trends svg{width:100%;height:auto}.trends text{font-size:10px;fill:#333;text-anchor:middle}.trends text.y{text-anchor:end}
.trends text.g{font-size:8px;fill:#777}.trends text.none{fill:#777}.trends text.due{fill:#6a1b9a}
.trends .grid{stroke:#eee}.trends .axis{stroke:#999}.trends .line{fill:none;stroke:#555;stroke-width:1.5}.trends .unjudged{fill:#fff;stroke-width:1.5}
.trends .threshold{stroke:#555;stroke-dasharray:5 3}.trends line.due{stroke:#6a1b9a;stroke-dasharray:2 2}
footer{color:#777;font-size:.8rem;margin-top:2em}
`;

// Search: normalise the Persian letters and digits people type differently, then hide rows that do not match.
// It writes only text, `hidden` and an input's value: no markup from anything it reads.
const SCRIPT =
  `
(function(){var q=document.getElementById("q");if(!q)return;
function n(s){return s.toLowerCase().replace(/[\\u064a\\u0649]/g,"\\u06cc").replace(/\\u0643/g,"\\u06a9")` +
  `.replace(/[\\u06f0-\\u06f9]/g,function(d){return String(d.charCodeAt(0)-0x6f0)}).replace(/\\u200c/g,"")}
var rows=Array.prototype.slice.call(document.querySelectorAll("table.offenders tbody tr"));var text=rows.map(function(r){return n(r.textContent||"")});
function filter(){var t=n(q.value.trim());var shown=0;for(var i=0;i<rows.length;i++){var hit=t===""||text[i].indexOf(t)>=0;` +
  `rows[i].hidden=!hit;if(hit)shown++}document.getElementById("shown").textContent=String(shown)}
q.addEventListener("input",filter);
// A link can carry a search (report.html#q=tci), to send someone their own list.
if(location.hash.indexOf("#q=")===0){try{q.value=decodeURIComponent(location.hash.slice(3))}catch(e){q.value=location.hash.slice(3)}filter()}})();
`;

const ASSETS = pageAssets(CSS, SCRIPT);

// ------------------------------------------------------------------------------------------
// The sections.

function bar(share: number): Html {
  const ready = Math.round((share / 100) * BAR.width);
  const barTrack = html`<rect width="${BAR.width}" height="${BAR.height}" fill="${BAR.rest}"/>`;
  const barFilled = html`<rect width="${ready}" height="${BAR.height}" fill="${BAR.ready}"/>`;
  return html`<svg class="bar" width="${BAR.width}" height="${BAR.height}" viewBox="0 0 ${BAR.width} ${BAR.height}">${barTrack}${barFilled}</svg>`;
}

/** A district's name or id, linked to its outline on the map (map.ts gives each district's group `id="map-<district>"`). */
const toMap = (district: string, label: Html): Html => html`<a class="to-map" href="#map-${district}">${label}</a>`;

function tallyTable(rows: readonly Tally[], first: string, w: Words, lang: Lang, withOpen: boolean, onMap = false): Html {
  const head = html`<tr><th>${first}</th><th>${w.total}</th><th>${w.ready}</th><th>${w.share}</th>${withOpen ? html`<th>${w.open}</th>` : undefined}</tr>`;
  const body = rows.map((t) => {
    const share = t.total === 0 ? 100 : (100 * t.ready) / t.total;
    const name = ownerName(t.id, t.name, w);
    const named = name === t.id ? ltr(t.id) : html`${name} ${ltr(t.id)}`;
    const label = onMap ? toMap(t.id, named) : named;
    const open = withOpen ? html`<td class="n">${num(t.open ?? 0, lang)}</td>` : undefined;
    const shareCell = html`<td class="n">${bar(share)} ${t.total === 0 ? "—" : percent(Math.floor(share * 100) / 100, lang)}</td>`;
    return html`<tr><td>${label}</td><td class="n">${num(t.total, lang)}</td><td class="n">${num(t.ready, lang)}</td>${shareCell}${open}</tr>`;
  });
  return html`<table><thead>${head}</thead><tbody>${body}</tbody></table>`;
}

function criteriaTable(r: GateResult, w: Words, lang: Lang): Html {
  const rows = r.criteria.map((c) => {
    const top = Object.entries(c.byOwner)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5);
    const owners = join(
      top.map(([o, n]) => html`${ltr(o)} ${num(n, lang)}`),
      "، ",
    );
    const measured = c.outcome === "cannot-judge" ? "—" : percent(c.measured, lang);
    const waived = c.waived.length > 0 ? html` (+${num(c.waived.length, lang)} ${w.waived})` : undefined;
    const reason = c.reason === undefined ? undefined : html`<br>${ltr(c.reason)}`;
    const critCells = html`<td class="n">${percent(c.threshold, lang)}</td><td class="${c.outcome}">${w.outcome[c.outcome]}</td><td>${owners}${reason}</td>`;
    return html`<tr class="crit-${c.outcome}"><td>${c.title[lang]}<br>${ltr(c.id)}</td><td class="n">${measured}${waived}</td>${critCells}</tr>`;
  });
  const critHead = html`<thead><tr><th>${w.criterion}</th><th>${w.measured}</th><th>${w.threshold}</th><th></th><th>${w.owner}</th></tr></thead>`;
  return html`<table id="criteria">${critHead}<tbody>${rows}</tbody></table>`;
}

function offendersSection(r: GateResult, w: Words, lang: Lang): Html | undefined {
  const failing = r.criteria.filter((c) => c.offenders.length > 0 || c.waived.length > 0);
  if (failing.length === 0) return undefined;
  const total = failing.reduce((n, c) => n + Math.min(c.offenders.length, ROWS_PER_CRITERION), 0);
  const district = (d: string | undefined): Html | undefined => (d === undefined ? undefined : toMap(d, ltr(d)));
  const groups = failing.map((c: Judged) => {
    const rows = c.offenders
      .slice(0, ROWS_PER_CRITERION)
      .map((o) => html`<tr><td>${ltr(o.id)}</td><td>${ltr(o.owner)}</td><td>${district(o.district)}</td><td>${ltr(o.reason)}</td></tr>`);
    const waived = c.waived.slice(0, ROWS_PER_CRITERION).map((o) => {
      const waiverRef = ltr(`${o.waiver.id} (${o.waiver.approvedBy}, ${o.waiver.until})`);
      return html`<tr class="waived"><td>${ltr(o.id)}</td><td>${ltr(o.owner)}</td><td>${district(o.district)}</td><td>${w.waived}: ${waiverRef}</td></tr>`;
    });
    const more = c.offenders.length > ROWS_PER_CRITERION ? html`<p>${num(c.offenders.length - ROWS_PER_CRITERION, lang)} ${w.more}</p>` : undefined;
    const alsoWaived = c.waived.length > 0 ? html` (+${num(c.waived.length, lang)} ${w.waived})` : undefined;
    const offSummary = html`<summary>${c.title[lang]} ${ltr(c.id)}: ${num(c.offenders.length, lang)}${alsoWaived}</summary>`;
    const offHead = html`<thead><tr><th>${w.item}</th><th>${w.owner}</th><th>${w.district}</th><th>${w.reason}</th></tr></thead>`;
    return html`<details open>${offSummary}<table class="offenders">${offHead}<tbody>${rows}${waived}</tbody></table>${more}</details>`;
  });
  const searchBox = html`<input id="q" type="search" placeholder="${w.search}" aria-label="${w.search}">`;
  return html`<h2>${w.notReady}</h2>${searchBox}<p><span id="shown">${num(total, lang)}</span></p>${groups}`;
}

const driftItemName = (i: DriftItem): string => `${i.object}${i.subject === undefined ? "" : ` ${i.subject}`}`;

/**
 * The drift section, when the gate read a drift report of the results' stack:
 * its age and verdict, counts per kind (waived apart), and the unwaived items,
 * worst kinds first, in the searchable offender tables. Every field is the
 * drift file's, read as it was written: escaped like the rest.
 */
function driftSection(d: FoundDrift, lang: Lang, timeZone: string): Html {
  const w = WORDS[lang].drift;
  const r = d.report;
  const kindName = (k: string): string | undefined => (Object.hasOwn(w.kinds, k) ? w.kinds[k as keyof typeof w.kinds] : undefined);
  const verdict = Object.hasOwn(w.verdict, r.verdict) ? w.verdict[r.verdict] : r.verdict;
  const rows = DRIFT_KINDS.map(
    (k) => html`<tr><td>${kindName(k)} ${ltr(k)}</td><td class="n">${num(r.counts[k], lang)}</td><td class="n">${num(r.waived[k], lang)}</td></tr>`,
  );
  const open = r.items.filter((i) => i.waivedBy === undefined);
  const items = open
    .slice(0, DRIFT_ROWS)
    .map(
      (i) =>
        html`<tr class="drift-${i.kind}"><td>${ltr(driftItemName(i))}</td><td>${ltr(i.owner)}</td><td>${kindName(i.kind)}</td><td>${ltr(i.detail)}</td></tr>`,
    );
  const more = open.length > DRIFT_ROWS ? html`<p>${num(open.length - DRIFT_ROWS, lang)} ${w.more}</p>` : undefined;
  const driftItemsHead = html`<thead><tr><th>${w.item}</th><th>${w.owner}</th><th>${w.kind}</th><th>${w.what}</th></tr></thead>`;
  const driftItems = items.length === 0 ? undefined : html`<table class="offenders" id="drift-items">${driftItemsHead}<tbody>${items}</tbody></table>${more}`;
  return html`<h2 id="drift">${w.title}</h2>
<p>${w.report} ${ltr(r.id)} — ${instant(r.at, lang, timeZone)} (${num(d.ageHours, lang, 1)} ${w.age}) — <b>${verdict}</b> — ${ltr(d.file)}</p>
<table id="drift-counts"><thead><tr><th>${w.kind}</th><th>${w.count}</th><th>${w.waived}</th></tr></thead><tbody>${rows}</tbody></table>
${driftItems}`;
}

function signoffSection(r: GateResult, w: Words, lang: Lang): Html | undefined {
  const s = r.signoff;
  if (s === undefined) return undefined;
  const members = s.members.length > 0 ? html`: ${join(s.members.map(ltr), "، ")}` : undefined;
  const reason = s.reason === undefined ? undefined : html` — ${ltr(s.reason)}`;
  const problems = s.checks.filter((c) => c.status !== "valid");
  const list = problems.length > 0 ? html`<ul>${problems.map((c) => html`<li>${ltr(`${c.status}: ${c.detail}`)}</li>`)}</ul>` : undefined;
  const signoffCounts = html`${num(s.members.length, lang)} ${w.of} ${num(s.required, lang)} ${w.approvals} (${num(s.of, lang)})`;
  return html`<h2>${w.signoff}</h2><p id="signoff">${signoffCounts}${members}${reason}</p>${list}`;
}

function resultsLine(r: GateResult, w: Words, lang: Lang): Html {
  const res = r.results;
  if (res === undefined) return html`${w.noResults}`;
  const finished = res.finishedAt === undefined ? undefined : html`, ${instant(res.finishedAt, lang, r.election.timeZone)}`;
  const age = res.ageHours === undefined ? undefined : html` (${num(res.ageHours, lang, 1)} ${w.age})`;
  return html`${ltr(res.file)} — ${w.campaign} ${ltr(res.campaign ?? "?")}${finished}${age}, ${ltr(`sha256 ${res.sha256.slice(0, 16)}`)}`;
}

function verdictSection(r: GateResult, w: Words, lang: Lang): Html {
  const unmet = r.criteria.filter((c) => c.outcome === "fail").map((c) => html`${c.title[lang]} ${ltr(c.id)}`);
  const reasons = r.reasons.length === 0 ? undefined : html`<div>${w.reasons}:</div><ul>${r.reasons.map((x) => html`<li>${ltr(x)}</li>`)}</ul>`;
  return html`<section id="verdict" class="verdict verdict-${r.verdict}">
<span class="big">${w.verdict[r.verdict]}</span>
<span>${w.exit} ${num(r.exitCode, lang)}${unmet.length > 0 ? html` — ${join(unmet, "، ")}` : undefined}</span>
${reasons}
</section>`;
}

function changesSection(c: NonNullable<GateResult["changes"]>, w: Words, lang: Lang): Html {
  const sample = c.sample.length > 0 ? html`<ul>${c.sample.map((s) => html`<li>${ltr(s)}</li>`)}</ul>` : undefined;
  return html`<h2>${w.changes}</h2><p>${w.newlyFailing}: ${num(c.newlyFailing, lang)} — ${w.recovered}: ${num(c.recovered, lang)}</p>${sample}`;
}

export function renderHtml(r: GateResult, data: ReportData, lang: Lang, drift?: FoundDrift): string {
  const w = WORDS[lang];
  const m = r.milestone;
  const changes = r.changes === undefined ? undefined : changesSection(r.changes, w, lang);
  const expiredItems = r.expiredWaivers.map((x) => html`<li>${ltr(x.id)} — ${ltr(x.item)} — ${day(x.until, lang)} — ${ltr(x.approvedBy)}</li>`);
  const expired = r.expiredWaivers.length === 0 ? undefined : html`<h2>${w.expiredWaivers}</h2><ul>${expiredItems}</ul>`;
  const milestoneName = m.name === undefined ? undefined : html` «${m.name}»`;
  const inventoryLine = html`${ltr(r.inventory.dir)} ${ltr(r.inventory.commit?.slice(0, 12) ?? "-")} — ${num(r.inventory.stations, lang)} ${w.stations}`;
  const body = html`<main>
<h1>${w.title}: ${r.election.name}</h1>
<p>${w.milestone} ${ltr(m.id)}${milestoneName} — ${w.due} ${day(m.due, lang)} — ${w.judged} ${day(r.date, lang)}</p>
${verdictSection(r, w, lang)}
<p>${w.results}: ${resultsLine(r, w, lang)}<br>${w.inventory}: ${inventoryLine}</p>
<h2>${w.criteria}</h2>
${criteriaTable(r, w, lang)}
${signoffSection(r, w, lang)}
<h2>${w.map}</h2>
${stationsMap({ points: data.points, districts: data.byDistrict }, { title: w.map, lang })}
<h2>${w.byDistrict}</h2>
${tallyTable(data.byDistrict, w.district, w, lang, false, true)}
<h2>${w.byOperator}</h2>
${tallyTable(data.byOperator, w.operator, w, lang, false)}
<h2>${w.byOwner}</h2>
${tallyTable(data.byOwner, w.owner, w, lang, true)}
<h2>${w.trend}</h2>
${trendCharts(r, lang, VERDICT_COLOURS)}
${changes}
${expired}
${drift === undefined ? undefined : driftSection(drift, lang, r.election.timeZone)}
${offendersSection(r, w, lang)}
<footer>${w.generated} — ${ltr(r.judgedAt)} — ${digits(r.election.id, "en")}</footer>
</main>`;
  return htmlPage({ lang, title: html`${w.title} — ${r.election.name} — ${m.id}`, assets: ASSETS, body });
}
