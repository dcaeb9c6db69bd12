import { STALL_MS } from "../selfwatch.ts";
import type { Observation, Target } from "../types.ts";
import { type CampaignContext, DEADLINE, MIN_ATTEMPT_MS } from "./context.ts";
import type { CheckinSource } from "./types.ts";

/** Reads of a gateway's check-ins tried again after a timeout: the read is data, not a verdict. */
const CHECKIN_READ_RETRIES = 2;
/** Chunks read from one gateway's log at most, per campaign. */
const MAX_READS = 1000;

/**
 * Check-ins: device targets grouped by the gateway that records them; the gateway's log is read
 * once (in chunks, to the end) and each device link is judged on its latest record. No record
 * over a link is a failed condition; an unreadable gateway leaves its devices unknown (they may
 * have checked in).
 */
export async function runCheckins(ctx: CampaignContext, targets: readonly Target[]): Promise<void> {
  const source = ctx.options.probes.checkin;
  const byGateway = new Map<string, Target[]>();
  for (const t of targets) {
    if (ctx.blocked(t)) continue;
    if (source === undefined) {
      ctx.missing(t, "check-in reader");
      continue;
    }
    const gw = `${String(t.params.gateway ?? t.address)}\u0000${t.check}`;
    let list = byGateway.get(gw);
    if (list === undefined) byGateway.set(gw, (list = []));
    list.push(t);
  }
  if (source === undefined) return;
  await Promise.all(
    [...byGateway.values()].map(async (devices) => {
      if ((await ctx.untilStop(ctx.governor.acquire())) === DEADLINE) return;
      try {
        await readGateway(ctx, source, devices);
      } finally {
        ctx.governor.release();
      }
    }),
  );
}

/** One gateway's records, read to the end, and a verdict for each of its devices. */
async function readGateway(ctx: CampaignContext, source: CheckinSource, devices: readonly Target[]): Promise<void> {
  const first = devices[0];
  if (first === undefined) return;
  const plan = ctx.plan(first.check, 5000);
  const gateway: Target = {
    key: `${first.check}/${String(first.params.gateway ?? first.address)}`,
    check: first.check,
    kind: "checkin",
    ...(typeof first.params.gateway === "string" ? { server: first.params.gateway } : {}),
    address: first.address,
    ...(first.port === undefined ? {} : { port: first.port }),
    params: Object.fromEntries(Object.entries(first.params).filter(([k]) => ["hostKey", "user", "log", "maxBytes"].includes(k))),
  };
  for (const t of devices) ctx.inFlight.set(t.key, t);
  const latest = new Map<string, Observation>();
  let cursor: { inode: string; offset: number } | undefined;
  let failure: Observation | undefined;
  let tries = 0;
  for (let reads = 0; reads < MAX_READS; reads++) {
    const remaining = ctx.remaining();
    if (ctx.stopped || remaining < MIN_ATTEMPT_MS) return;
    const wait = ctx.governor.delay(1, undefined);
    if (wait > 0) await ctx.pause(wait);
    const readStart = performance.now();
    const batch = await ctx
      .untilStop(source.read(gateway, cursor, { signal: ctx.stop.signal, timeoutMs: Math.min(plan.timeoutMs, remaining) }))
      .catch((error: unknown) => ({
        observation: { ok: false, failure: "internal", detail: ctx.failedText(error).slice(0, 300), timings: { total: 0 }, values: {} } as Observation,
        cursor,
        observations: new Map<string, Observation>(),
      }));
    if (batch === DEADLINE) return;
    ctx.attempts++;
    if (!batch.observation.ok) {
      // A read that timed out (a slow login on a busy gateway or prober) is
      // tried again: the records are data, and a lost read would leave every
      // device on the gateway unknown.
      if (batch.observation.failure === "timeout" && tries < CHECKIN_READ_RETRIES && !ctx.stopped) {
        tries++;
        if (ctx.watch.stallSince(readStart) >= STALL_MS) ctx.starvedAttempts++;
        await ctx.pause((ctx.options.retryBaseMs ?? 200) * 2 ** (tries - 1));
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
      ctx.watch.noteFailure(failure.detail);
      ctx.settle(t, "unknown", 1, failure, {
        ...(failure.failure === undefined ? {} : { failure: failure.failure }),
        detail: `could not read the check-ins of gateway ${gateway.server ?? gateway.address}: ${failure.detail ?? "failed"}`,
      });
      continue;
    }
    const obs = latest.get(`${t.station ?? ""}/${t.link ?? ""}`);
    if (obs === undefined) {
      ctx.settle(t, "down", 1, undefined, {
        failure: "assertion",
        detail:
          `no check-in from device ${String(t.params.serial ?? "?")} over link ${t.link ?? "?"} ` + `in gateway ${gateway.server ?? gateway.address}'s records`,
      });
      continue;
    }
    const j = ctx.judge(t, obs);
    ctx.settle(t, j.ok ? (j.warn ? "degraded" : "up") : "down", 1, obs, {
      ...(j.ok ? {} : { failure: "assertion" }),
      ...(j.detail === undefined ? {} : { detail: j.detail }),
      failed: j.failed,
    });
  }
}
