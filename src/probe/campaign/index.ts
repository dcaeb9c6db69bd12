import { randomUUID } from "node:crypto";
import { ProbeError } from "../../lib/errors.ts";
import { planPhases } from "../phases.ts";
import { CampaignProgress } from "../progress.ts";
import type { CampaignFooter } from "../results.ts";
import { runCheckins } from "./checkin.ts";
import { CampaignContext, DEADLINE } from "./context.ts";
import { runIcmp } from "./icmp.ts";
import { runSingles } from "./single.ts";
import type { CampaignOptions, CampaignReport } from "./types.ts";

export type * from "./types.ts";

/**
 * A one-shot campaign to a deadline: the ICMP sweep, then the other probes;
 * bounded concurrency under a rate governor; retries only to confirm a
 * failure (a pass on a retry is degraded); `unreachable` behind a down
 * upstream; `unknown` for whatever the deadline left unprobed, never down.
 * Results stream to a JSON-lines file as they come and are not kept. The
 * campaign watches itself and marks its run invalid when it was starved.
 *
 *   types.ts    what a campaign is given and what it reports
 *   context.ts  what the lanes share: the deadline, the governor, settle, blocked, judge
 *   icmp.ts     the ICMP sweep (fping batches)
 *   checkin.ts  the devices' check-ins, read gateway by gateway
 *   single.ts   one probe per target (tcp, tls, http, dns, ntp, ssh)
 */
export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const id = options.id ?? randomUUID();
  // Safety first: every target is checked against probe.allow before any packet.
  refuseOutsideAllow(options);
  for (const t of options.targets) {
    if (!options.checks.has(t.check))
      throw new ProbeError(`target ${t.key} names check ${t.check}, which the campaign was not given`, {
        hint: "build targets and checks from the same catalog",
      });
  }

  const ctx = new CampaignContext(options, id);
  const { stop, watch, tally, governor, writer, settled, inFlight, started, startedAt, deadlineAt } = ctx;
  const deadlineTimer = setTimeout(() => stop.abort(DEADLINE), Math.max(0, deadlineAt - performance.now()));
  const onInterrupt = () => stop.abort("interrupted");
  options.signal?.addEventListener("abort", onInterrupt, { once: true });
  if (options.signal?.aborted === true) stop.abort("interrupted");
  const progress = new CampaignProgress(options.progress);

  watch.start();
  progress.start(() => ({ counts: tally.total, done: tally.done, total: options.targets.length, deadlineAt }));
  try {
    const phases = planPhases(options.targets);
    for (const [index, phase] of phases.entries()) {
      if (stop.signal.aborted) break;
      progress.phase(index, phases.length, phase);
      if (phase.icmp.length > 0) await runIcmp(ctx, phase.icmp);
      const checkins = phase.other.filter((t) => t.kind === "checkin");
      const running = new Set<Promise<void>>();
      if (checkins.length > 0) {
        const p = runCheckins(ctx, checkins).finally(() => running.delete(p));
        running.add(p);
      }
      await runSingles(
        ctx,
        phase.other.filter((t) => t.kind !== "checkin"),
        running,
      );
      await ctx.untilStop(Promise.all(running));
    }
  } finally {
    clearTimeout(deadlineTimer);
    options.signal?.removeEventListener("abort", onInterrupt);
    watch.stop();
    progress.stop();
  }
  const interrupted = stop.signal.reason === "interrupted";
  const why = interrupted ? "interrupted before it was probed" : "not probed before the deadline";
  for (const t of inFlight.values())
    ctx.settle(t, "unknown", 0, undefined, { detail: interrupted ? "in flight when interrupted" : "in flight at the deadline" });
  for (const t of options.targets) if (!settled.has(t.key)) ctx.settle(t, "unknown", 0, undefined, { detail: why });
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
    attempts: ctx.attempts,
    maxLagMs: Math.round(watch.maxLagMs),
    loopDelay: watch.loopDelay(),
    starvedAttempts: ctx.starvedAttempts,
    lowestConcurrency: governor.lowest,
    ...(watch.cpuStalledMs === undefined ? {} : { cpuPressure: Math.round((watch.cpuStalledMs / Math.max(1, performance.now() - started)) * 1000) / 1000 }),
    summary,
  };
}

/** Every target through the network-safety guard before any packet: one refused, and nothing is sent. */
function refuseOutsideAllow(options: CampaignOptions): void {
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
}
