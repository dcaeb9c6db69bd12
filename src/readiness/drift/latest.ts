import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../../lib/fs.ts";
import { parseInstant } from "../../model/index.ts";
import { isRecord } from "../../lib/records.ts";
import type { DriftReport } from "./types.ts";

/**
 * The files drift reads and leaves: the newest results of a stack (what was
 * observed), and each stack's latest report, where the gate reads it.
 */

/** `<state>/drift/<stack>.json`. */
export function driftFile(driftDir: string, stack: string): string {
  return join(driftDir, `${stack}.json`);
}

export async function writeLatestDrift(driftDir: string, report: DriftReport): Promise<string> {
  const file = driftFile(driftDir, report.stack);
  await writeFileAtomic(file, `${JSON.stringify(report, null, 1)}\n`);
  return file;
}

export type LatestDrift =
  | { readonly found: true; readonly file: string; readonly report: DriftReport; readonly ageHours: number }
  | { readonly found: false; readonly file: string; readonly reason: string };

/** The stack's latest drift report, with its age at `now`; never throws (the reason says what is wrong). */
export async function readLatestDrift(driftDir: string, stack: string, now: Date): Promise<LatestDrift> {
  const file = driftFile(driftDir, stack);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return { found: false, file, reason: `no drift report of stack ${stack} (${file}): run \`amadegi drift --stack ${stack}\`` };
  }
  let report: unknown;
  try {
    report = JSON.parse(text);
  } catch {
    return { found: false, file, reason: `${file} is not JSON: run \`amadegi drift --stack ${stack}\` again` };
  }
  if (
    !isRecord(report) ||
    report.version !== 1 ||
    report.stack !== stack ||
    typeof report.at !== "string" ||
    !Array.isArray(report.items) ||
    !isRecord(report.counts) ||
    typeof report.checked !== "number"
  ) {
    return { found: false, file, reason: `${file} is not a drift report of stack ${stack} (version 1): run \`amadegi drift --stack ${stack}\` again` };
  }
  if (parseInstant(report.at) === undefined)
    return {
      found: false,
      file,
      reason: `${file} is dated ${JSON.stringify(report.at.slice(0, 40))}, not a time: run \`amadegi drift --stack ${stack}\` again`,
    };
  const ageHours = Math.round(((now.getTime() - Date.parse(report.at)) / 3_600_000) * 100) / 100;
  return { found: true, file, report: report as unknown as DriftReport, ageHours };
}
