import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../lib/fs.ts";
import { cacheDir } from "./paths.ts";

/**
 * What a registry refused, and on which day: setup asks once, remembers the answer beside the
 * tool cache, and does not ask again on every run (`scripts/setup --ask-again` does). A refusal
 * is of one module at one version: a new pin (a new version) is asked about afresh.
 */
export interface Refusal {
  /** The module path, e.g. github.com/pulumi/pulumi-command/provider. */
  readonly module: string;
  /** The version or commit asked for. */
  readonly version: string;
  /** The day (UTC, YYYY-MM-DD) it was refused. */
  readonly refusedOn: string;
  /** The registry's answer, one line. */
  readonly reason: string;
}

/** The end of a long answer is kept: a registry puts its status (403 Forbidden) last. */
const MAX_REASON = 200;

/** Where the refusals are kept: beside the tools, so every checkout on the machine shares them. */
export function refusalsFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), "refusals.json");
}

/**
 * The refusals on record. A file that is missing, unreadable or not in this shape counts as no
 * record (setup then asks again, the safe side): it is the machine's own file, but a half-written
 * or hand-edited one must never stop setup.
 */
export function readRefusals(file: string): Refusal[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return [];
  }
  const list = (parsed as { refusals?: unknown } | null)?.refusals;
  if (!Array.isArray(list)) return [];
  return list.filter(isRefusal);
}

function isRefusal(value: unknown): value is Refusal {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.module === "string" &&
    typeof r.version === "string" &&
    typeof r.reason === "string" &&
    typeof r.refusedOn === "string" &&
    /^\d{4}-\d{2}-\d{2}$/.test(r.refusedOn)
  );
}

/** The refusal of `module@version` on record, if any. */
export function refusalOf(refusals: readonly Refusal[], module: string, version: string): Refusal | undefined {
  return refusals.find((r) => r.module === module && r.version === version);
}

/**
 * The record after asking about `module@version`: a refusal replaces any earlier one of the same
 * module and version; a module now served (`refused` undefined) leaves the record.
 */
export function recordAnswer(refusals: readonly Refusal[], module: string, version: string, refused: { on: Date; reason: string } | undefined): Refusal[] {
  const rest = refusals.filter((r) => !(r.module === module && r.version === version));
  if (refused === undefined) return rest;
  const reason = refused.reason.replace(/\s+/g, " ").trim().slice(-MAX_REASON);
  return [...rest, { module, version, refusedOn: refused.on.toISOString().slice(0, 10), reason }];
}

/** Write the record whole (atomically: an interrupted setup leaves the old one). */
export async function writeRefusals(file: string, refusals: readonly Refusal[]): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify({ version: 1, refusals }, null, 2)}\n`);
}
