import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { hashFiles, keepNewest, writeFileAtomic } from "../lib/fs.ts";
import { isRecord } from "../lib/records.ts";
import { type CampaignFooter, type CampaignHeader } from "../probe/results.ts";
import { type Counts } from "../probe/summary.ts";
import { type ProbeKind, STATUSES, type Status } from "../probe/types.ts";

/**
 * The results digest (ADR 0011): what `readEvidence` keeps of a results file
 * (a status, a time, a serial per link; the worst per server), written to the
 * state's cache under the file's sha256. A national results file is over
 * 100 MB and parsing it is most of a gate; the gate runs again and again on
 * the same campaign (each milestone, each report, CI). So a later read hashes
 * the file (the sha256 is checked in every run, never trusted from a name or
 * a time) and, if a digest of exactly those bytes was kept by this code, takes
 * the digest instead of parsing. The digest holds nothing the results file
 * does not; it is data, checked field by field when read, and anything amiss
 * is a miss (the file is read in full again), never a verdict.
 */

/** Bump when the digest's layout changes. The reading code's own hash (codeKey) covers changes to its rules. */
const DIGEST_VERSION = 1;
/** Digests kept: a few campaigns (stacks, shards) gated in turn each keep theirs. */
const KEEP = 8;
const PREFIX = "evidence-";

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

/** What is digested: the Evidence of one file (evidence.ts), less its path and its rows. */
export interface Digested {
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
}

/** Columns, not objects: a national file's 266,000 results become a few arrays, which parse in tens of milliseconds. */
interface DigestFile extends Omit<Digested, "links" | "checkins" | "servers"> {
  readonly version: number;
  readonly code: string;
  readonly links: { readonly ids: readonly string[]; readonly status: string; readonly details: readonly (readonly [number, string])[] };
  readonly checkins: {
    readonly ids: readonly string[];
    readonly status: string;
    readonly details: readonly (readonly [number, string])[];
    readonly at: readonly (string | null)[];
    readonly serial: readonly (string | null)[];
  };
  readonly servers: readonly (readonly [string, Observed, readonly (readonly [string, Observed])[], string | null])[];
}

const CODE_FILES = [join(import.meta.dirname, "evidence.ts"), join(import.meta.dirname, "digest.ts"), join(import.meta.dirname, "..", "probe", "results.ts")];
let code: Promise<string> | undefined;

/** The reading code by content: a digest made by other rules is a miss. */
function codeKey(): Promise<string> {
  code ??= hashFiles(`amadegi-results-digest ${DIGEST_VERSION}`, CODE_FILES);
  return code;
}

/** What a results file says of itself beside its observations: its hash, header, footer, damage and counts. */
export type DigestHead = Pick<Digested, "sha256" | "header" | "footer" | "damaged" | "counts" | "total">;

/** The head of a digest (or an Evidence) as it is kept: absent header and footer left out. */
export function keptHead(d: DigestHead): DigestHead {
  return {
    sha256: d.sha256,
    ...(d.header === undefined ? {} : { header: d.header }),
    ...(d.footer === undefined ? {} : { footer: d.footer }),
    damaged: d.damaged,
    counts: d.counts,
    total: d.total,
  };
}

/** A kept head, checked field by field (the digest's, the measures cache's); throws when any is off. */
export function checkHead(v: Record<string, unknown>): asserts v is Record<string, unknown> & DigestHead {
  const f = v as unknown as DigestHead;
  if (typeof f.sha256 !== "string") throw new Error("sha256");
  if (!Array.isArray(f.damaged) || !f.damaged.every((n) => Number.isInteger(n))) throw new Error("damaged");
  if (!Number.isInteger(f.total) || !isRecord(f.counts) || !STATUSES.every((s) => Number.isInteger(f.counts[s]))) throw new Error("counts");
  if (f.header !== undefined && !isRecord(f.header)) throw new Error("header");
  if (f.footer !== undefined && !isRecord(f.footer)) throw new Error("footer");
}

const digestFile = (cacheDir: string, sha256: string) => join(cacheDir, `${PREFIX}${sha256.slice(0, 32)}.json`);

/** The digest of the file whose bytes hash to sha256, if this code kept one and it reads whole; else undefined. */
export async function loadDigest(cacheDir: string, sha256: string): Promise<Digested | undefined> {
  let text: string;
  try {
    text = (await readFile(digestFile(cacheDir, sha256))).toString("utf8");
  } catch {
    return undefined;
  }
  try {
    return decode(JSON.parse(text) as unknown, sha256, await codeKey());
  } catch {
    return undefined;
  }
}

/** Keep the digest of a file just read. A cache that cannot be written costs time, never the verdict. */
export async function saveDigest(cacheDir: string, d: Digested): Promise<void> {
  try {
    await writeFileAtomic(digestFile(cacheDir, d.sha256), JSON.stringify(encode(d, await codeKey())));
    await keepNewest(cacheDir, PREFIX, ".json", KEEP);
  } catch {
    // Not kept: the next run parses the file again.
  }
}

/** A status in a column is one digit: its place in STATUSES. */
const CODE_OF = Object.fromEntries(STATUSES.map((s, i) => [s, String(i)])) as Readonly<Record<Status, string>>;

export function encode(d: Digested, codeHash: string): DigestFile {
  const column = (map: ReadonlyMap<string, Observed>) => {
    const ids: string[] = [];
    let status = "";
    const details: [number, string][] = [];
    for (const [id, o] of map) {
      if (o.detail !== undefined) details.push([ids.length, o.detail]);
      ids.push(id);
      status += CODE_OF[o.status];
    }
    return { ids, status, details };
  };
  const at: (string | null)[] = [];
  const serial: (string | null)[] = [];
  for (const c of d.checkins.values()) {
    at.push(c.at ?? null);
    serial.push(c.serial ?? null);
  }
  return {
    version: DIGEST_VERSION,
    code: codeHash,
    ...keptHead(d),
    links: column(d.links),
    checkins: { ...column(d.checkins), at, serial },
    servers: [...d.servers].map(([id, s]) => [id, s.worst, [...s.byKind], s.certNotAfter ?? null] as const),
  };
}

/** A read digest, checked whole: its version, its code, its file's hash and every field's type; throws when any is off. */
export function decode(v: unknown, sha256: string, codeHash: string): Digested {
  const f = v as DigestFile;
  if (!isRecord(v) || f.version !== DIGEST_VERSION || f.code !== codeHash || f.sha256 !== sha256) throw new Error("not this file's digest");
  checkHead(v);
  const links = new Map<string, Observed>();
  columns(f.links, (id, status, detail) => links.set(id, { status, detail } as Observed));
  const { at, serial } = f.checkins;
  if (!Array.isArray(at) || !Array.isArray(serial) || at.length !== f.checkins.ids.length || serial.length !== at.length) throw new Error("checkins");
  const checkins = new Map<string, CheckinEvidence>();
  columns(f.checkins, (id, status, detail, i) => {
    const a = at[i];
    const s = serial[i];
    if ((a !== null && typeof a !== "string") || (s !== null && typeof s !== "string")) throw new Error("checkin");
    // The shape readEvidence's parse gives (absent fields undefined): one object per link, no spreads.
    checkins.set(id, { status, detail, at: a ?? undefined, serial: s ?? undefined } as CheckinEvidence);
  });
  if (!Array.isArray(f.servers)) throw new Error("servers");
  const servers = new Map<string, ServerEvidence>();
  for (const row of f.servers) {
    if (!Array.isArray(row) || typeof row[0] !== "string" || !Array.isArray(row[2]) || (row[3] !== null && typeof row[3] !== "string"))
      throw new Error("server");
    const byKind = new Map<ProbeKind, Observed>();
    for (const pair of row[2]) {
      if (!Array.isArray(pair) || typeof pair[0] !== "string") throw new Error("server kind");
      byKind.set(pair[0] as ProbeKind, observed(pair[1]));
    }
    servers.set(row[0], { worst: observed(row[1]), byKind, ...(row[3] === null ? {} : { certNotAfter: row[3] }) });
  }
  return {
    ...keptHead(f),
    links,
    checkins,
    servers,
  };
}

function columns(c: DigestFile["links"], each: (id: string, status: Status, detail: string | undefined, i: number) => void): void {
  if (!isRecord(c) || !Array.isArray(c.ids) || typeof c.status !== "string" || c.status.length !== c.ids.length || !Array.isArray(c.details))
    throw new Error("column");
  const details = new Map<number, string>();
  for (const pair of c.details) {
    if (!Array.isArray(pair) || !Number.isInteger(pair[0]) || typeof pair[1] !== "string") throw new Error("detail");
    details.set(pair[0], pair[1]);
  }
  for (let i = 0; i < c.ids.length; i++) {
    const id = c.ids[i];
    const status = STATUSES[c.status.charCodeAt(i) - 48];
    if (typeof id !== "string" || status === undefined) throw new Error("column entry");
    each(id, status, details.get(i), i);
  }
}

function observed(v: unknown): Observed {
  const o = v as Observed;
  if (!isRecord(v) || !STATUSES.includes(o.status) || (o.detail !== undefined && typeof o.detail !== "string")) throw new Error("observed");
  return o.detail === undefined ? { status: o.status } : { status: o.status, detail: o.detail };
}
