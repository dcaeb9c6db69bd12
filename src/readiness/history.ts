import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { parseInstant } from "../model/index.ts";
import type { ProbeResult, Status } from "../probe/types.ts";
// drift/types.ts, drift's entry point for its kinds alone: drift/index.ts would import this store back through drift's run.
import { DRIFT_KINDS, type DriftKind } from "./drift/types.ts";

/**
 * The project's memory between runs: every campaign's per-target statuses,
 * every gate verdict (with what each criterion measured) and every drift report, in an embedded SQLite database (node:sqlite) under the
 * state directory. One run is one transaction: a run killed half-way leaves
 * nothing of itself and everything before it. WAL and a busy timeout let
 * concurrent runs (two shards on one machine, a report while a campaign
 * writes) share the file without corrupting it.
 */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS campaign (
  id TEXT PRIMARY KEY,
  stack TEXT NOT NULL,
  started TEXT NOT NULL,
  finished TEXT NOT NULL,
  valid INTEGER NOT NULL,
  invalid_reason TEXT,
  results_sha256 TEXT
);
CREATE TABLE IF NOT EXISTS result (
  campaign TEXT NOT NULL REFERENCES campaign(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  status TEXT NOT NULL,
  failure TEXT,
  district TEXT,
  operator TEXT,
  PRIMARY KEY (campaign, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS verdict (
  milestone TEXT NOT NULL,
  campaign TEXT,
  at TEXT NOT NULL,
  verdict TEXT NOT NULL,
  score REAL,
  PRIMARY KEY (milestone, at)
);
CREATE TABLE IF NOT EXISTS verdict_criterion (
  milestone TEXT NOT NULL,
  at TEXT NOT NULL,
  criterion TEXT NOT NULL,
  outcome TEXT NOT NULL,
  measured REAL,
  with_waivers REAL,
  threshold REAL,
  PRIMARY KEY (milestone, at, criterion)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS drift_run (
  id TEXT PRIMARY KEY,
  stack TEXT NOT NULL,
  at TEXT NOT NULL,
  verdict TEXT NOT NULL,
  checked INTEGER NOT NULL,
  not_provisioned INTEGER NOT NULL,
  not_declared INTEGER NOT NULL,
  changed_on_server INTEGER NOT NULL,
  never_observed INTEGER NOT NULL,
  unreachable INTEGER NOT NULL,
  waived INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS drift_run_stack ON drift_run (stack, at);
CREATE TABLE IF NOT EXISTS drift_item (
  run TEXT NOT NULL REFERENCES drift_run(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  kind TEXT NOT NULL,
  object TEXT NOT NULL,
  owner TEXT NOT NULL,
  waived_by TEXT,
  PRIMARY KEY (run, key)
) WITHOUT ROWID;
`;

/** A gate run of a milestone, as its trend keeps it: the verdict and the score (the mean share of the criteria judged, %). */
export interface VerdictPoint {
  readonly at: string;
  readonly verdict: string;
  readonly score?: number;
}

/** A criterion's outcome, as judge.ts judges it (not imported: criteria reach this file through drift's run). */
export type Outcome = "pass" | "fail" | "cannot-judge";

/** What one criterion measured at one gate run; the shares (%) are absent when it could not judge. */
export interface CriterionFigure {
  readonly id: string;
  readonly outcome: Outcome;
  /** Share meeting it, waived offenders not counted. */
  readonly measured?: number;
  /** Share with waived offenders counted as meeting it: what the threshold is judged against. */
  readonly withWaivers?: number;
  readonly threshold?: number;
}

export interface CriterionPoint extends Omit<CriterionFigure, "id"> {
  readonly at: string;
}

/** One criterion of a milestone over time, oldest first. */
export interface CriterionTrend {
  readonly id: string;
  readonly points: readonly CriterionPoint[];
}

export interface CampaignRecord {
  readonly id: string;
  readonly stack: string;
  readonly started: string;
  readonly finished: string;
  readonly valid: boolean;
  readonly invalidReason?: string;
  readonly resultsSha256?: string;
}

export interface Changes {
  readonly previous?: string;
  /** Up (or degraded) before, down / unreachable now. */
  readonly newlyFailing: readonly { key: string; status: Status; was: Status }[];
  /** Failing before, up or degraded now. */
  readonly recovered: readonly { key: string; status: Status; was: Status }[];
}

/** One drift report, as history keeps it: counts per kind (unwaived) and every item. */
export interface DriftRunRecord {
  readonly id: string;
  readonly stack: string;
  readonly at: string;
  readonly verdict: string;
  readonly checked: number;
  readonly counts: Readonly<Record<DriftKind, number>>;
  /** Items accepted by a waiver, all kinds. */
  readonly waived: number;
}

export interface DriftItemRecord {
  readonly key: string;
  readonly kind: DriftKind;
  readonly object: string;
  readonly owner: string;
  readonly waivedBy?: string;
}

export interface DriftChangesRecord {
  readonly previous?: { readonly id: string; readonly at: string };
  /** Items in this report that the previous one of the stack did not have. */
  readonly appeared: readonly DriftItemRecord[];
  /** Items of the previous report that this one no longer has. */
  readonly resolved: readonly DriftItemRecord[];
}

const KIND_COLUMNS: Readonly<Record<DriftKind, string>> = {
  "not-provisioned": "not_provisioned",
  "not-declared": "not_declared",
  "changed-on-server": "changed_on_server",
  "never-observed": "never_observed",
  unreachable: "unreachable",
};

// The history file is data: what is read back is checked, and a row that is not what amadegi writes
// (a time that is not a time, a verdict or outcome it does not know, a share outside 0–100: a damaged
// or hand-edited file) is left out of the trend, which is a picture, never a verdict.
const VERDICTS: ReadonlySet<unknown> = new Set(["ready", "not-ready", "cannot-judge"]);
const OUTCOMES: ReadonlySet<unknown> = new Set(["pass", "fail", "cannot-judge"]);
const isOutcome = (v: unknown): v is Outcome => OUTCOMES.has(v);
const instantOf = (v: unknown): number | undefined => (typeof v === "string" ? parseInstant(v) : undefined);
const share = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= 100 ? v : undefined);
/** Oldest first, by the instant (a time written with an offset sorts by when it is, not as text). */
const byTime = <T>(rows: [number, T][]): T[] => rows.sort((a, b) => a[0] - b[0]).map(([, row]) => row);

const passing = (s: string) => s === "up" || s === "degraded";
const failing = (s: string) => s === "down" || s === "unreachable";

export class History {
  private readonly db: DatabaseSync;

  constructor(path: string) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new DatabaseSync(path, { timeout: 10_000 });
    this.db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;");
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  /** Store a campaign and its results, all or nothing. */
  recordCampaign(campaign: CampaignRecord, results: Iterable<Pick<ProbeResult, "key" | "status" | "failure" | "district" | "operator">>): void {
    const insertResult = this.db.prepare("INSERT OR REPLACE INTO result (campaign, key, status, failure, district, operator) VALUES (?, ?, ?, ?, ?, ?)");
    this.db.exec("BEGIN IMMEDIATE");
    try {
      this.db
        .prepare("INSERT INTO campaign (id, stack, started, finished, valid, invalid_reason, results_sha256) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .run(
          campaign.id,
          campaign.stack,
          campaign.started,
          campaign.finished,
          campaign.valid ? 1 : 0,
          campaign.invalidReason ?? null,
          campaign.resultsSha256 ?? null,
        );
      for (const r of results) insertResult.run(campaign.id, r.key, r.status, r.failure ?? null, r.district ?? null, r.operator ?? null);
      this.db.exec("COMMIT");
    } catch (error) {
      this.db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Store a gate run's verdict and what each criterion measured, all or nothing (a run recorded again replaces its figures). */
  recordVerdict(milestone: string, at: string, verdict: string, campaign?: string, score?: number, criteria: readonly CriterionFigure[] = []): void {
    const insertFigure = this.db.prepare(
      "INSERT OR REPLACE INTO verdict_criterion (milestone, at, criterion, outcome, measured, with_waivers, threshold) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    this.db.exec("BEGIN IMMEDIATE");
    try {
      this.db
        .prepare("INSERT OR REPLACE INTO verdict (milestone, campaign, at, verdict, score) VALUES (?, ?, ?, ?, ?)")
        .run(milestone, campaign ?? null, at, verdict, score ?? null);
      this.db.prepare("DELETE FROM verdict_criterion WHERE milestone = ? AND at = ?").run(milestone, at);
      for (const c of criteria) insertFigure.run(milestone, at, c.id, c.outcome, c.measured ?? null, c.withWaivers ?? null, c.threshold ?? null);
      this.db.exec("COMMIT");
    } catch (error) {
      this.db.exec("ROLLBACK");
      throw error;
    }
  }

  hasCampaign(id: string): boolean {
    return this.db.prepare("SELECT 1 AS found FROM campaign WHERE id = ?").get(id) !== undefined;
  }

  /** Campaigns of a stack, newest first. */
  campaigns(stack: string): CampaignRecord[] {
    const rows = this.db.prepare("SELECT * FROM campaign WHERE stack = ? ORDER BY finished DESC, id DESC").all(stack);
    return rows.map((row) => ({
      id: String(row.id),
      stack: String(row.stack),
      started: String(row.started),
      finished: String(row.finished),
      valid: row.valid === 1,
      ...(row.invalid_reason === null ? {} : { invalidReason: String(row.invalid_reason) }),
      ...(row.results_sha256 === null ? {} : { resultsSha256: String(row.results_sha256) }),
    }));
  }

  /** What changed between a campaign and the valid campaign of the same stack before it. */
  changesSince(campaignId: string): Changes {
    const current = this.db.prepare("SELECT stack, finished FROM campaign WHERE id = ?").get(campaignId);
    if (current === undefined) return { newlyFailing: [], recovered: [] };
    const previous = this.db
      .prepare("SELECT id FROM campaign WHERE stack = ? AND valid = 1 AND id <> ? AND finished <= ? ORDER BY finished DESC, id DESC LIMIT 1")
      .get(String(current.stack), campaignId, String(current.finished));
    if (previous === undefined) return { newlyFailing: [], recovered: [] };
    const rows = this.db
      .prepare(
        "SELECT now.key AS key, now.status AS status, was.status AS was FROM result now " +
          "JOIN result was ON was.key = now.key AND was.campaign = ? WHERE now.campaign = ? ORDER BY now.key",
      )
      .all(String(previous.id), campaignId);
    const pairs = rows.map((r) => ({ key: String(r.key), status: String(r.status) as Status, was: String(r.was) as Status }));
    return {
      previous: String(previous.id),
      newlyFailing: pairs.filter((p) => passing(p.was) && failing(p.status)),
      recovered: pairs.filter((p) => failing(p.was) && passing(p.status)),
    };
  }

  /** A milestone's verdicts over time, oldest first (the report's trend); rows that are not one are left out. */
  trend(milestone: string): VerdictPoint[] {
    const points: [number, VerdictPoint][] = [];
    for (const r of this.db.prepare("SELECT at, verdict, score FROM verdict WHERE milestone = ?").all(milestone)) {
      const ms = instantOf(r.at);
      if (ms === undefined || !VERDICTS.has(r.verdict)) continue;
      const score = share(r.score);
      points.push([ms, { at: String(r.at), verdict: String(r.verdict), ...(score === undefined ? {} : { score }) }]);
    }
    return byTime(points);
  }

  /**
   * What each of `ids` measured at each gate run of a milestone, oldest first, in the order of `ids`:
   * a criterion never recorded (runs before figures were kept, a criterion new to the milestone) has no points.
   */
  criteriaTrend(milestone: string, ids: readonly string[]): CriterionTrend[] {
    const byId = new Map<string, [number, CriterionPoint][]>(ids.map((id) => [id, []]));
    const rows = this.db.prepare("SELECT at, criterion, outcome, measured, with_waivers, threshold FROM verdict_criterion WHERE milestone = ?").all(milestone);
    for (const r of rows) {
      const points = typeof r.criterion === "string" ? byId.get(r.criterion) : undefined;
      const ms = instantOf(r.at);
      if (points === undefined || ms === undefined || !isOutcome(r.outcome)) continue;
      // Nothing was measured where the criterion could not judge.
      const [measured, withWaivers] = r.outcome === "cannot-judge" ? [] : [share(r.measured), share(r.with_waivers)];
      const threshold = share(r.threshold);
      points.push([
        ms,
        {
          at: String(r.at),
          outcome: r.outcome,
          ...(measured === undefined ? {} : { measured }),
          ...(withWaivers === undefined ? {} : { withWaivers }),
          ...(threshold === undefined ? {} : { threshold }),
        },
      ]);
    }
    return [...byId].map(([id, points]) => ({ id, points: byTime(points) }));
  }

  /** Store a drift report and its items, all or nothing. */
  recordDrift(run: DriftRunRecord, items: Iterable<DriftItemRecord>): void {
    const insertItem = this.db.prepare("INSERT OR REPLACE INTO drift_item (run, key, kind, object, owner, waived_by) VALUES (?, ?, ?, ?, ?, ?)");
    this.db.exec("BEGIN IMMEDIATE");
    try {
      this.db
        .prepare(
          `INSERT INTO drift_run (id, stack, at, verdict, checked, ${DRIFT_KINDS.map((k) => KIND_COLUMNS[k]).join(", ")}, waived) ` +
            `VALUES (?, ?, ?, ?, ?, ${DRIFT_KINDS.map(() => "?").join(", ")}, ?)`,
        )
        .run(run.id, run.stack, run.at, run.verdict, run.checked, ...DRIFT_KINDS.map((k) => run.counts[k]), run.waived);
      for (const item of items) insertItem.run(run.id, item.key, item.kind, item.object, item.owner, item.waivedBy ?? null);
      this.db.exec("COMMIT");
    } catch (error) {
      this.db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Drift reports of a stack, newest first. */
  driftRuns(stack: string): DriftRunRecord[] {
    return this.db
      .prepare("SELECT * FROM drift_run WHERE stack = ? ORDER BY at DESC, id DESC")
      .all(stack)
      .map((row) => ({
        id: String(row.id),
        stack: String(row.stack),
        at: String(row.at),
        verdict: String(row.verdict),
        checked: Number(row.checked),
        counts: Object.fromEntries(DRIFT_KINDS.map((k) => [k, Number(row[KIND_COLUMNS[k]])])) as Record<DriftKind, number>,
        waived: Number(row.waived),
      }));
  }

  /** What changed between a drift report and the stack's report before it: items that appeared, items resolved. */
  driftChangesSince(runId: string): DriftChangesRecord {
    const current = this.db.prepare("SELECT stack, at FROM drift_run WHERE id = ?").get(runId);
    if (current === undefined) return { appeared: [], resolved: [] };
    const previous = this.db
      .prepare("SELECT id, at FROM drift_run WHERE stack = ? AND id <> ? AND at <= ? ORDER BY at DESC, id DESC LIMIT 1")
      .get(String(current.stack), runId, String(current.at));
    if (previous === undefined) return { appeared: [], resolved: [] };
    const only = (a: string, b: string): DriftItemRecord[] =>
      this.db
        .prepare(
          "SELECT key, kind, object, owner, waived_by FROM drift_item a " +
            "WHERE a.run = ? AND NOT EXISTS (SELECT 1 FROM drift_item b WHERE b.run = ? AND b.key = a.key) ORDER BY key",
        )
        .all(a, b)
        .map((r) => ({
          key: String(r.key),
          kind: String(r.kind) as DriftKind,
          object: String(r.object),
          owner: String(r.owner),
          ...(r.waived_by === null ? {} : { waivedBy: String(r.waived_by) }),
        }));
    return {
      previous: { id: String(previous.id), at: String(previous.at) },
      appeared: only(runId, String(previous.id)),
      resolved: only(String(previous.id), runId),
    };
  }

  integrity(): string {
    return String(this.db.prepare("PRAGMA integrity_check").get()?.integrity_check);
  }
}
