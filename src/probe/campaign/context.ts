import { evaluate } from "../catalog/evaluate.ts";
import { Governor, Slots } from "../governor.ts";
import { ResultsWriter } from "../results.ts";
import { SelfWatch } from "../selfwatch.ts";
import { Spans, Tally } from "../summary.ts";
import type { FailureClass, Observation, ProbeKind, ProbeResult, Status, Target } from "../types.ts";
import type { CampaignOptions, CheckPlan } from "./types.ts";

/** Below this much time left, an attempt is not started (its result could not be trusted). */
export const MIN_ATTEMPT_MS = 20;
/** Kept back from the deadline to write the unknowns and the footer. */
const FINISH_MARGIN_MS = 100;
const MAX_VALUE_CHARS = 256;
/**
 * Probes of these kinds start processes on both ends (ssh-keyscan or ssh here, sshd and its key
 * exchange there): SSH_AT_ONCE of them at once, every kind together. A gateway's check-in read is
 * one: sixty-two reads started at once on a busy prober timed out together, were tried again
 * together, and held the 2,000-station campaign for four minutes (issue 20).
 */
const SSH_KINDS: ReadonlySet<ProbeKind> = new Set(["ssh", "checkin"]);
export const SSH_AT_ONCE = 4;
/** What a race against the deadline gives when the deadline came first. */
export const DEADLINE = Symbol("deadline");

/** A check's plan when the campaign was given none for it (never, once the guard at the start has passed). */
export const NO_PLAN = (timeoutMs: number): CheckPlan => ({ conditions: [], timeoutMs, retries: 0 });

/**
 * A lane that settles or starts thousands of targets in one loop (an ICMP batch of up to 20,000
 * hosts, every device link after the gateways' reads, 133,000 links' TCP probes) gives timers and
 * I/O a turn once it has held the event loop for TURN_MS: such a loop held it for over a second at
 * national size, and the self-watch rightly invalidated the campaign. A turn every 256 targets was
 * not enough where each costs a connect(2) through the rehearsal's veths (0.15–0.5 ms of kernel
 * time): 256 of them held the loop 100–250 ms, and the HTTPS probes beside them were judged starved.
 */
export const TURN_MS = 10;
export const yieldToTimers = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A loop's turns: call it for each item; it yields to timers and I/O once the loop has run TURN_MS since its last turn. */
export function turns(): () => Promise<void> | undefined {
  let since = performance.now();
  return () => {
    if (performance.now() - since < TURN_MS) return undefined;
    return yieldToTimers().then(() => {
      since = performance.now();
    });
  };
}

/** What settle() may say beyond the status: why, and which conditions failed. */
export interface SettleExtra {
  readonly failure?: FailureClass;
  readonly detail?: string;
  readonly failed?: readonly string[];
}

/** An observation judged against its check's conditions. */
export interface Judgement {
  readonly ok: boolean;
  readonly warn: boolean;
  readonly failed: string[];
  readonly detail?: string;
}

/**
 * What the campaign's three lanes (icmp.ts, checkin.ts, single.ts) share: the deadline and the
 * ways to wait for it, the governor, the self-watch, and the one place a target is settled —
 * its result written, counted and remembered for the targets that depend on it. A lane asks
 * `blocked` before it probes, `missing` when the build has no probe of a kind, and `failedText`
 * when a probe threw; each says it the same way in every lane.
 */
export class CampaignContext {
  readonly started = performance.now();
  readonly startedAt = new Date();
  /** When the last attempt must have ended (performance.now() time). */
  readonly deadlineAt: number;
  readonly stop = new AbortController();
  readonly governor: Governor;
  readonly watch: SelfWatch;
  readonly writer: ResultsWriter;
  readonly tally = new Tally();
  readonly spans = new Spans();
  /** Targets handed to a probe and not settled yet: unknown if the deadline comes first. */
  readonly inFlight = new Map<string, Target>();
  readonly settled = new Set<string>();
  /** Probe attempts made (retries included). */
  attempts = 0;
  /** Attempts not judged because the prober stalled during them. */
  starvedAttempts = 0;
  private readonly sshSlots = new Slots(SSH_AT_ONCE);
  /** Only the statuses something depends on are remembered: the campaign's own targets that others name in dependsOn. */
  private readonly needed = new Set<string>();
  private readonly statuses = new Map<string, Status>();
  /** Who waits for a needed target to settle (`whenSettled`), by its key. */
  private readonly waiters = new Map<string, (() => void)[]>();
  // Whatever must stop at the deadline registers here, not on stop.signal: an
  // EventTarget checks every listener when one is added, so a thousand probes in
  // flight each adding their own made every start cost a thousand (issue 12).
  private readonly stopHooks = new Set<() => void>();

  readonly options: CampaignOptions;
  readonly id: string;

  constructor(options: CampaignOptions, id: string) {
    this.options = options;
    this.id = id;
    this.deadlineAt = this.started + options.deadlineMs - Math.min(FINISH_MARGIN_MS, options.deadlineMs * 0.05);
    this.stop.signal.addEventListener(
      "abort",
      () => {
        for (const hook of [...this.stopHooks]) hook();
        this.stopHooks.clear();
        // Nothing waits past the deadline for a dependency that will now never settle.
        for (const list of this.waiters.values()) for (const wake of list) wake();
        this.waiters.clear();
      },
      { once: true },
    );
    const minTimeout = Math.min(...[...options.checks.values()].map((c) => c.timeoutMs), 2000);
    this.governor = new Governor({
      maxRate: options.maxRate,
      concurrency: options.concurrency,
      ...(options.operatorRates === undefined ? {} : { operatorRates: options.operatorRates }),
    });
    this.watch = new SelfWatch({
      lagLimitMs: options.lagLimitMs ?? Math.min(1000, Math.max(100, minTimeout / 2)),
      onDelay: (lag) => this.governor.adapt(lag),
    });
    this.writer = new ResultsWriter(options.out, {
      type: "campaign",
      version: 1,
      id,
      stack: options.stack,
      from: options.from,
      startedAt: this.startedAt.toISOString(),
      deadlineMs: options.deadlineMs,
      targets: options.targets.length,
      ...(options.select === undefined ? {} : { select: options.select }),
    });
    const keys = new Set<string>();
    for (const t of options.targets) keys.add(t.key);
    for (const t of options.targets) for (const k of t.dependsOn ?? []) if (keys.has(k)) this.needed.add(k);
  }

  /** The deadline has come, or the campaign was interrupted. */
  get stopped(): boolean {
    return this.stop.signal.aborted;
  }

  /** Time left before the deadline, in milliseconds. */
  remaining(): number {
    return this.deadlineAt - performance.now();
  }

  /** The plan of a target's check (a default for one the campaign was not given). */
  plan(check: string, timeoutMs: number): CheckPlan {
    return this.options.checks.get(check) ?? NO_PLAN(timeoutMs);
  }

  /** The slots of a kind that starts processes on both ends, if it is one. */
  slotsFor(kind: ProbeKind): Slots | undefined {
    return SSH_KINDS.has(kind) ? this.sshSlots : undefined;
  }

  /** Runs `hook` at the deadline (or interruption); the returned function unhooks it. */
  whenStopped(hook: () => void): () => void {
    this.stopHooks.add(hook);
    return () => this.stopHooks.delete(hook);
  }

  /**
   * `p`, or DEADLINE if the deadline comes first. The race removes its hook once settled: racing
   * every probe against one long-lived promise would keep every probe's promise alive until the end.
   */
  untilStop<T>(p: Promise<T>): Promise<T | typeof DEADLINE> {
    return new Promise((resolve, reject) => {
      if (this.stop.signal.aborted) return resolve(DEADLINE);
      const unhook = this.whenStopped(() => resolve(DEADLINE));
      p.then(
        (v) => {
          unhook();
          resolve(v);
        },
        (e: unknown) => {
          unhook();
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  /**
   * Resolves once every one of `keys` that is a target of this campaign has settled, or the
   * campaign has stopped; undefined when nothing is left to wait for (the common case, and free).
   */
  whenSettled(keys: readonly string[]): Promise<void> | undefined {
    const open = keys.filter((k) => this.needed.has(k) && !this.settled.has(k));
    if (open.length === 0 || this.stopped) return undefined;
    return new Promise((resolve) => {
      let left = open.length;
      const one = (): void => {
        if (--left === 0) resolve();
      };
      for (const k of open) {
        const list = this.waiters.get(k);
        if (list === undefined) this.waiters.set(k, [one]);
        else list.push(one);
      }
    });
  }

  /** A wait that ends early at the deadline. */
  pause(ms: number): Promise<void> {
    if (ms <= 0 || this.stop.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const unhook = this.whenStopped(done);
      function done(): void {
        clearTimeout(timer);
        unhook();
        resolve();
      }
    });
  }

  /** A target's result, written once: later calls for the same target are ignored. */
  settle(t: Target, status: Status, n: number, obs?: Observation, extra: SettleExtra = {}): void {
    if (this.settled.has(t.key)) return;
    this.settled.add(t.key);
    this.inFlight.delete(t.key);
    if (this.needed.has(t.key)) {
      this.statuses.set(t.key, status);
      const waiting = this.waiters.get(t.key);
      if (waiting !== undefined) {
        this.waiters.delete(t.key);
        for (const wake of waiting) wake();
      }
    }
    const failure = extra.failure ?? (status === "down" ? obs?.failure : undefined);
    const detail = extra.detail ?? (status === "down" || status === "degraded" ? obs?.detail : undefined);
    const result: ProbeResult = {
      key: t.key,
      check: t.check,
      kind: t.kind,
      ...(t.station === undefined ? {} : { station: t.station }),
      ...(t.link === undefined ? {} : { link: t.link }),
      ...(t.server === undefined ? {} : { server: t.server }),
      ...(t.district === undefined ? {} : { district: t.district }),
      ...(t.operator === undefined ? {} : { operator: t.operator }),
      ...(t.medium === undefined ? {} : { medium: t.medium }),
      address: t.address,
      ...(t.port === undefined ? {} : { port: t.port }),
      from: this.options.from,
      status,
      ...(failure === undefined ? {} : { failure }),
      ...(detail === undefined ? {} : { detail }),
      ...(extra.failed === undefined || extra.failed.length === 0 ? {} : { failed: extra.failed }),
      attempts: n,
      timings: obs?.timings ?? { total: 0 },
      values: obs === undefined ? {} : clipValues(obs.values),
      at: new Date().toISOString(),
    };
    this.writer.write(result);
    this.tally.add(result);
    this.spans.add(t.check, performance.now() - this.started);
    this.options.onResult?.(result);
  }

  /**
   * Blocked → unreachable: a target behind an upstream found down or unreachable is settled
   * `unreachable` naming that upstream, and never probed. True when it was.
   */
  blocked(t: Target): boolean {
    for (const k of t.dependsOn ?? []) {
      const s = this.statuses.get(k);
      if (s === "down" || s === "unreachable") {
        this.settle(t, "unreachable", 0, undefined, { detail: `depends on ${k}, which is ${s}` });
        return true;
      }
    }
    return false;
  }

  /** Missing probe → unknown: this build has no `what` (a probe of the target's kind). */
  missing(t: Target, what: string): void {
    this.settle(t, "unknown", 0, undefined, { failure: "internal", detail: `no ${what} in this build` });
  }

  /** Error → text: what a probe that threw says, noted for the self-watch (a burst of the same failure is the prober's, not the targets'). */
  failedText(error: unknown): string {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    this.watch.noteFailure(text);
    return text;
  }

  /** An observation against its check's conditions (a pinned host key joins the context). */
  judge(t: Target, obs: Observation): Judgement {
    if (!obs.ok) return { ok: false, warn: false, failed: [], ...(obs.detail === undefined ? {} : { detail: obs.detail }) };
    const plan = this.options.checks.get(t.check);
    const pinned = typeof t.params.hostKey === "string" ? t.params.hostKey : undefined;
    const ctx = pinned === undefined ? this.options.evalContext : { ...this.options.evalContext, pinnedKey: pinned };
    const verdict = evaluate(plan?.conditions ?? [], obs, ctx);
    if (verdict.outcome === "fail") return { ok: false, warn: false, failed: verdict.failed, detail: verdict.failed.join("; ") };
    return { ok: true, warn: verdict.outcome === "warn", failed: verdict.warned };
  }
}

/** Long values (a body, a banner) are clipped in results: the file stays small at national size. */
function clipValues(values: Observation["values"]): Observation["values"] {
  let out: Record<string, Observation["values"][string]> | undefined;
  for (const [k, v] of Object.entries(values)) {
    if (typeof v === "string" && v.length > MAX_VALUE_CHARS) {
      out ??= { ...values };
      out[k] = `${v.slice(0, MAX_VALUE_CHARS)}…`;
    }
  }
  return out ?? values;
}
