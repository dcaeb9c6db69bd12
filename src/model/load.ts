import { join } from "node:path";
import { AmadegiError } from "../lib/errors.ts";
import { assemble, type ParsedFiles } from "./assemble.ts";
import { type IsoDate, todayIn } from "./dates.ts";
import { type Finding, FindingSink, sortFindings } from "./finding.ts";
import { Preparers, threadsFor } from "./parallel.ts";
import { checkCapacity } from "./policy/capacity.ts";
import { checkLifecycle } from "./policy/lifecycle.ts";
import { checkRedundancy } from "./policy/redundancy.ts";
import { checkSecurity } from "./policy/security.ts";
import { internalError, prepareFile } from "./prepare.ts";
import { type FileRole, planFiles } from "./read.ts";
import { checkReferences } from "./references.ts";
import { type Reporter, reporter } from "./report.ts";
import type { RuleId } from "./rules.ts";
import { INVALID, Reader, type Schema } from "./schema/core.ts";
import {
  type CommitteeFile,
  committeeFile,
  type DistrictFile,
  districtFile,
  type ElectionFile,
  electionFile,
  type OperatorsFile,
  operatorsFile,
  type ServersFile,
  serversFile,
  type WaiversFile,
  waiversFile,
} from "./schema/files.ts";
import { type Origin, type SourceFile, Sources } from "./source.ts";
import type { Inventory } from "./types.ts";
import { applyWaivers } from "./waivers.ts";

export interface LoadOptions {
  /** The day lifecycle and waiver rules are checked against; default: today in the election's time zone. */
  readonly today?: IsoDate;
  /** Default: `<dir>/../governance/committee.yaml`. */
  readonly committeeFile?: string;
  /** Threads that read and parse the district files (`parallel.ts`); 0: all on this thread. Default: by their number. */
  readonly threads?: number;
}

export interface LoadResult {
  /** Present when every file parsed and matched its schema (stages 1–3 found no error). */
  readonly inventory?: Inventory;
  /** Every finding of the run, sorted by file and position, waivers applied. */
  readonly findings: Finding[];
  /** Locates an item's origin as file:line:col. */
  readonly sources: Sources;
  /** How many files were read. */
  readonly files: number;
}

/**
 * Load and check an inventory, in the documented order (ADR 0002):
 * read → parse → per-file schema → references and uniqueness → policy → waivers.
 * Throws InventoryError only when there is no inventory to check at all.
 */
export async function loadInventory(dir: string, options: LoadOptions = {}): Promise<LoadResult> {
  const sink = new FindingSink();
  const sources = new Sources();
  const plan = await planFiles(dir, options.committeeFile ?? join(dir, "..", "governance", "committee.yaml"), sink);
  /** Roles with a file that could not be read at all, and where each one's finding is. */
  const absent = new Set(plan.absent.map((f) => f.role));
  const absentPaths = new Set(plan.absent.map((f) => f.path));
  let election: ElectionFile | undefined;
  let operators: OperatorsFile | undefined;
  let servers: ServersFile | undefined;
  let waivers: WaiversFile = { waivers: [] };
  let committee: CommitteeFile | undefined;
  const districts: { file: string; data: DistrictFile }[] = [];
  /** Stage 3, the file's schema, into the file's part of the inventory. */
  const read = (role: FileRole, path: string, src: SourceFile): void => {
    switch (role) {
      case "election":
        election = readAs(electionFile, src, sink);
        break;
      case "operators":
        operators = readAs(operatorsFile, src, sink);
        break;
      case "servers":
        servers = readAs(serversFile, src, sink);
        break;
      case "waivers":
        waivers = readAs(waiversFile, src, sink) ?? waivers;
        break;
      case "committee":
        committee = readAs(committeeFile, src, sink);
        break;
      case "district": {
        const data = readAs(districtFile, src, sink);
        if (data !== undefined) districts.push({ file: path, data });
        break;
      }
    }
  };

  const districtFiles = plan.files.filter((f) => f.role === "district");
  const threads = options.threads ?? threadsFor(districtFiles.length);
  const preparers = threads > 0 ? new Preparers(districtFiles, threads) : undefined;
  let district = 0;
  try {
    for (const { role, path } of plan.files) {
      const prepared = role === "district" && preparers !== undefined ? await preparers.take(district++, sink) : prepareFile(path, role, sink);
      const source = prepared.source;
      if (prepared.absent) {
        absent.add(role);
        absentPaths.add(path);
      }
      if (source === undefined) continue;
      sources.add(source);
      if (prepared.parsed) {
        try {
          read(role, path, source);
        } catch (error) {
          if (error instanceof AmadegiError) throw error;
          internalError(sink, path, role, error);
        }
      }
      source.release();
    }
  } finally {
    preparers?.close();
  }

  const early = sink.close();
  // A file that was read but is wrong (syntax, schema, a secret) stops steps 4–5, as
  // ADR 0002 says: its half-read data would turn into false findings. A file that
  // could not be read at all is left out instead, and only what needs it is skipped.
  const wrong = early.some((f) => f.severity === "error" && !absentPaths.has(f.file));
  if (wrong || election === undefined) {
    return { findings: sortFindings(early), sources, files: sources.size };
  }
  const files: ParsedFiles = {
    election,
    operators: operators ?? { operators: [] },
    servers: servers ?? { sites: [], servers: [] },
    districts,
    waivers,
    committee: committee ?? { committee: [] },
  };
  const inventory = assemble(files, options.today ?? todayIn(election.election.timeZone));

  const checks = new FindingSink();
  const report = withoutConsequences(reporter(checks, sources), absent);
  checkReferences(inventory, report);
  if (!absent.has("operators")) checkRedundancy(inventory, report);
  if (!absent.has("servers")) checkCapacity(inventory, report);
  checkLifecycle(inventory, report);
  checkSecurity(inventory, report);
  const waiverSink = new FindingSink();
  const waived = applyWaivers(checks.close(), inventory, withoutConsequences(reporter(waiverSink, sources), absent));
  const findings = sortFindings([...early, ...waived, ...waiverSink.close()]);
  // The contract's inventory is whole: with a file absent, consumers get the findings only.
  return absent.size === 0 ? { inventory, findings, sources, files: sources.size } : { findings, sources, files: sources.size };
}

/**
 * Findings that only say "a file is absent" again: a reference into that
 * file, a waiver's item that may live in it. The file's own finding names
 * it once and says what is not checked (UNCHECKED_WITHOUT in read.ts);
 * hundreds of dangling references would bury it. Matched by rule and the
 * field reported (the paths of references.ts and waivers.ts).
 */
const CONSEQUENCES: readonly { readonly role: FileRole; readonly rules: readonly RuleId[]; readonly path: readonly (string | number)[] }[] = [
  { role: "operators", rules: ["reference.unknown", "reference.pop-operator"], path: ["links", 0, "operator"] },
  { role: "operators", rules: ["reference.unknown", "reference.pop-operator"], path: ["links", 0, "pop"] },
  { role: "operators", rules: ["reference.unknown"], path: ["links", 0, "lifecycle", "owner"] },
  { role: "servers", rules: ["reference.unknown", "reference.not-a-gateway"], path: ["gateways", "*"] },
  { role: "servers", rules: ["reference.unknown"], path: ["interconnects", 0, "site"] },
  { role: "committee", rules: ["reference.unknown"], path: ["approvedBy"] },
  // A waiver's item may be any station, link, server, operator, pop, site, district or member;
  ...(["operators", "servers", "district", "committee"] as const).map((role) => ({ role, rules: ["reference.unknown"] as const, path: ["item"] })),
  // and whether it is used depends on the findings of every file it could be about.
  ...(["operators", "servers", "district"] as const).map((role) => ({ role, rules: ["waiver.unused"] as const, path: ["item"] })),
];

/** `path` matches `pattern`: a number in the pattern stands for any index, "*" for any step. */
function samePath(path: readonly (string | number)[], pattern: readonly (string | number)[]): boolean {
  return path.length === pattern.length && pattern.every((p, i) => p === "*" || (typeof p === "number" ? typeof path[i] === "number" : p === path[i]));
}

function withoutConsequences(report: Reporter, absent: ReadonlySet<FileRole>): Reporter {
  if (absent.size === 0) return report;
  const dropped = CONSEQUENCES.filter((c) => absent.has(c.role));
  const filtered = (rule: RuleId, origin: Origin, path: readonly (string | number)[], item: string, message: string, hint: string) => {
    if (dropped.some((c) => c.rules.includes(rule) && samePath(path, c.path))) return;
    report(rule, origin, path, item, message, hint);
  };
  return Object.assign(filtered, { sources: report.sources });
}

function readAs<T>(schema: Schema<T>, source: SourceFile, sink: FindingSink): T | undefined {
  const reader = new Reader(source, sink);
  reader.i = 1; // event 0 opens the document; the root node follows
  const value = schema.read(reader);
  return value === INVALID ? undefined : value;
}
