import { fraction, type Paint, Progress, type ProgressOptions, type ProgressStream, rateAndEta, spokenDuration, type Style } from "../lib/progress.ts";
import type { Phase } from "./phases.ts";
import type { Counts } from "./summary.ts";
import { STATUSES, type Status } from "./types.ts";

export type { ProgressStream } from "../lib/progress.ts";

/**
 * A campaign's progress line: counts per status, rate, ETA, the deadline and
 * the phase — redrawn on a terminal, a plain line every 30 s and at each phase
 * elsewhere (src/lib/progress.ts decides which), e.g.
 * `check: 1234/5000 (24%) up 1200 degraded 4 down 30 unreachable 0 unknown 0 | 410/s, ETA 9 s (deadline in 51 s) | phase 2/3: 5000 tcp`.
 */
export interface CampaignState {
  readonly counts: Counts;
  readonly done: number;
  readonly total: number;
  /** When the deadline falls, on the progress clock (performance.now unless a test gives another). */
  readonly deadlineAt: number;
}

/** A status's colour on a terminal when it has any targets (up stays plain: it is what is expected). */
const STYLE: Readonly<Record<Status, Style | undefined>> = { up: undefined, degraded: "yellow", down: "red", unreachable: "red", unknown: "magenta" };

/** The line's body for the campaign's state at `now`, `elapsedMs` after it started. */
export function campaignLine(s: CampaignState, elapsedMs: number, now: number, paint: Paint = (_style, text) => text): string {
  const counts = STATUSES.map((status) => {
    const text = `${status} ${s.counts[status]}`;
    const style = STYLE[status];
    return style !== undefined && s.counts[status] > 0 ? paint(style, text) : text;
  });
  const left = spokenDuration(s.deadlineAt - now);
  return `${fraction(s.done, s.total)} ${counts.join(" ")} | ${rateAndEta(s.done, s.total, elapsedMs)} (deadline in ${left})`;
}

/** `phase 2/3: 1415 icmp, 40 tcp`: which phase, of how many, and its targets by kind, most first. */
export function phaseText(index: number, count: number, phase: Phase): string {
  const kinds = new Map<string, number>();
  for (const t of [...phase.icmp, ...phase.other]) kinds.set(t.kind, (kinds.get(t.kind) ?? 0) + 1);
  const parts = [...kinds].sort(([ka, a], [kb, b]) => b - a || (ka < kb ? -1 : 1)).map(([kind, n]) => `${n} ${kind}`);
  return `phase ${index + 1}/${count}: ${parts.join(", ")}`;
}

export class CampaignProgress {
  private readonly progress: Progress;
  private state: (() => CampaignState) | undefined;

  constructor(stream: ProgressStream | undefined, options: ProgressOptions = {}) {
    this.progress = new Progress(
      stream,
      "check",
      ({ elapsedMs, now, paint }) => (this.state === undefined ? "starting" : campaignLine(this.state(), elapsedMs, now, paint)),
      options,
    );
  }

  start(state: () => CampaignState): void {
    this.state = state;
    this.progress.start();
  }

  /** The campaign starts phase `index` of `count` (src/probe/phases.ts). */
  phase(index: number, count: number, phase: Phase): void {
    this.progress.phase(phaseText(index, count, phase));
  }

  stop(): void {
    this.progress.stop();
  }
}
