import { fraction, type Paint, Progress, type ProgressOptions, type ProgressStream, rateAndEta, spokenDuration, type Style } from "../lib/progress.ts";
import type { Counts } from "./summary.ts";
import { STATUSES, type Status, type Target } from "./types.ts";

export type { ProgressStream } from "../lib/progress.ts";

/**
 * A campaign's progress line: counts per status, rate, ETA, the deadline and
 * what the lanes last started — redrawn on a terminal, a plain line every 30 s and at each phase
 * elsewhere (src/lib/progress.ts decides which), e.g.
 * `check: 1234/5000 (24%) up 1200 degraded 4 down 30 unreachable 0 unknown 0 | 410/s, ETA 9 s (deadline in 51 s) | started 5000 tcp`.
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

/**
 * `started 1415 icmp` or `started 1415 tcp, 40 http`: targets a lane starts, by kind, most first. The
 * lanes run side by side (src/probe/campaign/index.ts); a lane's later targets start as their upstreams settle.
 */
export function startedText(targets: readonly Target[]): string {
  const kinds = new Map<string, number>();
  for (const t of targets) kinds.set(t.kind, (kinds.get(t.kind) ?? 0) + 1);
  const parts = [...kinds].sort(([ka, a], [kb, b]) => b - a || (ka < kb ? -1 : 1)).map(([kind, n]) => `${n} ${kind}`);
  return `started ${parts.join(", ")}`;
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

  /** A lane starts these targets. */
  started(targets: readonly Target[]): void {
    this.progress.phase(startedText(targets));
  }

  stop(): void {
    this.progress.stop();
  }
}
