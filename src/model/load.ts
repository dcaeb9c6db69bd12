import { join } from "node:path";
import { AmadegiError } from "../lib/errors.ts";
import { assemble, type ParsedFiles } from "./assemble.ts";
import { type IsoDate, todayIn } from "./dates.ts";
import { type Finding, FindingSink, sortFindings } from "./finding.ts";
import { parseSource } from "./parse.ts";
import { checkCapacity } from "./policy/capacity.ts";
import { checkLifecycle } from "./policy/lifecycle.ts";
import { checkRedundancy } from "./policy/redundancy.ts";
import { checkSecurity } from "./policy/security.ts";
import { type FileRole, planFiles, readSource } from "./read.ts";
import { checkReferences } from "./references.ts";
import { reporter } from "./report.ts";
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
import { scanText } from "./scan.ts";
import { type SourceFile, Sources } from "./source.ts";
import type { Inventory } from "./types.ts";
import { applyWaivers } from "./waivers.ts";

export interface LoadOptions {
  /** The day lifecycle and waiver rules are checked against; default: today in the election's time zone. */
  readonly today?: IsoDate;
  /** Default: `<dir>/../governance/committee.yaml`. */
  readonly committeeFile?: string;
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
  const planned = await planFiles(dir, options.committeeFile ?? join(dir, "..", "governance", "committee.yaml"), sink);
  let election: ElectionFile | undefined;
  let operators: OperatorsFile | undefined;
  let servers: ServersFile | undefined;
  let waivers: WaiversFile = { waivers: [] };
  let committee: CommitteeFile | undefined;
  const districts: { file: string; data: DistrictFile }[] = [];

  for (const { role, path } of planned) {
    let source: SourceFile | undefined;
    try {
      source = readSource(path, sink);
      if (source === undefined) continue;
      sources.add(source);
      scanText(source, sink, source.mayHoldBidi);
      if (!parseSource(source, sink)) continue;
      const src = source;
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
      source.release();
    } catch (error) {
      if (error instanceof AmadegiError) throw error;
      internalError(sink, path, role, error);
    }
  }

  const early = sink.close();
  if (early.some((f) => f.severity === "error") || election === undefined || operators === undefined || servers === undefined || committee === undefined) {
    return { findings: sortFindings(early), sources, files: sources.size };
  }
  const files: ParsedFiles = { election, operators, servers, districts, waivers, committee };
  const inventory = assemble(files, options.today ?? todayIn(election.election.timeZone));

  const checks = new FindingSink();
  const report = reporter(checks, sources);
  checkReferences(inventory, report);
  checkRedundancy(inventory, report);
  checkCapacity(inventory, report);
  checkLifecycle(inventory, report);
  checkSecurity(inventory, report);
  const waiverSink = new FindingSink();
  const waived = applyWaivers(checks.close(), inventory, reporter(waiverSink, sources));
  return { inventory, findings: sortFindings([...early, ...waived, ...waiverSink.close()]), sources, files: sources.size };
}

function readAs<T>(schema: Schema<T>, source: SourceFile, sink: FindingSink): T | undefined {
  const reader = new Reader(source, sink);
  reader.i = 1; // event 0 opens the document; the root node follows
  const value = schema.read(reader);
  return value === INVALID ? undefined : value;
}

function internalError(sink: FindingSink, path: string, role: FileRole, error: unknown): void {
  const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  sink.add("internal.error", { file: path, line: 1, col: 1 }, "-", `amadegi failed while checking this ${role} file (${what.slice(0, 200)})`, "this is a bug in amadegi: report it with the file; run with AMADEGI_DEBUG=1 for details");
}
