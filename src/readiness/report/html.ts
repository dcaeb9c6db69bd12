import type { Judged } from "../criteria.ts";
import type { GateResult } from "../gate.ts";
import { type ReportData, STATION_STATUSES, type Tally } from "./data.ts";
import { day, digits, instant, type Lang, num, ownerName, percent, WORDS, type Words } from "./i18n.ts";
import { driftHtml, type FoundDrift } from "./drift.ts";
import { MAP_COLOURS, renderMap } from "./map.ts";

/**
 * report.html: one self-contained file (no network: inline CSS, inline SVG, a
 * few lines of inline JS for the search), Persian-first: `lang="fa" dir="rtl"`,
 * Persian digits and Jalali dates, and every id, address and file name
 * isolated left-to-right in <bdi dir="ltr"> so it reads the same in RTL text.
 */

/** Offender rows per criterion in the HTML; the rest are in results.json. */
export const ROWS_PER_CRITERION = 2000;

const VERDICT_COLOURS = { ready: "#2e7d32", "not-ready": "#c62828", "cannot-judge": "#ef6c00" } as const;

export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&#39;"));
}

/** An id, address or file name: isolated left-to-right inside RTL text. */
const ltr = (text: string): string => `<bdi dir="ltr">${esc(text)}</bdi>`;

const CSS = `
*{box-sizing:border-box}
body{margin:0;font-family:Vazirmatn,"Noto Sans Arabic","DejaVu Sans",Tahoma,sans-serif;color:#1c1c1c;background:#fff;line-height:1.6}
main{max-width:1100px;margin:0 auto;padding:16px}
bdi{unicode-bidi:isolate;font-family:"DejaVu Sans Mono",monospace;font-size:.92em}
h1{font-size:1.5rem;margin:.2em 0}
h2{font-size:1.2rem;margin:1.4em 0 .4em;border-bottom:2px solid #ddd}
.verdict{color:#fff;padding:20px 24px;border-radius:8px;margin:12px 0}
.verdict .big{font-size:2.4rem;font-weight:bold;display:block}
.verdict ul{margin:.4em 0 0}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{border-bottom:1px solid #e4e4e4;padding:4px 6px;text-align:start;vertical-align:top}
th{background:#f5f5f5}
td.n{text-align:end;white-space:nowrap}
.pass{color:#2e7d32;font-weight:bold}.fail{color:#c62828;font-weight:bold}.cannot-judge{color:#ef6c00;font-weight:bold}
.barbg{display:inline-block;width:120px;height:.7em;background:#e57373;vertical-align:middle}
.bar{display:block;height:100%;background:#2e7d32}
.legend span{display:inline-block;margin-inline-end:14px}
.legend i{display:inline-block;width:12px;height:12px;margin-inline-end:4px;vertical-align:middle}
.mapbox{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}
input#q{width:100%;padding:8px;font-size:1rem;margin:6px 0;border:1px solid #bbb;border-radius:4px}
details{margin:8px 0}summary{cursor:pointer;font-weight:bold}
footer{color:#777;font-size:.8rem;margin-top:2em}
`;

// Search: normalise the Persian letters and digits people type differently, then hide rows that do not match.
const SCRIPT = `
(function(){var q=document.getElementById("q");if(!q)return;
function n(s){return s.toLowerCase().replace(/[\\u064a\\u0649]/g,"\\u06cc").replace(/\\u0643/g,"\\u06a9").replace(/[\\u06f0-\\u06f9]/g,function(d){return String(d.charCodeAt(0)-0x6f0)}).replace(/\\u200c/g,"")}
var rows=Array.prototype.slice.call(document.querySelectorAll("table.offenders tbody tr"));var text=rows.map(function(r){return n(r.textContent||"")});
function filter(){var t=n(q.value.trim());var shown=0;for(var i=0;i<rows.length;i++){var hit=t===""||text[i].indexOf(t)>=0;rows[i].hidden=!hit;if(hit)shown++}document.getElementById("shown").textContent=String(shown)}
q.addEventListener("input",filter);
// A link can carry a search (report.html#q=tci), to send someone their own list.
if(location.hash.indexOf("#q=")===0){q.value=decodeURIComponent(location.hash.slice(3));filter()}})();
`;

function tallyTable(rows: readonly Tally[], first: string, w: Words, lang: Lang, withOpen: boolean): string {
  const head = `<tr><th>${first}</th><th>${w.total}</th><th>${w.ready}</th><th>${w.share}</th>${withOpen ? `<th>${w.open}</th>` : ""}</tr>`;
  const body = rows.map((t) => {
    const share = t.total === 0 ? 100 : (100 * t.ready) / t.total;
    const name = ownerName(t.id, t.name, w);
    const label = name === t.id ? ltr(t.id) : `${esc(name)} ${ltr(t.id)}`;
    return `<tr><td>${label}</td><td class="n">${num(t.total, lang)}</td><td class="n">${num(t.ready, lang)}</td><td class="n"><span class="barbg"><span class="bar" style="width:${Math.round(share * 1.2)}px"></span></span> ${t.total === 0 ? "—" : percent(Math.floor(share * 100) / 100, lang)}</td>${withOpen ? `<td class="n">${num(t.open ?? 0, lang)}</td>` : ""}</tr>`;
  });
  return `<table><thead>${head}</thead><tbody>${body.join("")}</tbody></table>`;
}

function criteriaTable(r: GateResult, w: Words, lang: Lang): string {
  const rows = r.criteria.map((c) => {
    const owners = Object.entries(c.byOwner).sort((a, b) => b[1] - a[1]).slice(0, 5).map(([o, n]) => `${ltr(o)} ${num(n, lang)}`).join("، ");
    const measured = c.outcome === "cannot-judge" ? "—" : percent(c.measured, lang);
    const waived = c.waived.length > 0 ? ` (+${num(c.waived.length, lang)} ${w.waived})` : "";
    return `<tr class="crit-${c.outcome}"><td>${esc(c.title[lang])}<br>${ltr(c.id)}</td><td class="n">${measured}${waived}</td><td class="n">${percent(c.threshold, lang)}</td><td class="${c.outcome}">${w.outcome[c.outcome]}</td><td>${owners}${c.reason === undefined ? "" : `<br>${ltr(c.reason)}`}</td></tr>`;
  });
  return `<table id="criteria"><thead><tr><th>${w.criterion}</th><th>${w.measured}</th><th>${w.threshold}</th><th></th><th>${w.owner}</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function offendersSection(r: GateResult, w: Words, lang: Lang): string {
  const failing = r.criteria.filter((c) => c.offenders.length > 0 || c.waived.length > 0);
  const total = failing.reduce((n, c) => n + Math.min(c.offenders.length, ROWS_PER_CRITERION), 0);
  const groups = failing.map((c: Judged) => {
    const rows = c.offenders.slice(0, ROWS_PER_CRITERION).map((o) => `<tr><td>${ltr(o.id)}</td><td>${ltr(o.owner)}</td><td>${o.district === undefined ? "" : ltr(o.district)}</td><td>${ltr(o.reason)}</td></tr>`);
    const waived = c.waived.slice(0, ROWS_PER_CRITERION).map((o) => `<tr class="waived"><td>${ltr(o.id)}</td><td>${ltr(o.owner)}</td><td>${o.district === undefined ? "" : ltr(o.district)}</td><td>${w.waived}: ${ltr(`${o.waiver.id} (${o.waiver.approvedBy}, ${o.waiver.until})`)}</td></tr>`);
    const more = c.offenders.length > ROWS_PER_CRITERION ? `<p>${num(c.offenders.length - ROWS_PER_CRITERION, lang)} ${w.more}</p>` : "";
    return `<details open><summary>${esc(c.title[lang])} ${ltr(c.id)}: ${num(c.offenders.length, lang)}${c.waived.length > 0 ? ` (+${num(c.waived.length, lang)} ${w.waived})` : ""}</summary><table class="offenders"><thead><tr><th>${w.item}</th><th>${w.owner}</th><th>${w.district}</th><th>${w.reason}</th></tr></thead><tbody>${rows.join("")}${waived.join("")}</tbody></table>${more}</details>`;
  });
  if (groups.length === 0) return "";
  return `<h2>${w.notReady}</h2><input id="q" type="search" placeholder="${esc(w.search)}" aria-label="${esc(w.search)}"><p><span id="shown">${num(total, lang)}</span></p>${groups.join("")}`;
}

function trendSvg(r: GateResult, w: Words, lang: Lang): string {
  const points = r.trend ?? [];
  if (points.length === 0) return `<p>${w.noTrend}</p>`;
  const width = 640;
  const height = 160;
  const pad = 24;
  const step = points.length === 1 ? 0 : (width - 2 * pad) / (points.length - 1);
  const xy = points.map((p, i) => [pad + i * step, height - pad - ((p.score ?? 0) / 100) * (height - 2 * pad)] as const);
  const line = xy.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
  const dots = points.map((p, i) => {
    const colour = VERDICT_COLOURS[p.verdict as keyof typeof VERDICT_COLOURS] ?? "#9e9e9e";
    const [x, y] = xy[i] ?? [0, 0];
    return `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="4" fill="${colour}"><title>${esc(p.at)} ${esc(p.verdict)} ${p.score ?? ""}</title></circle>`;
  });
  const axis = `<line x1="${pad}" y1="${height - pad}" x2="${width - pad}" y2="${height - pad}" stroke="#999"/><text x="${pad}" y="${pad - 8}" font-size="11" fill="#555">${percent(100, lang)}</text>`;
  return `<svg id="trend" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" direction="ltr">${axis}<polyline fill="none" stroke="#555" stroke-width="1.5" points="${line}"/>${dots.join("")}</svg>`;
}

export function renderHtml(r: GateResult, data: ReportData, lang: Lang, drift?: FoundDrift): string {
  const w = WORDS[lang];
  const dir = lang === "fa" ? "rtl" : "ltr";
  const m = r.milestone;
  const res = r.results;
  const resultsLine = res === undefined
    ? w.noResults
    : `${ltr(res.file)} — ${w.campaign} ${ltr(res.campaign ?? "?")}${res.finishedAt === undefined ? "" : `, ${instant(res.finishedAt, lang, r.election.timeZone)}`}${res.ageHours === undefined ? "" : ` (${num(res.ageHours, lang, 1)} ${w.age})`}, ${ltr(`sha256 ${res.sha256.slice(0, 16)}`)}`;
  const reasons = r.reasons.length === 0 ? "" : `<ul>${r.reasons.map((x) => `<li>${ltr(x)}</li>`).join("")}</ul>`;
  const unmet = r.criteria.filter((c) => c.outcome === "fail").map((c) => `${esc(c.title[lang])} ${ltr(c.id)}`);
  const signoff = r.signoff === undefined
    ? ""
    : `<h2>${w.signoff}</h2><p id="signoff">${num(r.signoff.members.length, lang)} ${w.of} ${num(r.signoff.required, lang)} ${w.approvals} (${num(r.signoff.of, lang)})${r.signoff.members.length > 0 ? `: ${r.signoff.members.map(ltr).join("، ")}` : ""}${r.signoff.reason === undefined ? "" : ` — ${ltr(r.signoff.reason)}`}</p>${
      r.signoff.checks.filter((c) => c.status !== "valid").length > 0 ? `<ul>${r.signoff.checks.filter((c) => c.status !== "valid").map((c) => `<li>${ltr(`${c.status}: ${c.detail}`)}</li>`).join("")}</ul>` : ""
    }`;
  const changes = r.changes === undefined ? "" : `<h2>${w.changes}</h2><p>${w.newlyFailing}: ${num(r.changes.newlyFailing, lang)} — ${w.recovered}: ${num(r.changes.recovered, lang)}</p>${r.changes.sample.length > 0 ? `<ul>${r.changes.sample.map((s) => `<li>${ltr(s)}</li>`).join("")}</ul>` : ""}`;
  const expired = r.expiredWaivers.length === 0 ? "" : `<h2>${w.expiredWaivers}</h2><ul>${r.expiredWaivers.map((x) => `<li>${ltr(x.id)} — ${ltr(x.item)} — ${day(x.until, lang)} — ${ltr(x.approvedBy)}</li>`).join("")}</ul>`;
  const legend = STATION_STATUSES.map((s) => `<span><i style="background:${MAP_COLOURS[s]}"></i>${w.status[s]}: ${num(data.stationCounts[s], lang)}</span>`).join("");
  return `<!DOCTYPE html>
<html lang="${lang}" dir="${dir}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${esc(w.title)} — ${esc(r.election.name)} — ${esc(m.id)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>${esc(w.title)}: ${esc(r.election.name)}</h1>
<p>${w.milestone} ${ltr(m.id)}${m.name === undefined ? "" : ` «${esc(m.name)}»`} — ${w.due} ${day(m.due, lang)} — ${w.judged} ${day(r.date, lang)}</p>
<section id="verdict" class="verdict verdict-${r.verdict}" style="background:${VERDICT_COLOURS[r.verdict]}">
<span class="big">${w.verdict[r.verdict]}</span>
<span>${w.exit} ${num(r.exitCode, lang)}${unmet.length > 0 ? ` — ${unmet.join("، ")}` : ""}</span>
${reasons ? `<div>${w.reasons}:</div>${reasons}` : ""}
</section>
<p>${w.results}: ${resultsLine}<br>${w.inventory}: ${ltr(r.inventory.dir)} ${ltr(r.inventory.commit?.slice(0, 12) ?? "-")} — ${num(r.inventory.stations, lang)} ${w.stations}</p>
<h2>${w.criteria}</h2>
${criteriaTable(r, w, lang)}
${signoff}
<h2>${w.map}</h2>
<div class="mapbox">${renderMap(data, { width: 720, height: 560, title: w.map })}<div class="legend">${legend}</div></div>
<h2>${w.byDistrict}</h2>
${tallyTable(data.byDistrict, w.district, w, lang, false)}
<h2>${w.byOperator}</h2>
${tallyTable(data.byOperator, w.operator, w, lang, false)}
<h2>${w.byOwner}</h2>
${tallyTable(data.byOwner, w.owner, w, lang, true)}
<h2>${w.trend}</h2>
${trendSvg(r, w, lang)}
${changes}
${expired}
${drift === undefined ? "" : driftHtml(drift, lang, r.election.timeZone)}
${offendersSection(r, w, lang)}
<footer>${w.generated} — ${ltr(r.judgedAt)} — ${digits(r.election.id, "en")}</footer>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
