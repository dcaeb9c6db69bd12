import { ProbeError } from "../../lib/errors.ts";
import { STALL_MS } from "../selfwatch.ts";
import type { Observation, Probe, ProbeKind, Target } from "../types.ts";
import { type CampaignContext, DEADLINE, MIN_ATTEMPT_MS, turns } from "./context.ts";

/** Attempts tried again because the prober was starved (issue 12): at most this many, then `unknown`. */
const MAX_STARVED_RETRIES = 2;
/**
 * A starved attempt is tried again after a pause of about this long, doubled for each starved
 * attempt, each drawn between half and one and a half times (ms). Retried at once, a herd that
 * starved the loop itself starved it again: the 264 gateways' HTTPS probes of a national check
 * started together, their handshakes held the loop 81 ms, and 157 of them, retried together,
 * ended `unknown` after three attempts within 200 ms (issue 20).
 */
const STARVED_PAUSE_MS = 300;
/** Why an attempt's signal fired: one reason for all (a DOMException per abort would capture a stack each time). */
const ATTEMPT_OVER = Object.assign(new Error("the attempt's time is up"), { name: "AbortError", code: "ABORT_ERR" });

/**
 * The lane of one probe per target (tcp, tls, http, dns, ntp, ssh): each target started under
 * the governor's in-flight limit, its promise added to `running` (the campaign waits for them all).
 * A target whose upstreams in earlier phases have not settled yet (`pending`: a slow one of this
 * lane, or of another that runs beside it) waits aside without holding the lane: the lane starts
 * the others, and each waiting target in turn as its upstreams settle (ADR 0014).
 */
export async function runSingles(
  ctx: CampaignContext,
  targets: readonly Target[],
  running: Set<Promise<void>>,
  pending: (t: Target) => Promise<void> | undefined = () => undefined,
): Promise<void> {
  /** Targets whose upstreams settled while they waited, in that order; `next` is the first not started. */
  const ready: Target[] = [];
  let next = 0;
  let waiting = 0;
  let wake: (() => void) | undefined;
  // Yield to timers now and then, for every target started or set aside: probes that start and
  // settle in microtasks, or 133,000 links set aside at once, must not starve the deadline, the
  // self-watch, the progress line and the probes in flight (TURN_MS).
  const turn = turns();
  const start = async (t: Target): Promise<boolean> => {
    if (ctx.stopped) return false;
    if (ctx.blocked(t)) return true;
    const probe = ctx.options.probes[t.kind as Exclude<ProbeKind, "icmp" | "checkin">];
    if (probe === undefined) {
      ctx.missing(t, `${t.kind} probe`);
      return true;
    }
    // A kind with slots of its own (ssh: SSH_AT_ONCE) waits for them, not for the governor: three
    // hundred SSH probes queued for four slots must not hold the in-flight limit the links' TCP
    // probes need beside them.
    const governed = ctx.slotsFor(t.kind) === undefined;
    if (governed && (await ctx.untilStop(ctx.governor.acquire())) === DEADLINE) return false;
    ctx.inFlight.set(t.key, t);
    const p = runOne(ctx, t, probe).finally(() => {
      if (governed) ctx.governor.release();
      running.delete(p);
    });
    running.add(p);
    return true;
  };
  for (const t of targets) {
    await turn();
    const upstreams = pending(t);
    if (upstreams === undefined) {
      if (!(await start(t))) return;
      continue;
    }
    waiting++;
    void upstreams.then(() => {
      ready.push(t);
      wake?.();
    });
  }
  while (waiting > 0) {
    if (next === ready.length) {
      // Compact what was started, then sleep until an upstream settles (or the deadline).
      ready.length = next = 0;
      const woken = new Promise<void>((resolve) => (wake = resolve));
      if ((await ctx.untilStop(woken)) === DEADLINE) return;
      wake = undefined;
      continue;
    }
    const t = ready[next++] as Target;
    waiting--;
    await turn();
    if (!(await start(t))) return;
  }
}

/**
 * One target to its verdict: retries only to confirm a failure (a pass on a retry is degraded),
 * an attempt the prober was starved during tried again after a pause (STARVED_PAUSE_MS) and never blamed on the target, and
 * `unknown` for what the deadline cut short.
 */
async function runOne(ctx: CampaignContext, t: Target, probe: Probe): Promise<void> {
  const plan = ctx.plan(t.check, 2000);
  /** Attempts made; of them, failures that count (a starved attempt does not); starved attempts. */
  let n = 0;
  let failures = 0;
  let starved = 0;
  let firstFailure: string | undefined;
  let starvedWhy: string | undefined;
  for (;;) {
    if (ctx.stopped || ctx.remaining() < MIN_ATTEMPT_MS) {
      return ctx.settle(t, "unknown", n, undefined, {
        detail: n === 0 ? "not probed before the deadline" : `failed (${firstFailure ?? "?"}); no time left to confirm`,
      });
    }
    const wait = ctx.governor.delay(1, t.operator);
    if (wait > 0) await ctx.pause(wait);
    if (ctx.stopped) continue;
    const slots = ctx.slotsFor(t.kind);
    if (slots !== undefined && (await ctx.untilStop(slots.take())) === DEADLINE) continue;
    const timeoutMs = Math.max(1, Math.min(plan.timeoutMs, ctx.remaining()));
    // One controller per attempt, aborted by its timeout or the deadline, and
    // unhooked from the deadline afterwards so nothing outlives the attempt.
    const attempt = new AbortController();
    const abort = () => attempt.abort(ATTEMPT_OVER);
    const timer = setTimeout(abort, Math.ceil(timeoutMs));
    const unhook = ctx.whenStopped(abort);
    let obs: Observation | typeof DEADLINE;
    const attemptStart = performance.now();
    try {
      obs = await ctx.untilStop(probe.probe(t, { signal: attempt.signal, timeoutMs, bounded: true }));
    } catch (error) {
      const text = ctx.failedText(error);
      // A ProbeError is a refusal (settings, a missing CA): not a verdict on the target either way.
      const detail =
        error instanceof ProbeError
          ? `could not probe: ${text.slice(0, 300)}`
          : `the ${t.kind} probe failed (${text.slice(0, 200)}); this is a bug, not a verdict on the target`;
      return ctx.settle(t, "unknown", n + 1, undefined, { failure: "internal", detail });
    } finally {
      clearTimeout(timer);
      unhook();
      slots?.give();
    }
    if (obs === DEADLINE) return ctx.settle(t, "unknown", n, undefined, { detail: "in flight at the deadline" });
    n++;
    ctx.attempts++;
    ctx.watch.noteFailure(obs.detail);
    const j = ctx.judge(t, obs);
    // A starved prober never blames a target: an attempt that failed on time (a
    // timeout, or a condition on what it measured) while the event loop stalled
    // is not evidence. It is tried again, at most twice more; then the target is unknown.
    const stall = ctx.watch.stallSince(attemptStart);
    if ((!j.ok || j.warn) && (obs.ok || obs.failure === "timeout") && stall >= STALL_MS) {
      starved++;
      ctx.starvedAttempts++;
      starvedWhy = `the prober's event loop stalled ${Math.round(stall)} ms during the attempt (${j.detail ?? obs.failure ?? "failed"})`;
      const notJudged = () => ctx.settle(t, "unknown", n, obs, { failure: "starved", detail: `not judged: ${starved} attempts starved; last: ${starvedWhy}` });
      if (starved > MAX_STARVED_RETRIES) return notJudged();
      const pause = STARVED_PAUSE_MS * 2 ** (starved - 1) * (0.5 + Math.random());
      if (performance.now() + pause + MIN_ATTEMPT_MS > ctx.deadlineAt) return notJudged();
      await ctx.pause(pause);
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
      return ctx.settle(t, retried || j.warn ? "degraded" : "up", n, obs, { ...(detail === undefined ? {} : { detail }), failed: j.failed });
    }
    failures++;
    firstFailure ??= j.detail ?? obs.failure ?? "failed";
    if (obs.failure === "timeout" && timeoutMs < plan.timeoutMs) {
      return ctx.settle(t, "unknown", n, obs, {
        detail: `timed out after ${Math.round(timeoutMs)} ms, cut short by the deadline (the check allows ${plan.timeoutMs} ms)`,
      });
    }
    if (failures > plan.retries)
      return ctx.settle(t, "down", n, obs, {
        failure: obs.ok ? "assertion" : (obs.failure ?? "internal"),
        ...(j.detail === undefined ? {} : { detail: j.detail }),
        failed: j.failed,
      });
    const backoff = (ctx.options.retryBaseMs ?? 200) * 2 ** (failures - 1) * (0.75 + Math.random() / 2);
    if (performance.now() + backoff + MIN_ATTEMPT_MS > ctx.deadlineAt) {
      return ctx.settle(t, "unknown", n, obs, { detail: `failed (${firstFailure}); no time left to confirm` });
    }
    await ctx.pause(backoff);
  }
}
