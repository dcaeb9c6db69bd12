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
/**
 * The least the limit is cut to. A delay with fewer in flight is not theirs: it is the collector's
 * (a national campaign holds 500–800 MiB), another lane's, or the CPU given to other processes, and
 * cutting further only starves the lane. With a floor of 8, national checks at 150 check-ins a
 * second held their links' TCP probes at 8–50 in flight for most of the lane, about 430 a second
 * per operator where the catalog allows 1,000–4,000: the lane took 55–75 s. With 128 it took 41–47 s,
 * valid, with as few links unknown (issue 20, ADR 0014).
 */
const MIN_LIMIT = 128;
const CUT = 0.5;
/** After a cut, the next one waits this long: the cut needs a moment to show. */
const CUT_SPACING_MS = 100;

export class Governor {
  private readonly global: RateBucket;
  private readonly operators = new Map<string, RateBucket>();
  /** In flight; its size is the limit in force: at most `concurrency`, lower while the prober's loop is slow. */
  private readonly slots: Slots;
  readonly concurrency: number;
  private lastCut = -Infinity;
  /** The lowest limit the campaign fell to (reported). */
  lowest: number;

  constructor(options: { maxRate: number; concurrency: number; operatorRates?: ReadonlyMap<string, number> }) {
    this.global = new RateBucket(options.maxRate);
    this.concurrency = options.concurrency;
    this.slots = new Slots(options.concurrency);
    this.lowest = options.concurrency;
    for (const [op, rate] of options.operatorRates ?? []) this.operators.set(op, new RateBucket(rate));
  }

  /** Wait for a slot in flight; pair with `release`. */
  acquire(): Promise<void> {
    return this.slots.take();
  }

  release(): void {
    this.slots.give();
  }

  /** The event loop's delay just measured (ms): cut the limit, or let it grow back. */
  adapt(lagMs: number, now = performance.now()): void {
    const current = this.slots.size;
    if (lagMs > LAG_HIGH_MS) {
      if (now - this.lastCut < CUT_SPACING_MS) return;
      this.lastCut = now;
      this.slots.resize(Math.max(Math.min(MIN_LIMIT, this.concurrency), Math.floor(Math.min(current, this.slots.inUse) * CUT)));
      this.lowest = Math.min(this.lowest, this.slots.size);
    } else if (lagMs < LAG_LOW_MS && current < this.concurrency) {
      this.slots.resize(Math.min(this.concurrency, current + Math.max(1, Math.floor(current / 16))));
    }
  }

  /** The limit in force. */
  get limit(): number {
    return this.slots.size;
  }

  get active(): number {
    return this.slots.inUse;
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
  private limit: number;

  constructor(size: number) {
    this.limit = Math.max(1, size);
  }

  get size(): number {
    return this.limit;
  }

  get inUse(): number {
    return this.used;
  }

  async take(): Promise<void> {
    if (this.used < this.limit) {
      this.used++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  give(): void {
    // Over the limit (it was just cut): the slot is not handed on.
    const next = this.used <= this.limit ? this.waiting.shift() : undefined;
    if (next !== undefined) next();
    else this.used--;
  }

  /** A new limit: lowered, what is in use finishes; raised, the waiters it admits go now. */
  resize(size: number): void {
    this.limit = Math.max(1, size);
    while (this.used < this.limit && this.waiting.length > 0) {
      this.used++;
      this.waiting.shift()?.();
    }
  }
}
