import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { ProbeError } from "../lib/errors.ts";
import { type CampaignFooter, type CampaignHeader, readResults } from "../probe/results.ts";
import { emptyCounts, type Counts } from "../probe/summary.ts";
import type { ProbeKind, ProbeResult, Status } from "../probe/types.ts";

/**
 * The latest evidence, indexed for the criteria: one pass over a campaign's
 * results file keeps, per link, per device check-in and per server, only what
 * a criterion reads (a status, a time, a certificate date), never the results
 * themselves, so a national file (hundreds of thousands of lines) stays small
 * in memory.
 */

/** Worse statuses rank higher: the worst of several probes of one object is its status. */
const RANK: Readonly<Record<Status, number>> = { up: 0, degraded: 1, unknown: 2, unreachable: 3, down: 4 };

export const isHealthy = (s: Status | undefined): boolean => s === "up" || s === "degraded";

export function worse(a: Status | undefined, b: Status): Status {
  return a === undefined || RANK[b] > RANK[a] ? b : a;
}

export interface Observed {
  readonly status: Status;
  readonly detail?: string;
}

export interface CheckinEvidence extends Observed {
  /** CHECKIN_AT: when the gateway accepted the device's connection. */
  readonly at?: string;
  readonly serial?: string;
}

export interface ServerEvidence {
  /** The worst status over every probe of the server, and the detail that goes with it. */
  readonly worst: Observed;
  /** The worst status per kind of probe (dns, ntp, tls…). */
  readonly byKind: ReadonlyMap<ProbeKind, Observed>;
  /** The earliest certificate expiry any probe of the server saw (ISO). */
  readonly certNotAfter?: string;
}

/** A slim copy of each result, for the history database. */
export type ResultRow = Pick<ProbeResult, "key" | "status" | "failure" | "district" | "operator">;

export interface Evidence {
  readonly file: string;
  readonly sha256: string;
  readonly header?: CampaignHeader;
  readonly footer?: CampaignFooter;
  readonly damaged: readonly number[];
  readonly counts: Counts;
  readonly total: number;
  /** The worst status of the probes aimed at each link (ping, tcp…), by link id. */
  readonly links: ReadonlyMap<string, Observed>;
  /** The latest device check-in over each link, by link id. */
  readonly checkins: ReadonlyMap<string, CheckinEvidence>;
  readonly servers: ReadonlyMap<string, ServerEvidence>;
  readonly rows: readonly ResultRow[];
}

interface MutableServer {
  worst: Observed;
  byKind: Map<ProbeKind, Observed>;
  certNotAfter?: string;
}

/** Read a results file into an Evidence index. Throws ProbeError when it cannot be read at all. */
export async function readEvidence(file: string): Promise<Evidence> {
  try {
    await stat(file);
  } catch (error) {
    throw new ProbeError(`no results file ${file}`, { file, hint: "run `amadegi check` first, or pass --results FILE", cause: error });
  }
  const sha256 = await hashFile(file);
  const counts = emptyCounts();
  const links = new Map<string, Observed>();
  const checkins = new Map<string, CheckinEvidence>();
  const servers = new Map<string, MutableServer>();
  const rows: ResultRow[] = [];
  const summary = await readResults(file, (r) => {
    counts[r.status]++;
    rows.push({ key: r.key, status: r.status, ...(r.failure === undefined ? {} : { failure: r.failure }), ...(r.district === undefined ? {} : { district: r.district }), ...(r.operator === undefined ? {} : { operator: r.operator }) });
    const observed: Observed = r.detail === undefined ? { status: r.status } : { status: r.status, detail: r.detail };
    if (r.kind === "checkin") {
      if (r.link === undefined) return;
      const at = typeof r.values.CHECKIN_AT === "string" ? r.values.CHECKIN_AT : undefined;
      const serial = typeof r.values.SERIAL === "string" ? r.values.SERIAL : undefined;
      const prior = checkins.get(r.link);
      // The latest check-in per link wins (a file may hold several reads of one gateway).
      if (prior?.at !== undefined && at !== undefined && prior.at > at) return;
      checkins.set(r.link, { ...observed, ...(at === undefined ? {} : { at }), ...(serial === undefined ? {} : { serial }) });
      return;
    }
    if (r.link !== undefined) {
      const prior = links.get(r.link);
      if (prior === undefined || worse(prior.status, r.status) !== prior.status) links.set(r.link, observed);
      return;
    }
    if (r.server !== undefined) {
      let s = servers.get(r.server);
      if (s === undefined) {
        s = { worst: observed, byKind: new Map() };
        servers.set(r.server, s);
      } else if (worse(s.worst.status, r.status) !== s.worst.status) s.worst = observed;
      const kind = s.byKind.get(r.kind);
      if (kind === undefined || worse(kind.status, r.status) !== kind.status) s.byKind.set(r.kind, observed);
      const notAfter = r.values.CERTIFICATE_NOT_AFTER;
      if (typeof notAfter === "string" && (s.certNotAfter === undefined || notAfter < s.certNotAfter)) s.certNotAfter = notAfter;
    }
  });
  return {
    file,
    sha256,
    ...(summary.header === undefined ? {} : { header: summary.header }),
    ...(summary.footer === undefined ? {} : { footer: summary.footer }),
    damaged: summary.damaged,
    counts,
    total: summary.results,
    links,
    checkins,
    servers,
    rows,
  };
}

export async function hashFile(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
