import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { hashFiles, keepNewest, writeFileAtomic } from "../lib/fs.ts";
import { isRecord } from "../lib/records.ts";
import { type CriterionId, type IsoDate } from "../model/index.ts";
import type { Measure, Offender, OffenderKind } from "./criterion.ts";
import { checkHead, type DigestHead, keptHead } from "./digest.ts";
import type { EvidenceHead } from "./evidence.ts";

/**
 * The gate's measures cache (ADR 0016): what the criteria measured over one
 * inventory and one results file, kept in the state's cache under the
 * inventory's snapshot key and the results' sha256. A gate judged again on the
 * same inventory and the same bytes of results (each milestone's gate, the
 * approval, a gate re-run in a day's work) hashes the results (the sha256 is
 * checked in every run) and takes the measures instead of reading the
 * inventory's 58,640 stations and the results' digest again. Thresholds,
 * waivers, the results' age, fitness and the sign-off are judged afresh every
 * time: only the measures, a function of the inventory, the results, the
 * criteria's code, the milestone and the day, are kept. A criterion that reads
 * the drift report (whose age moves with the clock) is never answered from
 * here. Like the digest, an entry is data, checked field by field, and
 * anything amiss is a miss, never a verdict.
 */

/** Bump when the layout changes. The criteria's own code is hashed into the key (codeKey). */
const VERSION = 1;
/** Files kept (one per inventory and results pair). */
const KEEP = 8;
/** Entries kept per file (milestones and days judged on the same pair). */
const ENTRIES = 16;
const PREFIX = "measures-";

/** What one set of measures was taken for. */
export interface MeasuredFor {
  readonly milestone: string;
  readonly date: IsoDate;
  readonly checkinsSince: string;
}

interface Entry extends MeasuredFor {
  readonly measures: readonly (readonly [CriterionId, Measure])[];
}

interface MeasuresFile {
  readonly version: number;
  readonly key: string;
  readonly evidence: DigestHead;
  readonly entries: readonly Entry[];
}

/** A file's measures, found: the results' head and the measures taken for a milestone on a day. */
export interface Measured {
  readonly evidence: EvidenceHead;
  readonly measures: ReadonlyMap<CriterionId, Measure>;
}

const CODE_FILES = ["criteria.ts", "criterion.ts", "owners.ts", "evidence.ts", "digest.ts", "measures.ts", "../probe/results.ts"].map((f) =>
  join(import.meta.dirname, f),
);
let code: Promise<string> | undefined;

function fileKey(inventoryKey: string, sha256: string): Promise<string> {
  code ??= hashFiles(`amadegi-measures ${VERSION}`, CODE_FILES);
  return code.then((c) => createHash("sha256").update(`${c}\n${inventoryKey}\n${sha256}\n`).digest("hex"));
}

const fileOf = (cacheDir: string, key: string) => join(cacheDir, `${PREFIX}${key.slice(0, 32)}.json`);
const sameFor = (e: MeasuredFor, f: MeasuredFor) => e.milestone === f.milestone && e.date === f.date && e.checkinsSince === f.checkinsSince;

async function read(cacheDir: string, key: string): Promise<MeasuresFile | undefined> {
  try {
    const v = JSON.parse((await readFile(fileOf(cacheDir, key))).toString("utf8")) as unknown;
    return checked(v, key);
  } catch {
    return undefined;
  }
}

/** Whether measures of this inventory and these results' bytes are kept at all (for any milestone or day): a look, no read. */
export async function measuresKept(cacheDir: string, inventoryKey: string, sha256: string): Promise<boolean> {
  return (await stat(fileOf(cacheDir, await fileKey(inventoryKey, sha256))).catch(() => undefined)) !== undefined;
}

/** The measures kept for this inventory, these results' bytes and this milestone on this day; else undefined. */
export async function loadMeasures(
  cacheDir: string,
  inventoryKey: string,
  results: { file: string; sha256: string },
  wanted: MeasuredFor,
): Promise<Measured | undefined> {
  const f = await read(cacheDir, await fileKey(inventoryKey, results.sha256));
  const entry = f?.entries.find((e) => sameFor(e, wanted));
  if (f === undefined || entry === undefined || f.evidence.sha256 !== results.sha256) return undefined;
  return { evidence: { ...f.evidence, file: results.file }, measures: new Map(entry.measures) };
}

/** Keep measures just taken, beside those of other milestones and days on the same pair. A cache that cannot be written costs time, never the verdict. */
export async function saveMeasures(
  cacheDir: string,
  inventoryKey: string,
  evidence: EvidenceHead,
  taken: MeasuredFor & { readonly measures: ReadonlyMap<CriterionId, Measure> },
): Promise<void> {
  try {
    const key = await fileKey(inventoryKey, evidence.sha256);
    const before = await read(cacheDir, key);
    const entry: Entry = { milestone: taken.milestone, date: taken.date, checkinsSince: taken.checkinsSince, measures: [...taken.measures] };
    const file: MeasuresFile = {
      version: VERSION,
      key,
      evidence: keptHead(evidence),
      entries: [entry, ...(before?.entries ?? []).filter((e) => !sameFor(e, entry))].slice(0, ENTRIES),
    };
    await writeFileAtomic(fileOf(cacheDir, key), JSON.stringify(file));
    await keepNewest(cacheDir, PREFIX, ".json", KEEP);
  } catch {
    // Not kept: the next gate measures again.
  }
}

const KINDS: readonly OffenderKind[] = ["station", "link", "device", "server", "role"];
const optionalString = (v: unknown) => v === undefined || typeof v === "string";

function checkedOffender(v: unknown): Offender {
  const o = v as Offender;
  if (
    !isRecord(v) ||
    typeof o.id !== "string" ||
    !KINDS.includes(o.kind) ||
    !optionalString(o.station) ||
    !optionalString(o.district) ||
    typeof o.owner !== "string" ||
    typeof o.reason !== "string" ||
    typeof o.severity !== "number"
  )
    throw new Error("offender");
  return o;
}

function checkedMeasure(v: unknown): Measure {
  if (!isRecord(v)) throw new Error("measure");
  if ("cannotJudge" in v) {
    if (typeof v.cannotJudge !== "string") throw new Error("cannotJudge");
    return { cannotJudge: v.cannotJudge };
  }
  const { total, good, offenders, note } = v;
  if (!Number.isInteger(total) || !Number.isInteger(good) || !Array.isArray(offenders) || !optionalString(note)) throw new Error("measure");
  offenders.forEach(checkedOffender);
  return v as unknown as Measure;
}

/** A read file, checked whole: its version, its key and every field's type; throws when any is off. */
function checked(v: unknown, key: string): MeasuresFile {
  const f = v as MeasuresFile;
  if (!isRecord(v) || f.version !== VERSION || f.key !== key || !isRecord(f.evidence) || !Array.isArray(f.entries)) throw new Error("not this pair's measures");
  checkHead(f.evidence);
  for (const e of f.entries) {
    if (!isRecord(e) || typeof e.milestone !== "string" || typeof e.date !== "string" || typeof e.checkinsSince !== "string" || !Array.isArray(e.measures))
      throw new Error("entry");
    for (const pair of e.measures) {
      if (!Array.isArray(pair) || typeof pair[0] !== "string") throw new Error("entry measure");
      checkedMeasure(pair[1]);
    }
  }
  return f;
}
