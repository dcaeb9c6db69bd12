import { DRIFT_KINDS, DRIFT_TITLES, type DriftItem, type DriftKind, type LatestDrift } from "../drift.ts";
import { instant, type Lang, num } from "./i18n.ts";

/**
 * The report's drift section, when the gate read a drift report of the
 * results' stack: its age and verdict, counts per kind (waived apart), and
 * the unwaived items, worst kinds first. In the HTML the items join the
 * searchable offender tables; summary.md keeps the top few.
 */
export type FoundDrift = Extract<LatestDrift, { found: true }>;

/** Items shown (the rest are in the stored report and `amadegi drift --json`). */
export const DRIFT_ROWS = 200;
const MD_ROWS = 10;

const WORDS = {
  fa: {
    title: "انحراف: اعلام‌شده، پیاده‌شده، مشاهده‌شده",
    report: "گزارش انحراف",
    age: "ساعت پیش",
    kind: "نوع",
    count: "تعداد",
    waived: "معاف‌شده",
    item: "مورد",
    owner: "مسئول",
    what: "شرح",
    more: "مورد دیگر در گزارش انحراف",
    verdict: { clean: "بدون انحراف", drift: "انحراف دارد", "cannot-judge": "قابل ارزیابی نیست" },
    kinds: {
      "not-provisioned": "اعلام‌شده، هنوز پیاده‌نشده",
      "not-declared": "پیاده‌شده، دیگر اعلام‌نشده",
      "changed-on-server": "تغییرکرده روی سرور",
      "never-observed": "اعلام‌شده، هرگز مشاهده‌نشده",
      unreachable: "اطلاعات سرور دریافت نشد",
    },
  },
  en: {
    title: "Drift: declared, provisioned, observed",
    report: "drift report",
    age: "hours ago",
    kind: "kind",
    count: "count",
    waived: "waived",
    item: "item",
    owner: "owner",
    what: "what",
    more: "more in the drift report",
    verdict: { clean: "no drift", drift: "drift", "cannot-judge": "cannot judge" },
    kinds: DRIFT_TITLES,
  },
} as const satisfies Record<Lang, { kinds: Readonly<Record<DriftKind, string>> } & Record<string, unknown>>;

const esc = (text: string): string => text.replace(/[&<>"']/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&#39;"));
const ltr = (text: string): string => `<bdi dir="ltr">${esc(text)}</bdi>`;
const itemName = (i: DriftItem): string => `${i.object}${i.subject === undefined ? "" : ` ${i.subject}`}`;

export function driftHtml(d: FoundDrift, lang: Lang, timeZone: string): string {
  const w = WORDS[lang];
  const r = d.report;
  const rows = DRIFT_KINDS.map((k) => `<tr><td>${esc(w.kinds[k])} ${ltr(k)}</td><td class="n">${num(r.counts[k], lang)}</td><td class="n">${num(r.waived[k], lang)}</td></tr>`);
  const open = r.items.filter((i) => i.waivedBy === undefined);
  const items = open.slice(0, DRIFT_ROWS).map((i) => `<tr class="drift-${i.kind}"><td>${ltr(itemName(i))}</td><td>${ltr(i.owner)}</td><td>${esc(w.kinds[i.kind])}</td><td>${ltr(i.detail)}</td></tr>`);
  const more = open.length > DRIFT_ROWS ? `<p>${num(open.length - DRIFT_ROWS, lang)} ${w.more}</p>` : "";
  return [
    `<h2 id="drift">${esc(w.title)}</h2>`,
    `<p>${w.report} ${ltr(r.id)} — ${instant(r.at, lang, timeZone)} (${num(d.ageHours, lang, 1)} ${w.age}) — <b>${esc(w.verdict[r.verdict])}</b> — ${ltr(d.file)}</p>`,
    `<table id="drift-counts"><thead><tr><th>${w.kind}</th><th>${w.count}</th><th>${w.waived}</th></tr></thead><tbody>${rows.join("")}</tbody></table>`,
    items.length === 0 ? "" : `<table class="offenders" id="drift-items"><thead><tr><th>${w.item}</th><th>${w.owner}</th><th>${w.kind}</th><th>${w.what}</th></tr></thead><tbody>${items.join("")}</tbody></table>${more}`,
  ].join("\n");
}

const cell = (text: string): string => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function driftMarkdown(d: FoundDrift): string[] {
  const r = d.report;
  const out = [`### Drift (${r.verdict}, report \`${r.id}\`, ${d.ageHours.toFixed(1)} h old)`, "", "| kind | count | waived |", "| --- | ---: | ---: |"];
  for (const k of DRIFT_KINDS) out.push(`| ${DRIFT_TITLES[k]} | ${r.counts[k]} | ${r.waived[k]} |`);
  out.push("");
  const open = r.items.filter((i) => i.waivedBy === undefined);
  if (open.length > 0) {
    out.push(`<details><summary>${open.length} drift item${open.length === 1 ? "" : "s"} (first ${Math.min(MD_ROWS, open.length)})</summary>`, "", "| item | owner | kind | what |", "| --- | --- | --- | --- |");
    for (const i of open.slice(0, MD_ROWS)) out.push(`| \`${cell(itemName(i))}\` | ${i.owner} | ${i.kind} | ${cell(i.detail)} |`);
    out.push("", "</details>", "");
  }
  return out;
}
