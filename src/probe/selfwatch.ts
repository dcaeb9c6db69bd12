import { readdirSync, readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";

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
  /** Told the loop's delay every few milliseconds (the governor adapts to it). */
  readonly onDelay?: (lagMs: number) => void;
}

/**
 * An attempt whose event loop stalled this long or longer while it ran cannot
 * be trusted to blame its target: a timeout may have fired late, a reply may
 * have waited in the socket, a measured RTT holds the stall. The campaign's
 * p99 goal for the loop's delay (issue 12) is 50 ms, so a stall this long is
 * rare on a healthy prober and certain on a starved one.
 */
export const STALL_MS = 50;
/** The stall tracker's tick, and the shortest stall it remembers (shorter is timer jitter). */
const STALL_TICK_MS = 10;
const STALL_FLOOR_MS = 10;
/** The loop-delay histogram's sampling period (ms). */
const LOOP_RESOLUTION_MS = 10;
/** Stalls are remembered this long: longer than any attempt. */
const STALL_MEMORY_MS = 120_000;

/** The event loop's delay over a campaign (perf_hooks.monitorEventLoopDelay), in ms. */
export interface LoopDelay {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
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
  /** The machine's CPU pressure over the watch (/proc/pressure/cpu "some": ms during which a runnable task waited for a CPU); recorded, not judged. */
  cpuStalledMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private fdTimer: NodeJS.Timeout | undefined;
  private readonly seen = new Set<string>();
  private readonly options: SelfWatchOptions;
  private readonly started = performance.now();
  /** Stalls seen by the tick: when each was noticed and how long it was, oldest first. */
  private stalls: { at: number; lag: number }[] = [];
  private stallExpected = 0;
  private stallTimer: NodeJS.Timeout | undefined;
  private histogram: ReturnType<typeof monitorEventLoopDelay> | undefined;
  private cpuStart: number | undefined;

  constructor(options: SelfWatchOptions) {
    this.options = options;
  }

  start(): void {
    const tick = this.options.tickMs ?? 100;
    // A finer tick of its own tells each attempt how long the loop stalled while it ran
    // (stallSince): the 100 ms tick alone would see a stall late or not at all.
    this.stallExpected = performance.now() + STALL_TICK_MS;
    this.stallTimer = setInterval(() => {
      const now = performance.now();
      const lag = now - this.stallExpected;
      this.stallExpected = now + STALL_TICK_MS;
      this.options.onDelay?.(Math.max(0, lag));
      if (lag >= STALL_FLOOR_MS) {
        this.stalls.push({ at: now, lag });
        if (this.stalls.length > 256 || (this.stalls[0]?.at ?? now) < now - STALL_MEMORY_MS)
          this.stalls = this.stalls.filter((s) => s.at >= now - STALL_MEMORY_MS).slice(-256);
      }
    }, STALL_TICK_MS);
    let expected = performance.now() + tick;
    this.histogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    this.histogram.enable();
    this.cpuStart = cpuPressureTotal();
    this.timer = setInterval(() => {
      const now = performance.now();
      const lag = now - expected;
      expected = now + tick;
      if (lag > this.maxLagMs) this.maxLagMs = lag;
      if (lag > this.options.lagLimitMs) {
        this.add(
          `event loop blocked for ${Math.round(lag)} ms at +${((now - this.started - lag) / 1000).toFixed(1)}s (limit ${this.options.lagLimitMs} ms): ` +
            `probe timeouts in that window may be the prober's, not the targets'`,
          "lag",
        );
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
    clearInterval(this.stallTimer);
    this.stallTimer = undefined;
    this.histogram?.disable();
    const end = cpuPressureTotal();
    if (this.cpuStart !== undefined && end !== undefined) this.cpuStalledMs = (end - this.cpuStart) / 1000;
  }

  /**
   * The longest stall of the event loop since `since` (a performance.now()
   * time), including one still going on (the tick is overdue): what an
   * attempt that started then has lived through.
   */
  stallSince(since: number): number {
    const now = performance.now();
    // Only the part of a stall after `since` counts: an attempt started at the
    // end of a long synchronous stretch lived through its rest, not all of it.
    let worst = this.stallTimer === undefined ? 0 : Math.max(0, now - Math.max(this.stallExpected, since));
    for (let i = this.stalls.length - 1; i >= 0; i--) {
      const s = this.stalls[i];
      if (s === undefined || s.at <= since) break;
      const overlap = s.at - Math.max(s.at - s.lag, since);
      if (overlap > worst) worst = overlap;
    }
    return worst;
  }

  /** The loop's delay over the watch, from the histogram (ms). */
  loopDelay(): LoopDelay {
    const h = this.histogram;
    if (h === undefined || h.count === 0) return { p50: 0, p99: 0, max: 0 };
    // The histogram records each interval of its timer, the resolution included: the delay is what is beyond it.
    const ms = (ns: number) => Math.max(0, Math.round((ns / 1e6 - LOOP_RESOLUTION_MS) * 10) / 10);
    return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
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

/** /proc/pressure/cpu "some total" (µs), or undefined where the kernel has no PSI. */
function cpuPressureTotal(): number | undefined {
  try {
    const match = /^some .*total=(\d+)/m.exec(readFileSync("/proc/pressure/cpu", "utf8"));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
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
