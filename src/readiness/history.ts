import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { ProbeResult, Status } from "../probe/types.ts";

/**
 * The project's memory between runs: every campaign's per-target statuses and
 * every gate verdict, in an embedded SQLite database (node:sqlite) under the
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
`;

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
        .run(campaign.id, campaign.stack, campaign.started, campaign.finished, campaign.valid ? 1 : 0, campaign.invalidReason ?? null, campaign.resultsSha256 ?? null);
      for (const r of results) insertResult.run(campaign.id, r.key, r.status, r.failure ?? null, r.district ?? null, r.operator ?? null);
      this.db.exec("COMMIT");
    } catch (error) {
      this.db.exec("ROLLBACK");
      throw error;
    }
  }

  recordVerdict(milestone: string, at: string, verdict: string, campaign?: string, score?: number): void {
    this.db.prepare("INSERT OR REPLACE INTO verdict (milestone, campaign, at, verdict, score) VALUES (?, ?, ?, ?, ?)").run(milestone, campaign ?? null, at, verdict, score ?? null);
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
      .prepare("SELECT now.key AS key, now.status AS status, was.status AS was FROM result now JOIN result was ON was.key = now.key AND was.campaign = ? WHERE now.campaign = ? ORDER BY now.key")
      .all(String(previous.id), campaignId);
    const pairs = rows.map((r) => ({ key: String(r.key), status: String(r.status) as Status, was: String(r.was) as Status }));
    return {
      previous: String(previous.id),
      newlyFailing: pairs.filter((p) => passing(p.was) && failing(p.status)),
      recovered: pairs.filter((p) => failing(p.was) && passing(p.status)),
    };
  }

  /** A milestone's verdicts over time, oldest first (the report's trend). */
  trend(milestone: string): { at: string; verdict: string; score?: number }[] {
    return this.db
      .prepare("SELECT at, verdict, score FROM verdict WHERE milestone = ? ORDER BY at")
      .all(milestone)
      .map((r) => ({ at: String(r.at), verdict: String(r.verdict), ...(r.score === null ? {} : { score: Number(r.score) }) }));
  }

  integrity(): string {
    return String(this.db.prepare("PRAGMA integrity_check").get()?.integrity_check);
  }
}
