import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import { ProbeError } from "../lib/errors.ts";
import { type CheckinEvidence, type Digested, type DigestHead, loadDigest, type Observed, saveDigest } from "./digest.ts";
import { type CampaignFooter, type CampaignHeader, DAMAGED, MAX_RESULT_LINE, parseLine, placeRecord, recordKind } from "../probe/results.ts";
import { emptyCounts } from "../probe/summary.ts";
import { type ProbeKind, type ProbeResult, type Status } from "../probe/types.ts";

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

export type { CheckinEvidence, Observed, ServerEvidence } from "./digest.ts";

/** A slim copy of each result, for the history database. */
export type ResultRow = Pick<ProbeResult, "key" | "status" | "failure" | "district" | "operator">;

export interface Evidence extends Digested {
  readonly file: string;
  /** Every result's slim copy, when asked for (keepRows) and the file was parsed; a digest keeps none. */
  readonly rows?: readonly ResultRow[];
}

/** What is read of a results file beside its observations: its hash, header, footer, damage and counts (the gate's measures cache keeps only this). */
export type EvidenceHead = DigestHead & Pick<Evidence, "file">;

interface MutableServer {
  worst: Observed;
  byKind: Map<ProbeKind, Observed>;
  certNotAfter?: string;
}

/**
 * Read a results file into an Evidence index, hashing it in the same pass.
 * Throws ProbeError when it cannot be read at all.
 *
 * With a cache directory, the file is hashed first and the results digest of
 * exactly those bytes (digest.ts, ADR 0011) stands in for parsing them, if
 * this code kept one; a file parsed leaves its digest there. A digest keeps
 * no rows, so keepRows (the history, recording a campaign new to it: see
 * campaignOf) always parses.
 *
 * The file's format is src/probe/results.ts's (a `campaign` header, `result`
 * lines, an `end` footer; a line that is none of them is damaged). This reader
 * applies the same rules as its `readResults`, but over large chunks instead of
 * a line stream: at national size (over 100 MB) that is a third faster, and the
 * gate has a two-second budget. A test keeps the two readers in agreement.
 */
export async function readEvidence(file: string, options: { keepRows?: boolean; cacheDir?: string; sha256?: string } = {}): Promise<Evidence> {
  const fd = await openResults(file);
  try {
    if (options.cacheDir !== undefined && options.keepRows !== true) {
      // A hash the caller took a moment ago (hashResults) stands for the file's; a digest still holds only what those bytes say.
      const kept = await loadDigest(options.cacheDir, options.sha256 ?? (await hashOpen(fd, file)));
      if (kept !== undefined) return { ...kept, file };
    }
    const ev = await parse(fd, file, options.keepRows ?? false);
    if (options.cacheDir !== undefined) await saveDigest(options.cacheDir, ev);
    return ev;
  } finally {
    await fd.close();
  }
}

/** The sha256 of a results file's bytes (the key of its digest and of the gate's measures), without parsing it. */
export async function hashResults(file: string): Promise<string> {
  const fd = await openResults(file);
  try {
    return await hashOpen(fd, file);
  } finally {
    await fd.close();
  }
}

/** Every result's slim copy, for the history; throws ProbeError when the file no longer hashes to sha256 (it changed since it was judged). */
export async function readRows(file: string, sha256: string): Promise<readonly ResultRow[]> {
  const ev = await readEvidence(file, { keepRows: true });
  if (ev.sha256 !== sha256)
    throw new ProbeError(`results ${file} changed while they were being judged`, {
      file,
      hint: "run the command again once the campaign has finished writing",
    });
  return ev.rows ?? [];
}

/** The campaign id in a results file's first line (its header), or undefined: a look at a few bytes, before choosing how to read it. */
export async function campaignOf(file: string): Promise<string | undefined> {
  const fd = await openResults(file);
  try {
    const buffer = Buffer.alloc(HEAD);
    const { bytesRead } = await fd.read(buffer, 0, HEAD, 0);
    const text = buffer.toString("utf8", 0, bytesRead);
    const end = text.indexOf("\n");
    const first = parseLine(end < 0 ? text : text.slice(0, end));
    return first !== DAMAGED && recordKind(first) === "campaign" ? (first as CampaignHeader).id : undefined;
  } finally {
    await fd.close();
  }
}

/** A header is far shorter than this. */
const HEAD = 64 * 1024;

async function openResults(file: string): Promise<FileHandle> {
  let fd: FileHandle;
  try {
    // Never blocks on a FIFO or a device: only a regular file is results (issue 14).
    fd = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new ProbeError(`no results file ${file}`, { file, hint: "run `amadegi check` first, or pass --results FILE", cause: error });
  }
  if (!(await fd.stat()).isFile()) {
    await fd.close();
    throw new ProbeError(`${file} is not a regular file: results are a file \`amadegi check\` wrote`, {
      file,
      hint: "pass --results FILE, the campaign's .jsonl file",
    });
  }
  return fd;
}

/** The sha256 of an open file's bytes, read at explicit offsets (the file's own position stays at its start for parse). */
async function hashOpen(fd: FileHandle, file: string): Promise<string> {
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(CHUNK);
  try {
    for (let at = 0; ;) {
      const { bytesRead } = await fd.read(buffer, 0, CHUNK, at);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      at += bytesRead;
    }
  } catch (error) {
    throw new ProbeError(`cannot read results ${file}: ${(error as Error).message}`, { file, cause: error });
  }
  return hash.digest("hex");
}

async function parse(fd: FileHandle, file: string, keepRows: boolean): Promise<Evidence> {
  const hash = createHash("sha256");
  const counts = emptyCounts();
  const links = new Map<string, Observed>();
  const checkins = new Map<string, CheckinEvidence>();
  const servers = new Map<string, MutableServer>();
  const rows: ResultRow[] = [];
  const damaged: number[] = [];
  let header: CampaignHeader | undefined;
  let footer: CampaignFooter | undefined;
  let total = 0;
  let lineNo = 0;

  // Called for each of hundreds of thousands of results: no spreads, one object per result at most.
  const onResult = (r: ProbeResult): void => {
    total++;
    counts[r.status]++;
    if (keepRows) rows.push({ key: r.key, status: r.status, failure: r.failure, district: r.district, operator: r.operator } as ResultRow);
    if (r.kind === "checkin") {
      if (r.link === undefined) return;
      const at = typeof r.values.CHECKIN_AT === "string" ? r.values.CHECKIN_AT : undefined;
      const prior = checkins.get(r.link);
      // The latest check-in per link wins (a file may hold several reads of one gateway).
      if (prior?.at !== undefined && at !== undefined && prior.at > at) return;
      const serial = typeof r.values.SERIAL === "string" ? r.values.SERIAL : undefined;
      checkins.set(r.link, { status: r.status, detail: r.detail, at, serial } as CheckinEvidence);
      return;
    }
    if (r.link !== undefined) {
      const prior = links.get(r.link);
      if (prior === undefined || RANK[r.status] > RANK[prior.status]) links.set(r.link, { status: r.status, detail: r.detail } as Observed);
      return;
    }
    if (r.server !== undefined) {
      const observed = { status: r.status, detail: r.detail } as Observed;
      let s = servers.get(r.server);
      if (s === undefined) {
        s = { worst: observed, byKind: new Map() };
        servers.set(r.server, s);
      } else if (RANK[r.status] > RANK[s.worst.status]) s.worst = observed;
      const kind = s.byKind.get(r.kind);
      if (kind === undefined || RANK[r.status] > RANK[kind.status]) s.byKind.set(r.kind, observed);
      const notAfter = r.values.CERTIFICATE_NOT_AFTER;
      if (typeof notAfter === "string" && (s.certNotAfter === undefined || notAfter < s.certNotAfter)) s.certNotAfter = notAfter;
    }
  };

  const seen = { records: 0, header: false, footer: false };
  const onLine = (line: string): void => {
    lineNo++;
    if (line.trim() === "") return;
    const record = parseLine(line);
    const kind = record === DAMAGED ? undefined : recordKind(record);
    if (kind === undefined || !placeRecord(kind, seen)) damaged.push(lineNo);
    else if (kind === "result") onResult(record as unknown as ProbeResult);
    else if (kind === "campaign") header = record as unknown as CampaignHeader;
    else footer = record as unknown as CampaignFooter;
  };

  try {
    const decoder = new StringDecoder("utf8");
    const buffer = Buffer.allocUnsafe(CHUNK);
    let rest = "";
    let skipping = false;
    for (;;) {
      const { bytesRead } = await fd.read(buffer, 0, CHUNK, null);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      hash.update(chunk);
      const text = rest + decoder.write(chunk);
      let start = 0;
      for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", start)) {
        onLine(skipping ? "\u0000" : text.charCodeAt(i - 1) === 13 ? text.slice(start, i - 1) : text.slice(start, i));
        skipping = false;
        start = i + 1;
      }
      rest = text.slice(start);
      // A line longer than any record: keep none of it (memory stays bounded), count it damaged at its end.
      if (rest.length > MAX_RESULT_LINE) {
        skipping = true;
        rest = "";
      }
    }
    rest += decoder.end();
    if (skipping) onLine("\u0000");
    else if (rest !== "") onLine(rest);
  } catch (error) {
    throw new ProbeError(`cannot read results ${file}: ${(error as Error).message}`, { file, cause: error });
  }
  return {
    file,
    sha256: hash.digest("hex"),
    ...(header === undefined ? {} : { header }),
    ...(footer === undefined ? {} : { footer }),
    damaged,
    counts,
    total,
    links,
    checkins,
    servers,
    ...(keepRows ? { rows } : {}),
  };
}

const CHUNK = 4 * 1024 * 1024;
