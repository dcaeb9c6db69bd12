import { randomUUID } from "node:crypto";
import { ProbeError } from "../lib/errors.ts";
import type { Condition } from "./catalog/condition.ts";
import { type EvalContext, evaluate } from "./catalog/evaluate.ts";
import { Governor, Slots } from "./governor.ts";
import { planPhases } from "./phases.ts";
import { Progress, type ProgressStream } from "./progress.ts";
import { type CampaignFooter, ResultsWriter } from "./results.ts";
import { type LoopDelay, SelfWatch, STALL_MS } from "./selfwatch.ts";
import { type Summary, Tally } from "./summary.ts";
import type { BatchProbe, FailureClass, Observation, Probe, ProbeKind, ProbeResult, Status, Target } from "./types.ts";
import { forEachLimited } from "../lib/pool.ts";

/**
 * A one-shot campaign to a deadline: the ICMP sweep, then the other probes;
 * bounded concurrency under a rate governor; retries only to confirm a
 * failure (a pass on a retry is degraded); `unreachable` behind a down
 * upstream; `unknown` for whatever the deadline left unprobed, never down.
 * Results stream to a JSON-lines file as they come and are not kept. The
 * campaign watches itself and marks its run invalid when it was starved.
 */

/** What the campaign needs of a catalog check (a catalog `Check` fits). */
export interface CheckPlan {
  readonly conditions: readonly Condition[];
  readonly timeoutMs: number;
  readonly retries: number;
}

export interface IcmpTuning {
  /** Echo requests per host. */
  readonly count: number;
  /** Milliseconds between any two requests of the batch (fping -i): the send rate. */
  readonly intervalMs: number;
}

/** ICMP comes as a batch probe, or as a factory tuned per batch (count, send rate). */
export type IcmpSource = BatchProbe | ((tuning: IcmpTuning) => BatchProbe);

/** Reads a gateway's check-in records (see probes/checkin.ts): one read serves every device on it. */
export interface CheckinSource {
  read(
    gateway: Target,
    cursor: undefined | { inode: string; offset: number },
    context: { signal: AbortSignal; timeoutMs: number },
  ): Promise<{
    readonly observation: Observation;
    readonly cursor: { inode: string; offset: number } | undefined;
    readonly observations: ReadonlyMap<string, Observation>;
  }>;
}

export type ProbeSet = { readonly icmp?: IcmpSource; readonly checkin?: CheckinSource } & { readonly [K in Exclude<ProbeKind, "icmp" | "checkin">]?: Probe };

export interface CampaignOptions {
  readonly id?: string;
  readonly stack: string;
  /** Where the campaign observes from (host, namespace, shard). */
  readonly from: string;
  readonly targets: readonly Target[];
  readonly checks: ReadonlyMap<string, CheckPlan>;
  readonly probes: ProbeSet;
  /** The network-safety guard: throws (ProbeError) for a target outside probe.allow. */
  readonly guard: (target: Target) => void;
  readonly deadlineMs: number;
  readonly maxRate: number;
  readonly concurrency: number;
  readonly operatorRates?: ReadonlyMap<string, number>;
  readonly evalContext: EvalContext;
  /** The results file (JSON lines). */
  readonly out: string;
  /** The `--select` expression the targets were chosen by: the header records it, so a shard declares what it covers (`amadegi merge`). */
  readonly select?: string;
  readonly progress?: ProgressStream;
  /** Aborting it interrupts the campaign (SIGINT): what was measured is kept. */
  readonly signal?: AbortSignal;
  /** Event-loop lag that invalidates the run (default: half the shortest timeout, 100–1000 ms). */
  readonly lagLimitMs?: number;
  /** First retry backoff; doubles per retry (default 200 ms). */
  readonly retryBaseMs?: number;
  /** Hosts per fping process (default: a quarter of the sweep, at least 1,000, at most 60,000 / count). */
  readonly icmpBatch?: number;
  /** fping processes at once (default 2). */
  readonly icmpParallel?: number;
  /** Sees every result as it is written (tests, live consumers); the campaign keeps none. */
  readonly onResult?: (result: ProbeResult) => void;
}

export interface CampaignReport {
  readonly id: string;
  readonly file: string;
  readonly valid: boolean;
  readonly invalid: readonly string[];
  readonly interrupted: boolean;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly elapsedMs: number;
  /** Probe attempts made (retries included). */
  readonly attempts: number;
  readonly maxLagMs: number;
  /** The event loop's delay over the campaign (perf_hooks.monitorEventLoopDelay). */
  readonly loopDelay: LoopDelay;
  /** Attempts not judged because the prober stalled during them. */
  readonly starvedAttempts: number;
  /** The lowest limit on probes in flight the governor fell to while the loop was slow (the stack's concurrency when it never did). */
  readonly lowestConcurrency: number;
  /** The machine's CPU pressure during the campaign: share of the time a runnable task waited (/proc/pressure/cpu "some"); absent without PSI. */
  readonly cpuPressure?: number;
  readonly summary: Summary;
}

/** Below this much time left, an attempt is not started (its result could not be trusted). */
const MIN_ATTEMPT_MS = 20;
/** Kept back from the deadline to write the unknowns and the footer. */
const FINISH_MARGIN_MS = 100;
const MAX_VALUE_CHARS = 256;
/** Attempts tried again because the prober was starved (issue 12): at most this many, then `unknown`. */
const MAX_STARVED_RETRIES = 2;
/** Probes of these kinds start a process on both ends (ssh-keyscan, sshd): this many at once. */
const TOOL_KINDS: ReadonlyMap<ProbeKind, number> = new Map([["ssh", 4]]);
/** Reads of a gateway's check-ins tried again after a timeout: the read is data, not a verdict. */
const CHECKIN_READ_RETRIES = 2;
const DEADLINE = Symbol("deadline");
/** Why an attempt's signal fired: one reason for all (a DOMException per abort would capture a stack each time). */
const ATTEMPT_OVER = Object.assign(new Error("the attempt's time is up"), { name: "AbortError", code: "ABORT_ERR" });

export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const id = options.id ?? randomUUID();
  // Safety first: every target is checked against probe.allow before any packet.
  const refused: string[] = [];
  for (const t of options.targets) {
    try {
      options.guard(t);
    } catch (error) {
      if (!(error instanceof ProbeError)) throw error;
      refused.push(error.message);
    }
  }
  if (refused.length > 0) {
    throw new ProbeError(`${refused.length} target(s) outside probe.allow; nothing was sent. First: ${refused[0]}`, {
      hint: "declare the stack's own ranges in amadegi:probe.allow (stacks/Pulumi.<stack>.yaml), or narrow the campaign with --select",
    });
  }
  for (const t of options.targets) {
    if (!options.checks.has(t.check))
      throw new ProbeError(`target ${t.key} names check ${t.check}, which the campaign was not given`, {
        hint: "build targets and checks from the same catalog",
      });
  }

  const started = performance.now();
  const startedAt = new Date();
  const deadlineAt = started + options.deadlineMs - Math.min(FINISH_MARGIN_MS, options.deadlineMs * 0.05);
  const stop = new AbortController();
  const deadlineTimer = setTimeout(() => stop.abort(DEADLINE), Math.max(0, deadlineAt - performance.now()));
  const onInterrupt = () => stop.abort("interrupted");
  options.signal?.addEventListener("abort", onInterrupt, { once: true });
  if (options.signal?.aborted === true) stop.abort("interrupted");
  // Whatever must stop at the deadline registers here, not on stop.signal: an
  // EventTarget checks every listener when one is added, so a thousand probes in
  // flight each adding their own made every start cost a thousand (issue 12).
  const stopHooks = new Set<() => void>();
  stop.signal.addEventListener(
    "abort",
    () => {
      for (const hook of [...stopHooks]) hook();
      stopHooks.clear();
    },
    { once: true },
  );
  const whenStopped = (hook: () => void): (() => void) => {
    stopHooks.add(hook);
    return () => stopHooks.delete(hook);
  };
  // Races against the deadline remove their hook once settled: racing every probe
  // against one long-lived promise would keep every probe's promise alive until the end.
  const untilStop = <T>(p: Promise<T>): Promise<T | typeof DEADLINE> =>
    new Promise((resolve, reject) => {
      if (stop.signal.aborted) return resolve(DEADLINE);
      const unhook = whenStopped(() => resolve(DEADLINE));
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
  /** A wait that ends early at the deadline. */
  const pause = (ms: number): Promise<void> =>
    ms <= 0 || stop.signal.aborted
      ? Promise.resolve()
      : new Promise((resolve) => {
          const timer = setTimeout(done, ms);
          const unhook = whenStopped(done);
          function done(): void {
            clearTimeout(timer);
            unhook();
            resolve();
          }
        });

  const minTimeout = Math.min(...[...options.checks.values()].map((c) => c.timeoutMs), 2000);
  const governor = new Governor({
    maxRate: options.maxRate,
    concurrency: options.concurrency,
    ...(options.operatorRates === undefined ? {} : { operatorRates: options.operatorRates }),
  });
  const watch = new SelfWatch({ lagLimitMs: options.lagLimitMs ?? Math.min(1000, Math.max(100, minTimeout / 2)), onDelay: (lag) => governor.adapt(lag) });
  const writer = new ResultsWriter(options.out, {
    type: "campaign",
    version: 1,
    id,
    stack: options.stack,
    from: options.from,
    startedAt: startedAt.toISOString(),
    deadlineMs: options.deadlineMs,
    targets: options.targets.length,
    ...(options.select === undefined ? {} : { select: options.select }),
  });
  const tally = new Tally();
  const toolSlots = new Map([...TOOL_KINDS].map(([kind, size]) => [kind, new Slots(size)] as const));
  const progress = new Progress(options.progress);
  // Only the statuses something depends on are remembered.
  const needed = new Set<string>();
  for (const t of options.targets) for (const k of t.dependsOn ?? []) needed.add(k);
  const statuses = new Map<string, Status>();
  const settled = new Set<string>();
  const inFlight = new Map<string, Target>();
  let attempts = 0;
  let starvedAttempts = 0;

  const settle = (
    t: Target,
    status: Status,
    n: number,
    obs?: Observation,
    extra: { failure?: FailureClass; detail?: string; failed?: readonly string[] } = {},
  ) => {
    if (settled.has(t.key)) return;
    settled.add(t.key);
    inFlight.delete(t.key);
    if (needed.has(t.key)) statuses.set(t.key, status);
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
      from: options.from,
      status,
      ...(failure === undefined ? {} : { failure }),
      ...(detail === undefined ? {} : { detail }),
      ...(extra.failed === undefined || extra.failed.length === 0 ? {} : { failed: extra.failed }),
      attempts: n,
      timings: obs?.timings ?? { total: 0 },
      values: obs === undefined ? {} : clipValues(obs.values),
      at: new Date().toISOString(),
    };
    writer.write(result);
    tally.add(result);
    options.onResult?.(result);
  };

  const blockedBy = (t: Target): string | undefined => {
    for (const k of t.dependsOn ?? []) {
      const s = statuses.get(k);
      if (s === "down" || s === "unreachable") return k;
    }
    return undefined;
  };

  const judge = (t: Target, obs: Observation): { ok: boolean; warn: boolean; failed: string[]; detail?: string } => {
    if (!obs.ok) return { ok: false, warn: false, failed: [], ...(obs.detail === undefined ? {} : { detail: obs.detail }) };
    const plan = options.checks.get(t.check);
    const pinned = typeof t.params.hostKey === "string" ? t.params.hostKey : undefined;
    const ctx = pinned === undefined ? options.evalContext : { ...options.evalContext, pinnedKey: pinned };
    const verdict = evaluate(plan?.conditions ?? [], obs, ctx);
    if (verdict.outcome === "fail") return { ok: false, warn: false, failed: verdict.failed, detail: verdict.failed.join("; ") };
    return { ok: true, warn: verdict.outcome === "warn", failed: verdict.warned };
  };

  const runOne = async (t: Target, probe: Probe): Promise<void> => {
    const plan = options.checks.get(t.check) ?? { conditions: [], timeoutMs: 2000, retries: 0 };
    /** Attempts made; of them, failures that count (a starved attempt does not); starved attempts. */
    let n = 0;
    let failures = 0;
    let starved = 0;
    let firstFailure: string | undefined;
    let starvedWhy: string | undefined;
    for (;;) {
      const remaining = deadlineAt - performance.now();
      if (stop.signal.aborted || remaining < MIN_ATTEMPT_MS) {
        return settle(t, "unknown", n, undefined, {
          detail: n === 0 ? "not probed before the deadline" : `failed (${firstFailure ?? "?"}); no time left to confirm`,
        });
      }
      const wait = governor.delay(1, t.operator);
      if (wait > 0) await pause(wait);
      if (stop.signal.aborted) continue;
      const slots = toolSlots.get(t.kind);
      if (slots !== undefined && (await untilStop(slots.take())) === DEADLINE) continue;
      const timeoutMs = Math.max(1, Math.min(plan.timeoutMs, deadlineAt - performance.now()));
      // One controller per attempt, aborted by its timeout or the deadline, and
      // unhooked from the deadline afterwards so nothing outlives the attempt.
      const attempt = new AbortController();
      const abort = () => attempt.abort(ATTEMPT_OVER);
      const timer = setTimeout(abort, Math.ceil(timeoutMs));
      const unhook = whenStopped(abort);
      let obs: Observation | typeof DEADLINE;
      const attemptStart = performance.now();
      try {
        obs = await untilStop(probe.probe(t, { signal: attempt.signal, timeoutMs, bounded: true }));
      } catch (error) {
        const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        watch.noteFailure(text);
        // A ProbeError is a refusal (settings, a missing CA): not a verdict on the target either way.
        const detail =
          error instanceof ProbeError
            ? `could not probe: ${text.slice(0, 300)}`
            : `the ${t.kind} probe failed (${text.slice(0, 200)}); this is a bug, not a verdict on the target`;
        return settle(t, "unknown", n + 1, undefined, { failure: "internal", detail });
      } finally {
        clearTimeout(timer);
        unhook();
        slots?.give();
      }
      if (obs === DEADLINE) return settle(t, "unknown", n, undefined, { detail: "in flight at the deadline" });
      n++;
      attempts++;
      watch.noteFailure(obs.detail);
      const j = judge(t, obs);
      // A starved prober never blames a target: an attempt that failed on time (a
      // timeout, or a condition on what it measured) while the event loop stalled
      // is not evidence. It is tried again, at most twice more; then the target is unknown.
      const stall = watch.stallSince(attemptStart);
      if ((!j.ok || j.warn) && (obs.ok || obs.failure === "timeout") && stall >= STALL_MS) {
        starved++;
        starvedAttempts++;
        starvedWhy = `the prober's event loop stalled ${Math.round(stall)} ms during the attempt (${j.detail ?? obs.failure ?? "failed"})`;
        if (starved > MAX_STARVED_RETRIES) {
          return settle(t, "unknown", n, obs, { failure: "starved", detail: `not judged: ${starved} attempts starved; last: ${starvedWhy}` });
        }
        continue;
      }
      if (j.ok) {
        const retried = failures > 0;
        const detail = retried
          ? `passed on attempt ${n} after: ${firstFailure ?? "a failure"}`
          : j.warn
            ? j.failed.join("; ")
            : starved > 0
              ? `passed on attempt ${n}; ${starved} earlier attempt(s) not judged: ${starvedWhy ?? "starved"}`
              : undefined;
        return settle(t, retried || j.warn ? "degraded" : "up", n, obs, { ...(detail === undefined ? {} : { detail }), failed: j.failed });
      }
      failures++;
      firstFailure ??= j.detail ?? obs.failure ?? "failed";
      if (obs.failure === "timeout" && timeoutMs < plan.timeoutMs) {
        return settle(t, "unknown", n, obs, {
          detail: `timed out after ${Math.round(timeoutMs)} ms, cut short by the deadline (the check allows ${plan.timeoutMs} ms)`,
        });
      }
      if (failures > plan.retries)
        return settle(t, "down", n, obs, {
          failure: obs.ok ? "assertion" : (obs.failure ?? "internal"),
          ...(j.detail === undefined ? {} : { detail: j.detail }),
          failed: j.failed,
        });
      const backoff = (options.retryBaseMs ?? 200) * 2 ** (failures - 1) * (0.75 + Math.random() / 2);
      if (performance.now() + backoff + MIN_ATTEMPT_MS > deadlineAt) {
        return settle(t, "unknown", n, obs, { detail: `failed (${firstFailure}); no time left to confirm` });
      }
      await pause(backoff);
    }
  };

  const runIcmp = async (targets: readonly Target[]): Promise<void> => {
    const source = options.probes.icmp;
    // Batches per check: each check has its own count, timeout and conditions.
    const byCheck = new Map<string, Target[]>();
    for (const t of targets) {
      const blocker = blockedBy(t);
      if (blocker !== undefined) {
        settle(t, "unreachable", 0, undefined, { detail: `depends on ${blocker}, which is ${statuses.get(blocker)}` });
        continue;
      }
      let list = byCheck.get(t.check);
      if (list === undefined) byCheck.set(t.check, (list = []));
      list.push(t);
    }
    for (const [check, list] of byCheck) {
      const plan = options.checks.get(check) ?? { conditions: [], timeoutMs: 1000, retries: 0 };
      const count = typeof list[0]?.params.count === "number" ? list[0].params.count : 3;
      if (source === undefined) {
        for (const t of list) settle(t, "unknown", 0, undefined, { failure: "internal", detail: "no icmp probe in this build" });
        continue;
      }
      const parallel = Math.max(1, options.icmpParallel ?? 2);
      // fping numbers its requests in 16 bits: hosts × count per process must stay below 65,536.
      const size = Math.max(1, Math.min(Math.floor(60_000 / count), options.icmpBatch ?? Math.max(1000, Math.ceil(list.length / (parallel * 2)))));
      // The send rate: the global ceiling shared by the parallel fping processes.
      const intervalMs = (1000 * parallel) / (options.maxRate * count);
      const probe = typeof source === "function" ? source({ count, intervalMs }) : source;
      let pending = list;
      for (let round = 0; pending.length > 0 && !stop.signal.aborted; round++) {
        const failed: { t: Target; obs: Observation; why: string }[] = [];
        const batches = Array.from({ length: Math.ceil(pending.length / size) }, (_, i) => pending.slice(i * size, (i + 1) * size));
        await forEachLimited(
          batches,
          parallel,
          (batch) => icmpBatch(probe, batch, plan, round, failed),
          () => stop.signal.aborted,
        );
        if (failed.length === 0) break;
        const last = round >= plan.retries;
        const backoff = (options.retryBaseMs ?? 200) * 2 ** round;
        if (last || performance.now() + backoff + plan.timeoutMs > deadlineAt) {
          for (const f of failed) {
            if (last) settle(f.t, "down", round + 1, f.obs, { failure: f.obs.ok ? "assertion" : (f.obs.failure ?? "timeout"), detail: f.why });
            else settle(f.t, "unknown", round + 1, f.obs, { detail: `failed (${f.why}); no time left to confirm` });
          }
          break;
        }
        await pause(backoff);
        pending = failed.map((f) => f.t);
      }
    }
  };

  const icmpBatch = async (
    probe: BatchProbe,
    batch: readonly Target[],
    plan: CheckPlan,
    round: number,
    failed: { t: Target; obs: Observation; why: string }[],
  ) => {
    const perOperator = new Map<string | undefined, number>();
    for (const t of batch) perOperator.set(t.operator, (perOperator.get(t.operator) ?? 0) + 1);
    let wait = 0;
    for (const [op, n] of perOperator) wait = Math.max(wait, governor.delay(n, op));
    if (wait > 0) await pause(wait);
    const remaining = deadlineAt - performance.now();
    if (stop.signal.aborted || remaining < MIN_ATTEMPT_MS) return;
    for (const t of batch) inFlight.set(t.key, t);
    let observations: Map<string, Observation> | typeof DEADLINE;
    try {
      observations = await untilStop(probe.probeAll(batch, { signal: stop.signal, timeoutMs: Math.min(plan.timeoutMs, remaining) }));
    } catch (error) {
      const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      watch.noteFailure(text);
      for (const t of batch) settle(t, "unknown", round + 1, undefined, { failure: "internal", detail: `the icmp batch failed (${text.slice(0, 200)})` });
      return;
    }
    if (observations === DEADLINE) return;
    const cut = stop.signal.aborted;
    for (const t of batch) {
      const obs = observations.get(t.key);
      attempts++;
      if (obs === undefined) {
        settle(t, "unknown", round + 1, undefined, { failure: "internal", detail: "the icmp batch gave no answer for this host" });
        continue;
      }
      watch.noteFailure(obs.detail);
      const j = judge(t, obs);
      if (j.ok) {
        const detail = round > 0 ? `passed on attempt ${round + 1}` : j.warn ? j.failed.join("; ") : undefined;
        settle(t, round > 0 || j.warn ? "degraded" : "up", round + 1, obs, { ...(detail === undefined ? {} : { detail }), failed: j.failed });
      } else if (cut) {
        // fping was stopped by the deadline: a missing reply proves nothing.
        settle(t, "unknown", round + 1, obs, { detail: "the icmp sweep was cut short by the deadline" });
      } else {
        inFlight.delete(t.key);
        failed.push({ t, obs, why: j.detail ?? obs.failure ?? "no reply" });
      }
    }
  };

  /**
   * Check-ins: device targets grouped by the gateway that records them; the
   * gateway's log is read once (in chunks, to the end) and each device link is
   * judged on its latest record. No record over a link is a failed condition;
   * an unreadable gateway leaves its devices unknown (they may have checked in).
   */
  const runCheckins = async (targets: readonly Target[]): Promise<void> => {
    const source = options.probes.checkin;
    const byGateway = new Map<string, Target[]>();
    for (const t of targets) {
      const blocker = blockedBy(t);
      if (blocker !== undefined) {
        settle(t, "unreachable", 0, undefined, { detail: `depends on ${blocker}, which is ${statuses.get(blocker)}` });
        continue;
      }
      if (source === undefined) {
        settle(t, "unknown", 0, undefined, { failure: "internal", detail: "no check-in reader in this build" });
        continue;
      }
      const gw = `${String(t.params.gateway ?? t.address)}\u0000${t.check}`;
      let list = byGateway.get(gw);
      if (list === undefined) byGateway.set(gw, (list = []));
      list.push(t);
    }
    if (source === undefined) return;
    const readOne = async (devices: Target[]): Promise<void> => {
      const first = devices[0];
      if (first === undefined) return;
      const plan = options.checks.get(first.check) ?? { conditions: [], timeoutMs: 5000, retries: 0 };
      const gateway: Target = {
        key: `${first.check}/${String(first.params.gateway ?? first.address)}`,
        check: first.check,
        kind: "checkin",
        ...(typeof first.params.gateway === "string" ? { server: first.params.gateway } : {}),
        address: first.address,
        ...(first.port === undefined ? {} : { port: first.port }),
        params: Object.fromEntries(Object.entries(first.params).filter(([k]) => ["hostKey", "user", "log", "maxBytes"].includes(k))),
      };
      for (const t of devices) inFlight.set(t.key, t);
      const latest = new Map<string, Observation>();
      let cursor: { inode: string; offset: number } | undefined;
      let failure: Observation | undefined;
      let tries = 0;
      for (let reads = 0; reads < 1000; reads++) {
        const remaining = deadlineAt - performance.now();
        if (stop.signal.aborted || remaining < MIN_ATTEMPT_MS) return;
        const wait = governor.delay(1, undefined);
        if (wait > 0) await pause(wait);
        const readStart = performance.now();
        const batch = await untilStop(source.read(gateway, cursor, { signal: stop.signal, timeoutMs: Math.min(plan.timeoutMs, remaining) })).catch(
          (error: unknown) => {
            const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
            watch.noteFailure(text);
            return {
              observation: { ok: false, failure: "internal", detail: text.slice(0, 300), timings: { total: 0 }, values: {} } as Observation,
              cursor,
              observations: new Map<string, Observation>(),
            };
          },
        );
        if (batch === DEADLINE) return;
        attempts++;
        if (!batch.observation.ok) {
          // A read that timed out (a slow login on a busy gateway or prober) is
          // tried again: the records are data, and a lost read would leave every
          // device on the gateway unknown.
          if (batch.observation.failure === "timeout" && tries < CHECKIN_READ_RETRIES && !stop.signal.aborted) {
            tries++;
            if (watch.stallSince(readStart) >= STALL_MS) starvedAttempts++;
            await pause((options.retryBaseMs ?? 200) * 2 ** (tries - 1));
            reads--;
            continue;
          }
          failure = batch.observation;
          break;
        }
        tries = 0;
        for (const [k, o] of batch.observations) latest.set(k, o);
        cursor = batch.cursor;
        if (batch.observation.values.CHECKIN_MORE !== true) break;
      }
      for (const t of devices) {
        if (failure !== undefined) {
          watch.noteFailure(failure.detail);
          settle(t, "unknown", 1, failure, {
            ...(failure.failure === undefined ? {} : { failure: failure.failure }),
            detail: `could not read the check-ins of gateway ${gateway.server ?? gateway.address}: ${failure.detail ?? "failed"}`,
          });
          continue;
        }
        const obs = latest.get(`${t.station ?? ""}/${t.link ?? ""}`);
        if (obs === undefined) {
          settle(t, "down", 1, undefined, {
            failure: "assertion",
            detail:
              `no check-in from device ${String(t.params.serial ?? "?")} over link ${t.link ?? "?"} ` +
              `in gateway ${gateway.server ?? gateway.address}'s records`,
          });
          continue;
        }
        const j = judge(t, obs);
        settle(t, j.ok ? (j.warn ? "degraded" : "up") : "down", 1, obs, {
          ...(j.ok ? {} : { failure: "assertion" }),
          ...(j.detail === undefined ? {} : { detail: j.detail }),
          failed: j.failed,
        });
      }
    };
    await Promise.all(
      [...byGateway.values()].map(async (devices) => {
        if ((await untilStop(governor.acquire())) === DEADLINE) return;
        try {
          await readOne(devices);
        } finally {
          governor.release();
        }
      }),
    );
  };

  watch.start();
  progress.start(() => ({ counts: tally.total, done: tally.done, total: options.targets.length, deadlineAt }));
  try {
    for (const phase of planPhases(options.targets)) {
      if (stop.signal.aborted) break;
      if (phase.icmp.length > 0) await runIcmp(phase.icmp);
      const checkins = phase.other.filter((t) => t.kind === "checkin");
      const running = new Set<Promise<void>>();
      if (checkins.length > 0) {
        const p = runCheckins(checkins).finally(() => running.delete(p));
        running.add(p);
      }
      let launched = 0;
      for (const t of phase.other) {
        // Yield to timers now and then: probes that settle in microtasks must not starve
        // the deadline, the self-watch and the progress line.
        if (++launched % 256 === 0) await new Promise((r) => setImmediate(r));
        if (stop.signal.aborted) break;
        if (t.kind === "checkin") continue;
        const blocker = blockedBy(t);
        if (blocker !== undefined) {
          settle(t, "unreachable", 0, undefined, { detail: `depends on ${blocker}, which is ${statuses.get(blocker)}` });
          continue;
        }
        const probe = options.probes[t.kind as Exclude<ProbeKind, "icmp" | "checkin">];
        if (probe === undefined) {
          settle(t, "unknown", 0, undefined, { failure: "internal", detail: `no ${t.kind} probe in this build` });
          continue;
        }
        if ((await untilStop(governor.acquire())) === DEADLINE) break;
        inFlight.set(t.key, t);
        const p = runOne(t, probe).finally(() => {
          governor.release();
          running.delete(p);
        });
        running.add(p);
      }
      await untilStop(Promise.all(running));
    }
  } finally {
    clearTimeout(deadlineTimer);
    options.signal?.removeEventListener("abort", onInterrupt);
    watch.stop();
    progress.stop();
  }

  const interrupted = stop.signal.reason === "interrupted";
  const why = interrupted ? "interrupted before it was probed" : "not probed before the deadline";
  for (const t of inFlight.values()) settle(t, "unknown", 0, undefined, { detail: interrupted ? "in flight when interrupted" : "in flight at the deadline" });
  for (const t of options.targets) if (!settled.has(t.key)) settle(t, "unknown", 0, undefined, { detail: why });
  const invalid = [...watch.reasons, ...(interrupted ? ["the campaign was interrupted: results are partial"] : [])];
  const finished = new Date();
  const summary = tally.summary();
  const footer: CampaignFooter = {
    type: "end",
    id,
    finishedAt: finished.toISOString(),
    valid: invalid.length === 0,
    invalid,
    interrupted,
    counts: summary.total,
  };
  writer.close(footer);
  return {
    id,
    file: writer.path,
    valid: invalid.length === 0,
    invalid,
    interrupted,
    startedAt: startedAt.toISOString(),
    finishedAt: finished.toISOString(),
    elapsedMs: performance.now() - started,
    attempts,
    maxLagMs: Math.round(watch.maxLagMs),
    loopDelay: watch.loopDelay(),
    starvedAttempts,
    lowestConcurrency: governor.lowest,
    ...(watch.cpuStalledMs === undefined ? {} : { cpuPressure: Math.round((watch.cpuStalledMs / Math.max(1, performance.now() - started)) * 1000) / 1000 }),
    summary,
  };
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
