import { addDays, daysBetween, type IsoDate, midnightIn, parseInstant, todayIn, toJalali } from "../../model/index.ts";
import type { GateResult } from "../gate.ts";
import { digits, instant, type Lang, percent, WORDS } from "./i18n.ts";
import { type Html, html, ltr } from "./markup.ts";

/**
 * The report's trend: small multiples, one chart for the milestone's overall score and one per
 * criterion, all on the same dated x axis so a run lines up across them. Time is placed by time
 * (two runs an hour apart are an hour apart), ticks fall on calendar days, weeks (Saturdays, as
 * the Iranian week starts) or Jalali months by span, each labelled in Jalali with the Gregorian
 * day beneath; y is 0–100 % with the criterion's threshold dashed and the milestone's due date
 * marked. Drawn by hand, with no chart library: this is a few dozen lines of SVG through the
 * `html` tag, where a library would be a dependency to pin and audit, and the common ones draw
 * with script or style attributes that the page's policy forbids.
 */

/** One chart's viewBox and the plot inside it (the margins hold the y labels and two lines of x labels). */
const CHART = { width: 420, height: 200, left: 44, right: 30, top: 20, bottom: 46 } as const;
const X0 = CHART.left;
const X1 = CHART.width - CHART.right;
/** y of 100 % and of 0 %. */
const Y0 = CHART.top;
const Y1 = CHART.height - CHART.bottom;
/** At most this many labelled ticks: each label, Jalali over Gregorian, needs about 55 of the plot's 346 units. */
export const MAX_TICKS = 6;
/** Runs closer than this (in viewBox units) share a point: the later one is drawn (an hourly gate over months stays a few hundred points). */
const BUCKET = 2;
const UNKNOWN_COLOUR = "#9e9e9e";

const JALALI_MONTHS = {
  fa: ["فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور", "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند"],
  en: ["Farvardin", "Ordibehesht", "Khordad", "Tir", "Mordad", "Shahrivar", "Mehr", "Aban", "Azar", "Dey", "Bahman", "Esfand"],
} as const;

const TREND_WORDS = {
  fa: {
    overall: "امتیاز کل (میانگین معیارها)",
    none: "برای این معیار هنوز رقمی ثبت نشده است",
    unplaced: "اجراهایی که زمانشان خوانا نیست و نشان داده نشدند",
  },
  en: {
    overall: "overall score (the criteria's mean)",
    none: "no figures recorded for this criterion yet",
    unplaced: "runs not shown, their time is not a time",
  },
} as const;

// ------------------------------------------------------------------------------------------
// The dated axis.

export type StepKind = "day" | "week" | "month" | "year";
export interface Step {
  readonly kind: StepKind;
  readonly every: number;
}

/** Finest first: the first that gives at most MAX_TICKS ticks is used. */
const STEPS: readonly Step[] = [
  { kind: "day", every: 1 },
  { kind: "day", every: 2 },
  { kind: "week", every: 1 },
  { kind: "week", every: 2 },
  { kind: "month", every: 1 },
  { kind: "month", every: 2 },
  { kind: "month", every: 3 },
  { kind: "month", every: 6 },
  { kind: "year", every: 1 },
  { kind: "year", every: 2 },
  { kind: "year", every: 5 },
  { kind: "year", every: 10 },
];

export interface Tick {
  /** Midnight starting `day` in the election's time zone, ms. */
  readonly at: number;
  readonly day: IsoDate;
  /** Jalali: day and month for day and week steps, month and year for longer ones. */
  readonly label: string;
  /** The Gregorian day. */
  readonly sub: string;
}

export interface TimeAxis {
  readonly start: number;
  readonly end: number;
  readonly step: Step;
  readonly ticks: readonly Tick[];
  /** Unlabelled marks on the next finer calendar step (days between weekly ticks, weeks between months), ms. */
  readonly minor: readonly number[];
}

/** The finer step marked between labelled ticks, and at most how many such marks fit. */
const MINOR: Readonly<Record<StepKind, (every: number) => Step | undefined>> = {
  day: (every) => (every > 1 ? { kind: "day", every: 1 } : undefined),
  week: (every) => (every > 1 ? { kind: "week", every: 1 } : { kind: "day", every: 1 }),
  month: (every) => (every > 1 ? { kind: "month", every: 1 } : { kind: "week", every: 1 }),
  year: () => ({ kind: "month", every: 1 }),
};
const MAX_MINOR = 60;

/** A Thursday: day n after it is a Saturday when n − 2 is a multiple of 7. */
const EPOCH = "1970-01-01";
const mod = (a: number, b: number): number => ((a % b) + b) % b;

interface Day {
  readonly iso: IsoDate;
  readonly n: number;
  readonly jy: number;
  readonly jm: number;
  readonly jd: number;
}

function isTick(d: Day, step: Step): boolean {
  switch (step.kind) {
    case "day":
      return mod(d.n, step.every) === 0;
    case "week":
      return mod(d.n - 2, 7) === 0 && mod((d.n - 2) / 7, step.every) === 0;
    case "month":
      return d.jd === 1 && (d.jm - 1) % step.every === 0;
    case "year":
      return d.jd === 1 && d.jm === 1 && mod(d.jy, step.every) === 0;
  }
}

/**
 * The x axis from `from` to `to` (ms): whole days in `timeZone` (midnight before the first instant to
 * midnight after the last), ticks at midnights on the finest calendar step that fits.
 */
export function timeAxis(from: number, to: number, timeZone: string, lang: Lang): TimeAxis {
  const first = todayIn(timeZone, new Date(Math.min(from, to)));
  const lastDay = todayIn(timeZone, new Date(Math.max(from, to)));
  const start = midnightIn(first, timeZone);
  const endDay = midnightIn(lastDay, timeZone) === Math.max(from, to) && lastDay !== first ? lastDay : addDays(lastDay, 1);
  const end = midnightIn(endDay, timeZone);
  const days: Day[] = [];
  for (let iso = first, n = daysBetween(EPOCH, first); iso <= endDay; iso = addDays(iso, 1), n++) {
    const [jy = 0, jm = 0, jd = 0] = toJalali(iso).split("-").map(Number);
    days.push({ iso, n, jy, jm, jd });
  }
  const fallback = STEPS[STEPS.length - 1] ?? { kind: "year", every: 10 };
  let step = fallback;
  let picked = days.filter((d) => isTick(d, fallback));
  for (const s of STEPS) {
    const found = days.filter((d) => isTick(d, s));
    if (found.length <= MAX_TICKS) {
      [step, picked] = [s, found];
      break;
    }
  }
  const months = JALALI_MONTHS[lang];
  const ticks = picked.map((d) => ({
    at: midnightIn(d.iso, timeZone),
    day: d.iso,
    label:
      step.kind === "day" || step.kind === "week"
        ? `${digits(String(d.jd), lang)} ${months[d.jm - 1] ?? ""}`
        : `${months[d.jm - 1] ?? ""} ${digits(String(d.jy), lang)}`,
    sub: d.iso,
  }));
  const finer = MINOR[step.kind](step.every);
  const marks = finer === undefined ? [] : days.filter((d) => isTick(d, finer) && !isTick(d, step));
  const minor = marks.length > MAX_MINOR ? [] : marks.map((d) => midnightIn(d.iso, timeZone));
  return { start, end, step, ticks, minor };
}

// ------------------------------------------------------------------------------------------
// One chart.

interface Point {
  readonly at: number;
  /** The share (%), absent when the run could not judge it: drawn hollow on the 0 line, the line broken. */
  readonly value?: number;
  readonly colour: string;
  readonly tip: string;
}

interface Frame {
  readonly axis: TimeAxis;
  readonly deadline?: number;
  readonly lang: Lang;
}

const f = (n: number): string => n.toFixed(1);
const axisPercent = (v: number, lang: Lang): string => (lang === "fa" ? `${digits(String(v), lang)}٪` : `${v}%`);
const isShare = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= 100;

function chart(frame: Frame, points: readonly Point[], caption: string, threshold: number | undefined): Html {
  const { axis, lang } = frame;
  const w = WORDS[lang];
  const x = (ms: number): number => X0 + ((ms - axis.start) / (axis.end - axis.start)) * (X1 - X0);
  const y = (v: number): number => Y1 - (v / 100) * (Y1 - Y0);
  const grid = [0, 50, 100].map((v) => {
    const line = html`<line class="grid" x1="${X0}" y1="${f(y(v))}" x2="${X1}" y2="${f(y(v))}"/>`;
    return html`${line}<text class="y" x="${X0 - 4}" y="${f(y(v) + 3)}">${axisPercent(v, lang)}</text>`;
  });
  const ticks = axis.ticks.map((t) => {
    const tx = f(x(t.at));
    const mark = html`<line class="grid" x1="${tx}" y1="${Y0}" x2="${tx}" y2="${Y1}"/><line class="axis" x1="${tx}" y1="${Y1}" x2="${tx}" y2="${Y1 + 4}"/>`;
    return html`<g class="tick">${mark}<text class="j" x="${tx}" y="${Y1 + 16}">${t.label}</text><text class="g" x="${tx}" y="${Y1 + 28}">${t.sub}</text></g>`;
  });
  const minor = axis.minor.map((at) => html`<line class="axis" x1="${f(x(at))}" y1="${Y1}" x2="${f(x(at))}" y2="${Y1 + 2}"/>`);
  const thresholdTitle = (t: number): Html => html`<title>${w.threshold} ${percent(t, lang)}</title>`;
  const thresholdLine =
    threshold === undefined
      ? undefined
      : html`<line class="threshold" x1="${X0}" y1="${f(y(threshold))}" x2="${X1}" y2="${f(y(threshold))}">${thresholdTitle(threshold)}</line>`;
  const dx = frame.deadline === undefined ? undefined : f(x(frame.deadline));
  const due =
    dx === undefined
      ? undefined
      : html`<line class="due" x1="${dx}" y1="${Y0 - 8}" x2="${dx}" y2="${Y1}"/><text class="due" x="${dx}" y="${Y0 - 10}">${w.due}</text>`;
  // The later run of each bucket of a few units stands for the bucket.
  const kept = new Map<number, Point>();
  for (const p of points) kept.set(Math.round(x(p.at) / BUCKET), p);
  const shown = [...kept.values()];
  // A run that could not judge breaks the line: nothing was measured there.
  const runs: Point[][] = [[]];
  for (const p of shown) {
    if (p.value === undefined) runs.push([]);
    else runs[runs.length - 1]?.push(p);
  }
  const lines = runs
    .filter((run) => run.length > 1)
    .map((run) => html`<polyline class="line" points="${run.map((p) => `${f(x(p.at))},${f(y(p.value ?? 0))}`).join(" ")}"/>`);
  const dots = shown.map((p) =>
    p.value === undefined
      ? html`<circle class="unjudged" cx="${f(x(p.at))}" cy="${Y1}" r="3.5" stroke="${p.colour}"><title>${p.tip}</title></circle>`
      : html`<circle cx="${f(x(p.at))}" cy="${f(y(p.value))}" r="3.5" fill="${p.colour}"><title>${p.tip}</title></circle>`,
  );
  const none = points.length > 0 ? undefined : html`<text class="none" x="${f((X0 + X1) / 2)}" y="${f((Y0 + Y1) / 2)}">${TREND_WORDS[lang].none}</text>`;
  const axisLine = html`<line class="axis" x1="${X0}" y1="${Y1}" x2="${X1}" y2="${Y1}"/>`;
  const body = html`${grid}${ticks}${minor}${axisLine}${thresholdLine}${due}${lines}${dots}${none}`;
  const box = `0 0 ${CHART.width} ${CHART.height}`;
  return html`<svg viewBox="${box}" width="${CHART.width}" height="${CHART.height}" direction="ltr" role="img" aria-label="${caption}">${body}</svg>`;
}

// ------------------------------------------------------------------------------------------
// The section.

const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The last moment a milestone is in force: the end of its due day in the election's zone (milestoneInForce keeps it through that day). */
function deadlineOf(due: string, timeZone: string): number | undefined {
  if (!ISO_DAY.test(due) || parseInstant(`${due}T00:00:00Z`) === undefined) return undefined;
  return midnightIn(addDays(due, 1), timeZone);
}

/**
 * The trend section of report.html from a gate result: the overall score's chart (points coloured by
 * `colours[verdict]`) and one per criterion judged (points coloured by their outcome's verdict colour).
 * Every field is the gate's result, read as written: escaped by the tag; a time that is not one is left
 * out and counted.
 */
export function trendCharts(r: GateResult, lang: Lang, colours: Readonly<Record<string, string>>): Html {
  const w = WORDS[lang];
  const tz = r.election.timeZone;
  const colour = (key: string): string => (Object.hasOwn(colours, key) ? (colours[key] ?? UNKNOWN_COLOUR) : UNKNOWN_COLOUR);
  const outcomeWord = (o: string): string => (Object.hasOwn(w.outcome, o) ? w.outcome[o as keyof typeof w.outcome] : o);
  const verdictWord = (v: string): string => (Object.hasOwn(w.verdict, v) ? w.verdict[v as keyof typeof w.verdict] : v);
  let unplaced = 0;
  const place = <T extends { readonly at: string }>(list: readonly T[] | undefined): (T & { ms: number })[] =>
    (list ?? []).flatMap((p) => {
      const ms = typeof p.at === "string" ? parseInstant(p.at) : undefined;
      if (ms === undefined) unplaced++;
      return ms === undefined ? [] : [{ ...p, ms }];
    });

  const overall: Point[] = place(r.trend).map((p) => ({
    at: p.ms,
    ...(isShare(p.score) ? { value: p.score } : {}),
    colour: colour(p.verdict),
    tip: `${instant(p.at, lang, tz)} — ${verdictWord(p.verdict)}${isShare(p.score) ? ` — ${percent(p.score, lang)}` : ""}`,
  }));
  const perCriterion = r.criteria.map((c) => {
    const points: Point[] = place(r.criteriaTrend?.find((t) => t.id === c.id)?.points).map((p) => ({
      at: p.ms,
      ...(isShare(p.withWaivers) ? { value: p.withWaivers } : {}),
      colour: colour(p.outcome === "pass" ? "ready" : p.outcome === "fail" ? "not-ready" : "cannot-judge"),
      tip: `${instant(p.at, lang, tz)} — ${outcomeWord(p.outcome)}${isShare(p.withWaivers) ? ` — ${percent(p.withWaivers, lang)}` : ""}`,
    }));
    return { c, points };
  });
  const unplacedNote = unplaced === 0 ? undefined : html`<p class="unplaced">${TREND_WORDS[lang].unplaced}: ${digits(String(unplaced), lang)}</p>`;
  const instants = [...overall, ...perCriterion.flatMap((x) => x.points)].map((p) => p.at);
  if (instants.length === 0) return html`<p>${w.noTrend}</p>${unplacedNote}`;

  const deadline = deadlineOf(r.milestone.due, tz);
  const all = deadline === undefined ? instants : [...instants, deadline];
  // Not Math.min(...all): a long history would overflow the call's arguments.
  const [from, to] = all.reduce(([lo, hi], t) => [Math.min(lo, t), Math.max(hi, t)], [Infinity, -Infinity]);
  const frame: Frame = { axis: timeAxis(from, to, tz, lang), ...(deadline === undefined ? {} : { deadline }), lang };
  const overallCaption = TREND_WORDS[lang].overall;
  const figures = [
    html`<figure class="trend" data-criterion=""><figcaption>${overallCaption}</figcaption>${chart(frame, overall, overallCaption, undefined)}</figure>`,
    ...perCriterion.map(({ c, points }) => {
      const threshold = isShare(c.threshold) ? c.threshold : undefined;
      const caption = `${c.title[lang]} (${c.id})`;
      const limit = threshold === undefined ? undefined : html` — ${w.threshold} ${percent(threshold, lang)}`;
      const figcaption = html`<figcaption>${c.title[lang]} ${ltr(c.id)}${limit}</figcaption>`;
      return html`<figure class="trend" data-criterion="${c.id}">${figcaption}${chart(frame, points, caption, threshold)}</figure>`;
    }),
  ];
  return html`<div class="trends" id="trend">${figures}</div>${unplacedNote}`;
}
