import { type ProbeResult, STATUSES, type Status } from "./types.ts";

/**
 * Counts per status, overall and per district, operator, medium and check:
 * what the committee reads first. Only counters are kept, never the results,
 * so a national campaign's memory does not grow with its targets.
 */
export type Counts = Record<Status, number>;

export function emptyCounts(): Counts {
  return Object.fromEntries(STATUSES.map((s) => [s, 0])) as Counts;
}

export interface Summary {
  readonly total: Counts;
  readonly byDistrict: Record<string, Counts>;
  readonly byOperator: Record<string, Counts>;
  readonly byMedium: Record<string, Counts>;
  readonly byCheck: Record<string, Counts>;
}

export class Tally {
  readonly total = emptyCounts();
  private readonly groups = {
    byDistrict: new Map<string, Counts>(),
    byOperator: new Map<string, Counts>(),
    byMedium: new Map<string, Counts>(),
    byCheck: new Map<string, Counts>(),
  };

  add(r: Pick<ProbeResult, "status" | "district" | "operator" | "medium" | "check">): void {
    this.total[r.status]++;
    bump(this.groups.byDistrict, r.district, r.status);
    bump(this.groups.byOperator, r.operator, r.status);
    bump(this.groups.byMedium, r.medium, r.status);
    bump(this.groups.byCheck, r.check, r.status);
  }

  get done(): number {
    return STATUSES.reduce((n, s) => n + this.total[s], 0);
  }

  summary(): Summary {
    const plain = (m: Map<string, Counts>) => Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)));
    return {
      total: { ...this.total },
      byDistrict: plain(this.groups.byDistrict),
      byOperator: plain(this.groups.byOperator),
      byMedium: plain(this.groups.byMedium),
      byCheck: plain(this.groups.byCheck),
    };
  }
}

/**
 * When a check's results came, in seconds after the campaign's start: its first and its last, and how
 * many. The check whose last came last held the campaign's end; at national size that is what tells
 * a slow campaign's cause (the sweep, the links' TCP lane, the servers' key scans) without reading
 * 400,000 results (issue 20). Three numbers a check, never the results.
 */
export interface CheckSpan {
  readonly check: string;
  readonly firstS: number;
  readonly lastS: number;
  readonly results: number;
}

export class Spans {
  private readonly spans = new Map<string, { first: number; last: number; results: number }>();

  /** A result of `check` settled `atMs` after the campaign's start. */
  add(check: string, atMs: number): void {
    const span = this.spans.get(check);
    if (span === undefined) this.spans.set(check, { first: atMs, last: atMs, results: 1 });
    else {
      span.first = Math.min(span.first, atMs);
      span.last = Math.max(span.last, atMs);
      span.results++;
    }
  }

  /** Every check's span, the last to end first (to the tenth of a second). */
  list(): CheckSpan[] {
    const s = (ms: number) => Math.round(ms / 100) / 10;
    return [...this.spans]
      .sort(([a, x], [b, y]) => y.last - x.last || (a < b ? -1 : 1))
      .map(([check, span]) => ({ check, firstS: s(span.first), lastS: s(span.last), results: span.results }));
  }
}

/** `link-tcp 40.7–73.2 s (133019)`: a span as the check's human summary shows it. */
export function formatSpan(span: CheckSpan): string {
  return `${span.check} ${span.firstS.toFixed(1)}–${span.lastS.toFixed(1)} s (${span.results})`;
}

function bump(map: Map<string, Counts>, key: string | undefined, status: Status): void {
  if (key === undefined) return;
  let counts = map.get(key);
  if (counts === undefined) {
    counts = emptyCounts();
    map.set(key, counts);
  }
  counts[status]++;
}

/** `up 12 · degraded 1 · down 0 …` */
export function formatCounts(c: Counts): string {
  return STATUSES.map((s) => `${s} ${c[s]}`).join(" · ");
}

/** Groups that are not all up/degraded, worst first, for the human summary. */
export function troubled(groups: Record<string, Counts>, limit = 10): [string, Counts][] {
  const bad = (c: Counts) => c.down + c.unreachable + c.unknown;
  return Object.entries(groups)
    .filter(([, c]) => bad(c) > 0)
    .sort(([, a], [, b]) => bad(b) - bad(a))
    .slice(0, limit);
}
