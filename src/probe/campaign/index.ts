import { randomUUID } from "node:crypto";
import { ProbeError } from "../../lib/errors.ts";
import { checkOfKey, type Phase, planPhases } from "../phases.ts";
import { CampaignProgress } from "../progress.ts";
import type { CampaignFooter } from "../results.ts";
import { runCheckins } from "./checkin.ts";
import { CampaignContext, DEADLINE } from "./context.ts";
import type { Target } from "../types.ts";
import { runIcmp } from "./icmp.ts";
import { runSingles } from "./single.ts";
import type { CampaignOptions, CampaignReport } from "./types.ts";

export type * from "./types.ts";

/**
 * A one-shot campaign to a deadline: the ICMP sweep with the check-in reads beside it, then the other probes side by side, each target after its upstreams;
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
    await runLanes(ctx, progress);
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
    spans: ctx.spans.list(),
  };
}

/**
 * The ICMP sweep first, and beside it only the gateways' check-in reads; then the rest side by
 * side, each target held back only by its own upstreams: the rest of the ICMP checks and the probes
 * one per target. At national size the phases one after another took the sum of their times (about
 * 300 s); side by side the lanes take about the longest one's (issue 20).
 *
 * The sweep does not share the machine with the other probes because fping sends its packets a
 * fraction of a millisecond apart and times the replies: beside the TCP lane on a busy machine it
 * was starved of CPU and its socket overflowed, and reported 14,397 links down and 46,691 degraded
 * where the sweep alone found 2,702 down and 2,040 degraded (ADR 0014). Beside the servers' key
 * scans (each a post-quantum key exchange, 40–50 ms of CPU) it sent late: the national sweep took
 * 47–51 s instead of 40. The check-in reads, SSH_AT_ONCE sessions at a time over a classical key
 * exchange (ADR 0015), cost it little, and no longer hold the campaign's end (ADR 0022).
 */
async function runLanes(ctx: CampaignContext, progress: CampaignProgress): Promise<void> {
  const phases = planPhases(ctx.options.targets);
  const phaseOf = new Map<string, number>();
  for (const [index, phase] of phases.entries()) for (const t of [...phase.icmp, ...phase.other]) phaseOf.set(t.check, index);
  /** The sweep: the leading phases of ICMP checks that depend on nothing but ICMP. */
  let sweep = 0;
  while (sweep < phases.length && phases[sweep]?.other.length === 0) sweep++;
  const rest = phases.slice(sweep);
  /** What targets of phase `own` wait for: their upstreams in earlier phases not settled yet (a cycle, which no valid catalog has, never waits). */
  const unsettled = (own: number, keys: Iterable<string>): Promise<void> | undefined => {
    const earlier = [...keys].filter((k) => (phaseOf.get(checkOfKey(k)) ?? own) < own);
    return earlier.length === 0 ? undefined : ctx.whenSettled(earlier);
  };
  /** A lane that runs a phase's targets together (ICMP batches, the gateways' reads), once all of their upstreams have settled. */
  const together = async (pick: (phase: Phase) => Target[], run: (targets: Target[]) => Promise<void>): Promise<void> => {
    for (const phase of rest) {
      const targets = pick(phase);
      if (targets.length === 0) continue;
      const wait = unsettled(phaseOf.get(targets[0]?.check ?? "") ?? 0, new Set(targets.flatMap((t) => t.dependsOn ?? [])));
      if (wait !== undefined && (await ctx.untilStop(wait)) === DEADLINE) return;
      if (ctx.stopped) return;
      progress.started(targets);
      await run(targets);
    }
  };
  const checkins = together(
    (phase) => phase.other.filter((t) => t.kind === "checkin"),
    (targets) => runCheckins(ctx, targets),
  );
  // Its failure is awaited below; until then it must not count as unhandled.
  void checkins.catch(() => undefined);
  try {
    for (const phase of phases.slice(0, sweep)) {
      if (ctx.stopped) break;
      progress.started(phase.icmp);
      await runIcmp(ctx, phase.icmp);
    }
  } catch (error) {
    // No check-in read goes on behind a sweep that failed.
    ctx.stop.abort("failed");
    await Promise.allSettled([checkins]);
    throw error;
  }
  const singles = rest.flatMap((p) => p.other.filter((t) => t.kind !== "checkin"));
  const running = new Set<Promise<void>>();
  await Promise.all([
    checkins,
    together(
      (phase) => phase.icmp,
      (targets) => runIcmp(ctx, targets),
    ),
    (async () => {
      if (ctx.stopped || singles.length === 0) return;
      progress.started(singles);
      await runSingles(ctx, singles, running, (t) => unsettled(phaseOf.get(t.check) ?? 0, t.dependsOn ?? []));
      await ctx.untilStop(Promise.all(running));
    })(),
  ]);
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
