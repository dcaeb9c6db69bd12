import type { CriterionId, Inventory, IsoDate, Milestone, RuleId } from "../model/index.ts";
import type { LatestDrift } from "./drift/index.ts";
import type { Evidence } from "./evidence.ts";

/**
 * What a readiness criterion is: a measure over the inventory and the latest
 * evidence — how many objects meet it, which do not and who owns each — never
 * a pass or a fail. The registry (criteria.ts) implements one per id; the
 * judge (judge.ts) applies thresholds and waivers to its measure.
 */

export type OffenderKind = "station" | "link" | "device" | "server" | "role";

export interface Offender {
  /** The id of what is not ready: a station, link, server id, or `role:<role>`. */
  readonly id: string;
  readonly kind: OffenderKind;
  readonly station?: string;
  readonly district?: string;
  /** Who has to act: an operator id, municipality, education, governorate, mosque, health, or it-committee. */
  readonly owner: string;
  /** One line for a person: what is wrong, with the observed value. */
  readonly reason: string;
  /** Higher is worse: offenders are listed worst first. */
  readonly severity: number;
}

export type Measure =
  { readonly total: number; readonly good: number; readonly offenders: readonly Offender[]; readonly note?: string } | { readonly cannotJudge: string };

export interface CriterionContext {
  readonly inventory: Inventory;
  /** Absent when no results were given (criteria that need them cannot judge). */
  readonly evidence?: Evidence;
  /** The day being judged (lifecycle dates, waivers). */
  readonly date: IsoDate;
  readonly milestone: Milestone;
  /** The instant from which device check-ins count. */
  readonly checkinsSince: string;
  /** The latest drift report of the results' stack (`amadegi drift`); absent: none was looked for. */
  readonly drift?: LatestDrift;
}

export interface Criterion {
  readonly id: CriterionId;
  readonly title: { readonly en: string; readonly fa: string };
  /** Whether it reads probe results (without them it cannot judge). */
  readonly needsResults: boolean;
  /** Waivers of these model rules, naming an offender (or its station), accept it. */
  readonly waivedBy: readonly RuleId[];
  /** Handled by the gate's sign-off step, not by a measure. */
  readonly signoff?: true;
  /** Its measure reads the drift report, whose age moves with the clock: the gate's measures cache (measures.ts) never answers for it. */
  readonly readsDrift?: true;
  measure(ctx: CriterionContext): Measure;
}
