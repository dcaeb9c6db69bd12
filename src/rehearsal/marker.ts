import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeFileAtomic } from "../lib/fs.ts";
import { withLock } from "../lib/lock.ts";

/**
 * The marker: what `up` has created, or is about to create. Each step is
 * written (atomically) *before* the step runs, so after a crash of `up` at any
 * point the marker names everything that may exist, and `down` removes it
 * without relying on anybody's memory. `down` deletes the marker last.
 */
export type Step =
  | { readonly kind: "netns"; readonly name: string }
  | { readonly kind: "veth"; readonly ns: string; readonly name: string; readonly peerNs: string; readonly peer: string }
  | { readonly kind: "config"; readonly ns: string; readonly lines: number }
  | { readonly kind: "nft"; readonly ns: string; readonly table: string }
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "key"; readonly path: string }
  | { readonly kind: "process"; readonly role: string; readonly pid?: number; readonly ns: string };

export interface Marker {
  readonly version: 1;
  readonly prefix: string;
  readonly stateDir: string;
  readonly inventory: string;
  /** The plan's digest: a different one means the inventory changed since `up`. */
  readonly hash: string;
  readonly startedAt: string;
  /** The `up` process that wrote it. */
  readonly upPid: number;
  complete: boolean;
  finishedAt?: string;
  readonly steps: Step[];
}

export const MARKER_FILE = "marker.json";

export function markerPath(stateDir: string): string {
  return join(stateDir, MARKER_FILE);
}

/** The marker, or undefined when there is none (nothing was ever started). A damaged marker is reported, not trusted. */
export function readMarker(stateDir: string): { marker?: Marker; damaged?: string } {
  let text: string;
  try {
    text = readFileSync(markerPath(stateDir), "utf8");
  } catch {
    return {};
  }
  try {
    const data = JSON.parse(text) as unknown;
    if (typeof data !== "object" || data === null || (data as { version?: unknown }).version !== 1 || !Array.isArray((data as { steps?: unknown }).steps)) {
      return { damaged: `${markerPath(stateDir)} is not a rehearsal marker (version 1)` };
    }
    return { marker: data as Marker };
  } catch (error) {
    return { damaged: `${markerPath(stateDir)}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/**
 * One command at a time on a rehearsal: `rehearsal up`/`down`, `devices
 * start`/`stop` and a drill (or its `--restore`) each run under the lock of
 * the state directory (`<state>/lock`, src/lib/lock.ts), so a second one
 * refuses, naming the first, instead of taking down what the first is
 * building or breaking. Taken at the public entry points only: what they call
 * inside (up's own down, a drill's restore of leftovers) runs unlocked, and so
 * do the children they start. Per state directory: rehearsals with their own
 * state (tests, the bench) do not wait for each other.
 */
export function withRehearsalLock<T>(stateDir: string, command: string, log: ((line: string) => void) | undefined, work: () => Promise<T>): Promise<T> {
  const dir = resolve(stateDir);
  return withLock(dir, { command, subject: `the rehearsal in ${dir}`, ...(log === undefined ? {} : { log }) }, work);
}

/** Records steps before they happen; each `record` is durable when it returns. */
export class MarkerLog {
  readonly marker: Marker;
  private readonly file: string;

  constructor(marker: Marker) {
    this.marker = marker;
    this.file = markerPath(marker.stateDir);
  }

  async record(step: Step): Promise<void> {
    this.marker.steps.push(step);
    await this.flush();
  }

  /** Replace the last step of its kind and role (a process's pid, known only after the spawn). */
  async update(step: Step & { kind: "process" }): Promise<void> {
    const index = this.marker.steps.findLastIndex((s) => s.kind === "process" && s.role === step.role);
    if (index >= 0) this.marker.steps[index] = step;
    else this.marker.steps.push(step);
    await this.flush();
  }

  async finish(): Promise<void> {
    this.marker.complete = true;
    this.marker.finishedAt = new Date().toISOString();
    await this.flush();
  }

  async flush(): Promise<void> {
    await writeFileAtomic(this.file, `${JSON.stringify(this.marker, null, 1)}\n`, 0o600);
  }
}
