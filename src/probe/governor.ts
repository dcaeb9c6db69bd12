/**
 * Pacing for a campaign: a ceiling on probes in flight, and rate buckets
 * (one global, one per operator, since operators filter and rate-limit their
 * networks). Buckets use virtual scheduling: each take reserves the next free
 * slot, so thousands of waiters cost no queue, and a short burst is allowed so
 * a 20,000/s rate does not turn into 20,000 timers.
 */
export class RateBucket {
  private next = 0;
  private readonly intervalMs: number;
  private readonly burstMs: number;

  constructor(perSecond: number, burstMs = 50) {
    this.intervalMs = 1000 / perSecond;
    this.burstMs = burstMs;
  }

  /** Milliseconds to wait before sending `n` probes (0 when within the burst). */
  reserve(n = 1, now = performance.now()): number {
    const slot = Math.max(now - this.burstMs, this.next);
    this.next = slot + n * this.intervalMs;
    return Math.max(0, slot - now);
  }
}

export class Governor {
  private readonly global: RateBucket;
  private readonly operators = new Map<string, RateBucket>();
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  readonly concurrency: number;

  constructor(options: { maxRate: number; concurrency: number; operatorRates?: ReadonlyMap<string, number> }) {
    this.global = new RateBucket(options.maxRate);
    this.concurrency = options.concurrency;
    for (const [op, rate] of options.operatorRates ?? []) this.operators.set(op, new RateBucket(rate));
  }

  /** Wait for a slot in flight; pair with `release`. */
  async acquire(): Promise<void> {
    if (this.inFlight < this.concurrency) {
      this.inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.inFlight--;
  }

  get active(): number {
    return this.inFlight;
  }

  /** Milliseconds to wait before `n` probes toward `operator` may go out. */
  delay(n: number, operator: string | undefined): number {
    const now = performance.now();
    const global = this.global.reserve(n, now);
    const own = operator === undefined ? 0 : (this.operators.get(operator)?.reserve(n, now) ?? 0);
    return Math.max(global, own);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
