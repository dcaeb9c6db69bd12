import { readdirSync, readFileSync } from "node:fs";

/**
 * The campaign watches itself: when the prober is starved (event loop
 * blocked, file descriptors or local ports exhausted), its timeouts say
 * nothing about the targets, so the campaign is marked invalid with the
 * reason instead of blaming them.
 */
export interface SelfWatchOptions {
  /** Event-loop lag above this marks the campaign invalid (ms). */
  readonly lagLimitMs: number;
  /** Sampling period of the lag timer (ms). */
  readonly tickMs?: number;
  /** Share of the descriptor limit in use above which the campaign is invalid. */
  readonly fdShare?: number;
}

const RESOURCE_ERRORS: readonly [RegExp, string][] = [
  [/\bE[MN]FILE\b|too many open files/i, "file descriptors ran out (EMFILE/ENFILE)"],
  [/\bEADDRNOTAVAIL\b|\bEADDRINUSE\b/, "local ports ran out (EADDRNOTAVAIL/EADDRINUSE)"],
  [/\bENOBUFS\b|\bENOMEM\b/, "the kernel ran out of buffers (ENOBUFS/ENOMEM)"],
  [/\bEAGAIN\b.*spawn|spawn.*\bEAGAIN\b/, "could not start a process (EAGAIN)"],
];

export class SelfWatch {
  readonly reasons: string[] = [];
  maxLagMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private fdTimer: NodeJS.Timeout | undefined;
  private readonly seen = new Set<string>();
  private readonly options: SelfWatchOptions;
  private readonly started = performance.now();

  constructor(options: SelfWatchOptions) {
    this.options = options;
  }

  start(): void {
    const tick = this.options.tickMs ?? 100;
    let expected = performance.now() + tick;
    this.timer = setInterval(() => {
      const now = performance.now();
      const lag = now - expected;
      expected = now + tick;
      if (lag > this.maxLagMs) this.maxLagMs = lag;
      if (lag > this.options.lagLimitMs) {
        this.add(`event loop blocked for ${Math.round(lag)} ms at +${((now - this.started - lag) / 1000).toFixed(1)}s (limit ${this.options.lagLimitMs} ms): probe timeouts in that window may be the prober's, not the targets'`, "lag");
      }
    }, tick);
    const limit = fdLimit();
    if (limit !== undefined) {
      this.fdTimer = setInterval(() => {
        const used = openFds();
        if (used !== undefined && used > limit * (this.options.fdShare ?? 0.9)) {
          this.add(`${used} of ${limit} file descriptors in use: connections may have failed for lack of descriptors`, "fd");
        }
      }, 1000);
    }
  }

  stop(): void {
    clearInterval(this.timer);
    clearInterval(this.fdTimer);
  }

  /** Look at a failure's text for signs of the prober's own exhaustion. */
  noteFailure(text: string | undefined): void {
    if (text === undefined) return;
    for (const [pattern, reason] of RESOURCE_ERRORS) if (pattern.test(text)) this.add(reason, reason);
  }

  get valid(): boolean {
    return this.reasons.length === 0;
  }

  private add(reason: string, kind: string): void {
    // One reason per kind: a blocked loop is one fact, not a thousand.
    if (this.seen.has(kind)) return;
    this.seen.add(kind);
    this.reasons.push(reason);
  }
}

function fdLimit(): number | undefined {
  try {
    const match = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

function openFds(): number | undefined {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return undefined;
  }
}
