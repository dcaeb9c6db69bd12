import { dataRecord } from "../lib/records.ts";
import { type CriterionId, formatBoth, type IsoDate, type Waiver, waiverLookup } from "../model/index.ts";
import type { Criterion, Measure, Offender } from "./criterion.ts";

/**
 * Thresholds and waivers: a criterion's measure becomes a judged criterion —
 * pass, fail or cannot judge. A live waiver of one of the criterion's rules
 * naming an offender (or its station) accepts it; an expired one that named it
 * fails the criterion, whatever the share.
 */

export interface WaivedOffender extends Offender {
  readonly waiver: { readonly id: string; readonly approvedBy: string; readonly until: IsoDate; readonly rule: string };
}

export interface ExpiredWaiver {
  readonly id: string;
  readonly item: string;
  readonly approvedBy: string;
  readonly until: IsoDate;
}

export interface Judged {
  readonly id: CriterionId;
  readonly title: Criterion["title"];
  /** pass, fail, or cannot-judge (never a pass). */
  readonly outcome: "pass" | "fail" | "cannot-judge";
  /** Share of objects meeting it, % (waived offenders not included). */
  readonly measured: number;
  /** Share with waived offenders counted as meeting it, %. */
  readonly withWaivers: number;
  /** The share required, %. */
  readonly threshold: number;
  readonly total: number;
  readonly good: number;
  /** Unwaived offenders, worst first. */
  readonly offenders: readonly Offender[];
  readonly waived: readonly WaivedOffender[];
  /** Waivers past their date that named an offender: each fails the criterion. */
  readonly expired: readonly ExpiredWaiver[];
  readonly byOwner: Readonly<Record<string, number>>;
  readonly note?: string;
  readonly reason?: string;
}

const floor2 = (n: number): number => Math.floor(n * 100 + 1e-9) / 100;

export function judge(criterion: Criterion, measure: Measure, threshold: number, waivers: readonly Waiver[], date: IsoDate): Judged {
  const base = { id: criterion.id, title: criterion.title, threshold };
  if ("cannotJudge" in measure) {
    return {
      ...base,
      outcome: "cannot-judge",
      measured: 0,
      withWaivers: 0,
      total: 0,
      good: 0,
      offenders: [],
      waived: [],
      expired: [],
      byOwner: {},
      reason: measure.cannotJudge,
    };
  }
  const waiverOf = waiverLookup(waivers);
  const offenders: Offender[] = [];
  const waived: WaivedOffender[] = [];
  const expired: ExpiredWaiver[] = [];
  for (const o of measure.offenders) {
    // A waiver names the offender, or the station it belongs to.
    const { live, expired: past } = waiverOf(criterion.waivedBy, o.station === undefined ? [o.id] : [o.id, o.station], date);
    if (live !== undefined) {
      waived.push({ ...o, waiver: { id: live.id, approvedBy: live.approvedBy, until: live.until, rule: live.rule } });
      continue;
    }
    if (past !== undefined) expired.push({ id: past.id, item: o.id, approvedBy: past.approvedBy, until: past.until });
    offenders.push(past === undefined ? o : { ...o, reason: `${o.reason} [waiver ${past.id} expired on ${formatBoth(past.until)}]` });
  }
  offenders.sort((a, b) => b.severity - a.severity || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const byOwner = dataRecord<number>();
  for (const o of offenders) byOwner[o.owner] = (byOwner[o.owner] ?? 0) + 1;
  const total = measure.total;
  // Shown rounded down, judged exactly: 119,999 of 120,000 is 99.99%, never 100%.
  const measured = total === 0 ? 100 : floor2((100 * measure.good) / total);
  const withWaivers = total === 0 ? 100 : floor2((100 * (measure.good + waived.length)) / total);
  const pass = (measure.good + waived.length) * 100 >= threshold * total && expired.length === 0;
  return {
    ...base,
    outcome: pass ? "pass" : "fail",
    measured,
    withWaivers,
    total,
    good: measure.good,
    offenders,
    waived,
    expired,
    byOwner,
    ...(measure.note === undefined ? {} : { note: measure.note }),
    ...(expired.length > 0 ? { reason: `expired waiver${expired.length === 1 ? "" : "s"}: ${[...new Set(expired.map((e) => e.id))].join(", ")}` } : {}),
  };
}
