// The report's trend charts: the dated x axis (ticks on calendar days, Saturdays or Jalali months
// by span, Jalali over Gregorian labels, in the election's time zone), points placed by time,
// the threshold and the due date, a criterion with one point or none, and hostile strings kept
// as text. The rendered page is tested in trend.browser.test.ts.
import { describe, expect, it } from "vitest";
import type { CriterionId } from "../../../src/model/index.ts";
import type { GateResult } from "../../../src/readiness/gate.ts";
import type { CriterionPoint } from "../../../src/readiness/history.ts";
import type { Judged } from "../../../src/readiness/judge.ts";
import { esc } from "../../../src/readiness/report/markup.ts";
import { MAX_TICKS, timeAxis, trendCharts } from "../../../src/readiness/report/trend.ts";

const TEHRAN = "Asia/Tehran";
const ms = (iso: string): number => Date.parse(iso);
/** Midnight starting a day in Tehran (+03:30, no daylight saving since 2022), as ms. */
const tehranMidnight = (day: string): number => ms(`${day}T00:00:00+03:30`);
const COLOURS = { ready: "#2e7d32", "not-ready": "#c62828", "cannot-judge": "#ef6c00" };

describe("the dated axis", () => {
  it("a span of 2 days: a tick at each midnight of the election's zone, Jalali day and month over the Gregorian day", () => {
    // 08:30 on 22 February to 23:30 on 23 February in Tehran.
    const axis = timeAxis(ms("2027-02-22T05:00:00Z"), ms("2027-02-23T20:00:00Z"), TEHRAN, "fa");
    expect(axis.step).toEqual({ kind: "day", every: 1 });
    expect(axis.start).toBe(tehranMidnight("2027-02-22"));
    expect(axis.end).toBe(tehranMidnight("2027-02-24"));
    expect(axis.ticks.map((t) => [t.at, t.label, t.sub])).toEqual([
      [tehranMidnight("2027-02-22"), "۳ اسفند", "2027-02-22"],
      [tehranMidnight("2027-02-23"), "۴ اسفند", "2027-02-23"],
      [tehranMidnight("2027-02-24"), "۵ اسفند", "2027-02-24"],
    ]);
    expect(axis.minor).toEqual([]);
    // English keeps the Jalali calendar, in ASCII digits.
    expect(timeAxis(ms("2027-02-22T05:00:00Z"), ms("2027-02-23T20:00:00Z"), TEHRAN, "en").ticks.map((t) => t.label)).toEqual([
      "3 Esfand",
      "4 Esfand",
      "5 Esfand",
    ]);
  });

  it("the day is the zone's: 22:00 UTC is already the next day in Tehran", () => {
    const axis = timeAxis(ms("2027-02-22T22:00:00Z"), ms("2027-02-23T22:00:00Z"), TEHRAN, "en");
    expect(axis.ticks.map((t) => t.sub)).toEqual(["2027-02-23", "2027-02-24", "2027-02-25"]);
    expect(axis.ticks[0]?.at).toBe(ms("2027-02-22T20:30:00Z"));
  });

  it("a span of 5 weeks: ticks on Saturdays, the first day of the Iranian week, 7 days apart", () => {
    const axis = timeAxis(ms("2027-02-01T06:00:00Z"), ms("2027-03-08T06:00:00Z"), TEHRAN, "fa");
    expect(axis.step).toEqual({ kind: "week", every: 1 });
    expect(axis.ticks.map((t) => t.sub)).toEqual(["2027-02-06", "2027-02-13", "2027-02-20", "2027-02-27", "2027-03-06"]);
    for (const t of axis.ticks) expect(new Date(`${t.sub}T12:00:00Z`).getUTCDay()).toBe(6);
    expect(axis.ticks.map((t) => t.label)).toEqual(["۱۷ بهمن", "۲۴ بهمن", "۱ اسفند", "۸ اسفند", "۱۵ اسفند"]);
    expect(axis.ticks.map((t) => t.at)).toEqual(axis.ticks.map((t) => tehranMidnight(t.sub)));
    // Every other day of 1 February – 9 March is marked, unlabelled.
    expect(axis.minor).toHaveLength(37 - 5);
    expect(axis.minor).toContain(tehranMidnight("2027-02-07"));
  });

  it("a span of 8 months: ticks on the first of Jalali months, every second month (1 Farvardin 1406 is 21 March 2027)", () => {
    const axis = timeAxis(ms("2026-11-01T06:00:00Z"), ms("2027-07-01T06:00:00Z"), TEHRAN, "fa");
    // Eight month starts are more than MAX_TICKS labels fit: every second one.
    expect(MAX_TICKS).toBeLessThan(8);
    expect(axis.step).toEqual({ kind: "month", every: 2 });
    expect(axis.ticks.map((t) => [t.sub, t.label])).toEqual([
      ["2026-11-22", "آذر ۱۴۰۵"],
      ["2027-01-21", "بهمن ۱۴۰۵"],
      ["2027-03-21", "فروردین ۱۴۰۶"],
      ["2027-05-22", "خرداد ۱۴۰۶"],
    ]);
    expect(axis.ticks.map((t) => t.at)).toEqual(axis.ticks.map((t) => tehranMidnight(t.sub)));
    // The months between, marked: 1 Dey, 1 Esfand, 1 Ordibehesht, 1 Tir.
    expect(axis.minor).toEqual(["2026-12-22", "2027-02-20", "2027-04-21", "2027-06-22"].map(tehranMidnight));
  });

  it("across Nowruz of a leap year: 1 Farvardin 1403 is 20 March 2024", () => {
    const axis = timeAxis(ms("2023-12-25T06:00:00Z"), ms("2024-08-20T06:00:00Z"), TEHRAN, "en");
    expect(axis.step).toEqual({ kind: "month", every: 2 });
    expect(axis.ticks.map((t) => [t.sub, t.label])).toEqual([
      ["2024-01-21", "Bahman 1402"],
      ["2024-03-20", "Farvardin 1403"],
      ["2024-05-21", "Khordad 1403"],
      ["2024-07-22", "Mordad 1403"],
    ]);
  });

  it.each([
    ["one instant", "2027-02-22T06:00:00Z", "2027-02-22T06:00:00Z", 2],
    ["a fortnight", "2027-02-01T06:00:00Z", "2027-02-15T06:00:00Z", 2],
    ["three years", "2025-01-01T06:00:00Z", "2028-01-01T06:00:00Z", 2],
  ])("%s: between 2 and MAX_TICKS ticks, increasing, inside the axis", (_, from, to, least) => {
    const axis = timeAxis(ms(from), ms(to), TEHRAN, "fa");
    expect(axis.ticks.length).toBeGreaterThanOrEqual(least);
    expect(axis.ticks.length).toBeLessThanOrEqual(MAX_TICKS);
    for (const [i, t] of axis.ticks.entries()) {
      expect(t.at).toBeGreaterThanOrEqual(axis.start);
      expect(t.at).toBeLessThanOrEqual(axis.end);
      if (i > 0) expect(t.at).toBeGreaterThan(axis.ticks[i - 1]?.at ?? Infinity);
    }
  });
});

// ------------------------------------------------------------------------------------------

function judged(id: CriterionId, threshold: number, title = { fa: `معیار ${id}`, en: `criterion ${id}` }): Judged {
  return {
    id,
    title,
    outcome: "pass",
    measured: 100,
    withWaivers: 100,
    threshold,
    total: 1,
    good: 1,
    offenders: [],
    waived: [],
    expired: [],
    byOwner: {},
  };
}

function result(o: Partial<Pick<GateResult, "trend" | "criteriaTrend" | "criteria">> & { due?: string }): GateResult {
  return {
    election: { id: "e", name: "e", day: "2027-02-25", timeZone: TEHRAN },
    milestone: { id: "T-7", due: o.due ?? "2027-02-18", maxAgeHours: 24, maxUnknownPercent: 5, where: "election.yaml:1" },
    date: "2027-02-17",
    judgedAt: "2027-02-17T08:00:00Z",
    verdict: "ready",
    exitCode: 0,
    reasons: [],
    inventory: { dir: "inventory", dirty: false, errors: 0, stations: 1, links: 1, servers: 1 },
    criteria: o.criteria ?? [],
    criteriaVerdict: "ready",
    expiredWaivers: [],
    ...(o.trend === undefined ? {} : { trend: o.trend }),
    ...(o.criteriaTrend === undefined ? {} : { criteriaTrend: o.criteriaTrend }),
  };
}

/** Each chart's markup, by its figure's data-criterion ("" for the overall score). */
function figures(markup: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const m of markup.matchAll(/<figure class="trend" data-criterion="([^"]*)">([\s\S]*?)<\/figure>/g)) found.set(m[1] ?? "", m[2] ?? "");
  return found;
}
const numbers = (markup: string, re: RegExp): number[] => [...markup.matchAll(re)].map((m) => Number(m[1]));
const circlesX = (markup: string): number[] => numbers(markup, /<circle[^>]* cx="([\d.]+)"/g);

const point = (at: string, outcome: CriterionPoint["outcome"], withWaivers?: number): CriterionPoint => ({
  at,
  outcome,
  ...(withWaivers === undefined ? {} : { measured: withWaivers, withWaivers }),
  threshold: 95,
});

describe("the charts", () => {
  it("places runs by time, not by index: uneven gaps stay uneven, on every chart alike", () => {
    const at = ["2027-02-12T06:00:00Z", "2027-02-12T18:00:00Z", "2027-02-16T18:00:00Z"]; // 12 h, then 96 h
    const markup = trendCharts(
      result({
        trend: at.map((a, i) => ({ at: a, verdict: i === 1 ? "not-ready" : "ready", score: [100, 90, 99][i] ?? 0 })),
        criteria: [judged("links-live", 95)],
        criteriaTrend: [{ id: "links-live", points: at.map((a, i) => point(a, i === 1 ? "fail" : "pass", [100, 90, 99][i])) }],
      }),
      "fa",
      COLOURS,
    ).markup;
    const charts = figures(markup);
    const overall = circlesX(charts.get("") ?? "");
    expect(overall).toHaveLength(3);
    const [a = 0, b = 0, c = 0] = overall;
    expect((c - b) / (b - a)).toBeCloseTo(8, 1); // by index it would be 1
    expect(circlesX(charts.get("links-live") ?? "")).toEqual(overall);
    // The failing run is red, the others green; the line joins all three.
    expect(charts.get("")).toContain(`fill="${COLOURS["not-ready"]}"`);
    expect(charts.get("links-live")?.match(/<polyline/g)).toHaveLength(1);
    // Ticks on the same axis: the 12th to the due date's day after (the 19th), every 2 days (8 days is too many labels).
    const ticks = numbers(charts.get("") ?? "", /<text class="j" x="([\d.]+)"/g);
    expect(ticks.length).toBeGreaterThan(1);
    expect(ticks).toEqual([...ticks].sort((p, q) => p - q));
    expect(charts.get("")).toContain('<text class="g" x="');
  });

  it("draws the threshold dashed, the due date's end marked, and a run that could not judge hollow on the 0 line with the line broken", () => {
    const markup = trendCharts(
      result({
        trend: [{ at: "2027-02-14T06:00:00Z", verdict: "ready", score: 100 }],
        criteria: [judged("dns-up", 95)],
        criteriaTrend: [
          {
            id: "dns-up",
            points: [
              point("2027-02-13T06:00:00Z", "pass", 97),
              point("2027-02-14T06:00:00Z", "cannot-judge"),
              point("2027-02-15T06:00:00Z", "pass", 99),
              point("2027-02-16T06:00:00Z", "fail", 90),
            ],
          },
        ],
      }),
      "en",
      COLOURS,
    ).markup;
    const chart = figures(markup).get("dns-up") ?? "";
    // y: 100 % at 20, 0 % at 154: 95 % is 154 − 0.95 × 134.
    expect(chart).toContain('<line class="threshold" x1="44" y1="26.7" x2="390" y2="26.7"><title>threshold 95.00%</title></line>');
    expect(chart).toMatch(/<circle class="unjudged" cx="[\d.]+" cy="154" r="3.5" stroke="#ef6c00"><title>[^<]* — cannot judge<\/title><\/circle>/);
    expect(chart.match(/<polyline/g)).toHaveLength(1); // 97 | (cannot judge) | 99 → 90
    // The due date (18 February) ends at midnight starting the 19th in Tehran: the last tick of the axis.
    const dueX = numbers(chart, /<line class="due" x1="([\d.]+)"/g);
    expect(dueX).toHaveLength(1);
    expect(dueX[0]).toBe(390);
    expect(markup).toContain('<figcaption>criterion dns-up <bdi dir="ltr">dns-up</bdi> — threshold 95.00%</figcaption>');
  });

  it("a criterion with one point, and one with none (history from before figures were kept): both on the shared axis", () => {
    const markup = trendCharts(
      result({
        trend: [
          { at: "2027-02-10T06:00:00Z", verdict: "ready" }, // an old run: no score
          { at: "2027-02-16T06:00:00Z", verdict: "ready", score: 100 },
        ],
        criteria: [judged("links-live", 100), judged("gateways-up", 100)],
        criteriaTrend: [
          { id: "links-live", points: [point("2027-02-16T06:00:00Z", "pass", 100)] },
          { id: "gateways-up", points: [] },
        ],
      }),
      "fa",
      COLOURS,
    ).markup;
    const charts = figures(markup);
    expect([...charts.keys()]).toEqual(["", "links-live", "gateways-up"]);
    expect(circlesX(charts.get("links-live") ?? "")).toHaveLength(1);
    expect(charts.get("links-live")).not.toContain("<polyline");
    expect(charts.get("links-live")).not.toContain('class="none"');
    expect(circlesX(charts.get("gateways-up") ?? "")).toEqual([]);
    expect(charts.get("gateways-up")).toContain('<text class="none"');
    // The same ticks on all three: the axis spans the overall trend's old run too.
    const ticks = (c: string) => numbers(charts.get(c) ?? "", /<text class="j" x="([\d.]+)"/g);
    expect(ticks("gateways-up")).toEqual(ticks(""));
    expect(ticks("links-live")).toEqual(ticks(""));
    expect(ticks("").length).toBeGreaterThan(1);
    // The old run without a score is drawn hollow, not as 0 %.
    expect(charts.get("")).toContain('<circle class="unjudged"');
  });

  it("no history: says so, draws nothing", () => {
    expect(trendCharts(result({ criteria: [judged("links-live", 100)] }), "en", COLOURS).markup).toBe("<p>no history yet</p>");
    expect(trendCharts(result({ trend: [], criteria: [judged("links-live", 100)] }), "fa", COLOURS).markup).toBe("<p>هنوز سابقه‌ای ثبت نشده است</p>");
  });

  it("keeps hostile strings inert: titles, ids, verdicts and times are text; a time that is not one is counted, not drawn", () => {
    const attack = `"><script>alert(1)</script><img src=x onerror=alert(2)>`;
    const markup = trendCharts(
      result({
        due: `2027-02-18 ${attack}`,
        trend: [
          { at: "2027-02-16T06:00:00Z", verdict: `ready ${attack}`, score: 100 },
          { at: `2027-02-17T06:00:00Z ${attack}`, verdict: "ready", score: 100 },
        ],
        criteria: [judged("links-live", 100, { fa: attack, en: attack })],
        criteriaTrend: [{ id: "links-live", points: [{ ...point("2027-02-16T06:00:00Z", "pass", 100), outcome: attack as CriterionPoint["outcome"] }] }],
      }),
      "en",
      COLOURS,
    ).markup;
    expect(markup).not.toContain("<script");
    expect(markup).not.toContain("<img");
    // No handler among a tag's attributes (the escaped text and the quoted values keep their "onerror=" as text).
    expect(markup.replace(/"[^"]*"/g, '""')).not.toMatch(/<[^>]*\son[a-z]+=/);
    expect(markup).toContain(`<figcaption>${esc(attack)} <bdi dir="ltr">links-live</bdi>`);
    expect(markup).toContain(`aria-label="${esc(attack)} (links-live)"`);
    expect(markup).toContain(`— ready ${esc(attack)} — 100.00%</title>`); // an unknown verdict, shown as written…
    expect(markup).toContain('fill="#9e9e9e"'); // …in grey
    expect(markup).toContain('<p class="unplaced">runs not shown, their time is not a time: 1</p>');
    expect(markup).not.toContain('class="due"'); // a due date that is not a day is not drawn
  });
});
