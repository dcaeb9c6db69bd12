import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { writeFileAtomic } from "../../lib/fs.ts";
import { MarkerLog, readMarker } from "../marker.ts";
import type { Action, Scenario } from "./scenarios.ts";

/**
 * The drill marker, `<state>/drill.json`: the faults a drill is about to
 * inject, written (atomically) before the first one is, and with everything
 * needed to undo each (the namespaces and addresses of its nftables table, the
 * services' own start commands). A drill that crashes leaves it behind; the
 * next `amadegi drill` (or `amadegi drill --restore`) undoes what it names
 * before anything else. The rehearsal's marker names it as a file, so
 * `amadegi rehearsal down` — which removes every namespace and process, and
 * so every fault with them — removes it too.
 */
export interface DrillMarker {
  readonly version: 1;
  readonly id: string;
  readonly scenario: Scenario;
  /** The drill command's process. */
  readonly pid: number;
  readonly startedAt: string;
  readonly actions: readonly Action[];
}

export const DRILL_MARKER = "drill.json";

export function drillMarkerPath(stateDir: string): string {
  return join(resolve(stateDir), DRILL_MARKER);
}

/** The marker, undefined when none; a damaged one is reported (and never trusted). */
export function readDrillMarker(stateDir: string): { marker?: DrillMarker; damaged?: string } {
  const file = drillMarkerPath(stateDir);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return {};
  }
  try {
    const data = JSON.parse(text) as Partial<DrillMarker>;
    if (data.version !== 1 || !Array.isArray(data.actions) || typeof data.id !== "string") return { damaged: `${file} is not a drill marker (version 1)` };
    return { marker: data as DrillMarker };
  } catch (error) {
    return { damaged: `${file}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** Write the marker before the faults exist; make sure the rehearsal's marker names it (for `rehearsal down`). */
export async function writeDrillMarker(stateDir: string, marker: DrillMarker): Promise<void> {
  const file = drillMarkerPath(stateDir);
  const { marker: rehearsal } = readMarker(resolve(stateDir));
  if (rehearsal !== undefined && !rehearsal.steps.some((s) => s.kind === "file" && resolve(s.path) === file)) {
    await new MarkerLog(rehearsal).record({ kind: "file", path: file });
  }
  await writeFileAtomic(file, `${JSON.stringify(marker, null, 1)}\n`, 0o600);
}

/** Once every fault is undone. */
export async function removeDrillMarker(stateDir: string): Promise<void> {
  await rm(drillMarkerPath(stateDir), { force: true });
}
