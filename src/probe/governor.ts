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

/**
 * The prober's own health sets how much it keeps in flight (additive increase,
 * multiplicative decrease, as TCP does with a congested path): when the event
 * loop's delay passes LAG_HIGH_MS the limit is cut, when it stays under
 * LAG_LOW_MS it grows back toward the stack's `concurrency`. Thousands of
 * connections completing in one turn of the loop would otherwise delay every
 * timer and every measured RTT behind them (issue 12).
 */
const LAG_HIGH_MS = 20;
const LAG_LOW_MS = 5;
const MIN_LIMIT = 8;
const CUT = 0.5;
/** After a cut, the next one waits this long: the cut needs a moment to show. */
const CUT_SPACING_MS = 100;

export class Governor {
  private readonly global: RateBucket;
  private readonly operators = new Map<string, RateBucket>();
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  readonly concurrency: number;
  /** The limit in force: at most `concurrency`, lower while the prober's loop is slow. */
  private current: number;
  private lastCut = -Infinity;
  /** The lowest limit the campaign fell to (reported). */
  lowest: number;

  constructor(options: { maxRate: number; concurrency: number; operatorRates?: ReadonlyMap<string, number> }) {
    this.global = new RateBucket(options.maxRate);
    this.concurrency = options.concurrency;
    this.current = options.concurrency;
    this.lowest = options.concurrency;
    for (const [op, rate] of options.operatorRates ?? []) this.operators.set(op, new RateBucket(rate));
  }

  /** Wait for a slot in flight; pair with `release`. */
  async acquire(): Promise<void> {
    if (this.inFlight < this.current) {
      this.inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    // Over the limit (it was just cut): the slot is not handed on.
    const next = this.inFlight <= this.current ? this.waiting.shift() : undefined;
    if (next !== undefined) next();
    else this.inFlight--;
  }

  /** The event loop's delay just measured (ms): cut the limit, or let it grow back. */
  adapt(lagMs: number, now = performance.now()): void {
    if (lagMs > LAG_HIGH_MS) {
      if (now - this.lastCut < CUT_SPACING_MS) return;
      this.lastCut = now;
      this.current = Math.max(Math.min(MIN_LIMIT, this.concurrency), Math.floor(Math.min(this.current, this.inFlight) * CUT));
      this.lowest = Math.min(this.lowest, this.current);
    } else if (lagMs < LAG_LOW_MS && this.current < this.concurrency) {
      this.current = Math.min(this.concurrency, this.current + Math.max(1, Math.floor(this.current / 16)));
      // Room made: wake the waiters it admits.
      while (this.inFlight < this.current && this.waiting.length > 0) {
        this.inFlight++;
        this.waiting.shift()?.();
      }
    }
  }

  /** The limit in force. */
  get limit(): number {
    return this.current;
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

/**
 * A plain limit on how many of one kind run at once. Probes that start a
 * process (ssh-keyscan) make the server start one too (sshd re-executes itself
 * per connection): twenty at once are a burst of forty processes on the
 * prober's machine, whose CPU the prober then waits for. The slot is taken
 * before the attempt's clock starts, so waiting for it is never a timeout.
 */
export class Slots {
  private used = 0;
  private readonly waiting: (() => void)[] = [];
  readonly size: number;

  constructor(size: number) {
    this.size = Math.max(1, size);
  }

  async take(): Promise<void> {
    if (this.used < this.size) {
      this.used++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  give(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.used--;
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
