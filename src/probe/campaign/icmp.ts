import { forEachLimited } from "../../lib/pool.ts";
import type { BatchProbe, Observation, Target } from "../types.ts";
import { type CampaignContext, DEADLINE, MIN_ATTEMPT_MS, turns } from "./context.ts";
import type { CheckPlan } from "./types.ts";

/** A host that failed a round: tried again next round, or settled down / unknown after the last. */
interface Failed {
  readonly t: Target;
  readonly obs: Observation;
  readonly why: string;
}

/**
 * The ICMP sweep: targets batched per check (each check has its own count, timeout and
 * conditions), a few fping processes at once sharing the campaign's send rate, and the hosts
 * that failed a round swept again until the check's retries are spent.
 */
export async function runIcmp(ctx: CampaignContext, targets: readonly Target[]): Promise<void> {
  const source = ctx.options.probes.icmp;
  const byCheck = new Map<string, Target[]>();
  for (const t of targets) {
    if (ctx.blocked(t)) continue;
    let list = byCheck.get(t.check);
    if (list === undefined) byCheck.set(t.check, (list = []));
    list.push(t);
  }
  for (const [check, list] of byCheck) {
    const plan = ctx.plan(check, 1000);
    const count = typeof list[0]?.params.count === "number" ? list[0].params.count : 3;
    if (source === undefined) {
      for (const t of list) ctx.missing(t, "icmp probe");
      continue;
    }
    const parallel = Math.max(1, ctx.options.icmpParallel ?? 2);
    // fping numbers its requests in 16 bits: hosts × count per process must stay below 65,536.
    const size = Math.max(1, Math.min(Math.floor(60_000 / count), ctx.options.icmpBatch ?? Math.max(1000, Math.ceil(list.length / (parallel * 2)))));
    // The send rate: the global ceiling shared by the parallel fping processes.
    const intervalMs = (1000 * parallel) / (ctx.options.maxRate * count);
    const probe = typeof source === "function" ? source({ count, intervalMs }) : source;
    let pending = list;
    for (let round = 0; pending.length > 0 && !ctx.stopped; round++) {
      const failed: Failed[] = [];
      const batches = Array.from({ length: Math.ceil(pending.length / size) }, (_, i) => pending.slice(i * size, (i + 1) * size));
      await forEachLimited(
        batches,
        parallel,
        (batch) => icmpBatch(ctx, probe, batch, plan, round, failed),
        () => ctx.stopped,
      );
      if (failed.length === 0) break;
      const last = round >= plan.retries;
      const backoff = (ctx.options.retryBaseMs ?? 200) * 2 ** round;
      if (last || performance.now() + backoff + plan.timeoutMs > ctx.deadlineAt) {
        const turn = turns();
        for (const f of failed) {
          await turn();
          if (last) ctx.settle(f.t, "down", round + 1, f.obs, { failure: f.obs.ok ? "assertion" : (f.obs.failure ?? "timeout"), detail: f.why });
          else ctx.settle(f.t, "unknown", round + 1, f.obs, { detail: `failed (${f.why}); no time left to confirm` });
        }
        break;
      }
      await ctx.pause(backoff);
      pending = failed.map((f) => f.t);
    }
  }
}

/** One fping process's batch: judged host by host; the hosts that failed go to `failed`. */
async function icmpBatch(ctx: CampaignContext, probe: BatchProbe, batch: readonly Target[], plan: CheckPlan, round: number, failed: Failed[]): Promise<void> {
  const perOperator = new Map<string | undefined, number>();
  for (const t of batch) perOperator.set(t.operator, (perOperator.get(t.operator) ?? 0) + 1);
  let wait = 0;
  for (const [op, n] of perOperator) wait = Math.max(wait, ctx.governor.delay(n, op));
  if (wait > 0) await ctx.pause(wait);
  const remaining = ctx.remaining();
  if (ctx.stopped || remaining < MIN_ATTEMPT_MS) return;
  for (const t of batch) ctx.inFlight.set(t.key, t);
  let observations: Map<string, Observation> | typeof DEADLINE;
  try {
    observations = await ctx.untilStop(probe.probeAll(batch, { signal: ctx.stop.signal, timeoutMs: Math.min(plan.timeoutMs, remaining) }));
  } catch (error) {
    const text = ctx.failedText(error);
    for (const t of batch) ctx.settle(t, "unknown", round + 1, undefined, { failure: "internal", detail: `the icmp batch failed (${text.slice(0, 200)})` });
    return;
  }
  if (observations === DEADLINE) return;
  const cut = ctx.stopped;
  const turn = turns();
  for (const t of batch) {
    await turn();
    const obs = observations.get(t.key);
    ctx.attempts++;
    if (obs === undefined) {
      ctx.settle(t, "unknown", round + 1, undefined, { failure: "internal", detail: "not measured: fping's report did not include this host" });
      continue;
    }
    ctx.watch.noteFailure(obs.detail);
    const j = ctx.judge(t, obs);
    if (j.ok) {
      const detail = round > 0 ? `passed on attempt ${round + 1}` : j.warn ? j.failed.join("; ") : undefined;
      ctx.settle(t, round > 0 || j.warn ? "degraded" : "up", round + 1, obs, { ...(detail === undefined ? {} : { detail }), failed: j.failed });
    } else if (cut) {
      // fping was stopped by the deadline: a missing reply proves nothing.
      ctx.settle(t, "unknown", round + 1, obs, { detail: "the icmp sweep was cut short by the deadline" });
    } else {
      ctx.inFlight.delete(t.key);
      failed.push({ t, obs, why: j.detail ?? obs.failure ?? "no reply" });
    }
  }
}
