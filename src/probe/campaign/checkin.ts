import { STALL_MS } from "../selfwatch.ts";
import type { Observation, Target } from "../types.ts";
import { type CampaignContext, DEADLINE, MIN_ATTEMPT_MS, turns } from "./context.ts";
import type { CheckinSource } from "./types.ts";

/** Reads of a gateway's check-ins tried again after a timeout: the read is data, not a verdict. */
const CHECKIN_READ_RETRIES = 2;

/** Failures that say a gateway is down or cut off (its devices' check-ins are then `unreachable`), not that it could not be read. */
const GATEWAY_DOWN: ReadonlySet<string> = new Set(["timeout", "refused", "reset", "no-route"]);

/** One gateway's table as read in this campaign: the latest observation per station/link, or why it could not be read. */
interface GatewayRead {
  readonly name: string;
  readonly failure?: Observation;
  readonly latest: ReadonlyMap<string, Observation>;
  /** Rejected attempts per station/link (issue 17): security events, never check-ins. */
  readonly attempts: ReadonlyMap<string, Attempts>;
}

interface Attempts {
  readonly count: number;
  readonly latest: { readonly time: string; readonly detail: string };
}

/** The keys of `gatewaysOf(t)` (their one home), without building the targets: most devices share gateways already known. */
function gatewayKeys(t: Target): [string] | [string, string] {
  const primary = `${t.check}/${String(t.params.gateway ?? t.address)}`;
  const { secondary, secondaryAddress } = t.params;
  return typeof secondary === "string" && typeof secondaryAddress === "string" ? [primary, `${t.check}/${secondary}`] : [primary];
}

/**
 * The gateways whose records may hold a device's check-ins, as reader targets: its station's
 * primary and secondary (a device that failed over checks in at the secondary; issue 17).
 */
export function gatewaysOf(t: Target): Target[] {
  const keep = (params: Target["params"]) => Object.fromEntries(Object.entries(params).filter(([k]) => ["hostKey", "user", "table", "maxBytes"].includes(k)));
  const [primaryKey, secondaryKey] = gatewayKeys(t);
  const primary: Target = {
    key: primaryKey,
    check: t.check,
    kind: "checkin",
    ...(typeof t.params.gateway === "string" ? { server: t.params.gateway } : {}),
    address: t.address,
    ...(t.port === undefined ? {} : { port: t.port }),
    params: keep(t.params),
  };
  const { secondary, secondaryAddress, secondaryPort } = t.params;
  if (secondaryKey === undefined || typeof secondary !== "string" || typeof secondaryAddress !== "string") return [primary];
  const params: Record<string, string | number> = {};
  for (const [from, to] of [
    ["secondaryHostKey", "hostKey"],
    ["secondaryUser", "user"],
    ["secondaryTable", "table"],
    ["maxBytes", "maxBytes"],
  ] as const) {
    const value = t.params[from];
    if (typeof value === "string" || typeof value === "number") params[to] = value;
  }
  return [
    primary,
    {
      key: secondaryKey,
      check: t.check,
      kind: "checkin",
      server: secondary,
      address: secondaryAddress,
      ...(typeof secondaryPort === "number" ? { port: secondaryPort } : {}),
      params,
    },
  ];
}

/**
 * Check-ins: every gateway a device's station may reach (primary and secondary) is read once (its
 * table of the latest check-in per link), and each device link is judged on its latest record in any of them. No
 * record anywhere is a failed condition; with none found, a gateway that is down leaves the link
 * `unreachable` naming it, and one that answers but cannot be read leaves it `unknown` (it may hold
 * the check-in).
 */
export async function runCheckins(ctx: CampaignContext, targets: readonly Target[]): Promise<void> {
  const source = ctx.options.probes.checkin;
  const readers = new Map<string, Target>();
  const devices: { target: Target; gateways: string[] }[] = [];
  const turn = turns();
  for (const t of targets) {
    // 133,000 devices at national size, beside lanes whose probes are timed: a turn for them now and then.
    await turn();
    if (ctx.blocked(t)) continue;
    if (source === undefined) {
      ctx.missing(t, "check-in reader");
      continue;
    }
    const keys = gatewayKeys(t);
    if (keys.some((k) => !readers.has(k))) for (const g of gatewaysOf(t)) if (!readers.has(g.key)) readers.set(g.key, g);
    devices.push({ target: t, gateways: keys });
    ctx.inFlight.set(t.key, t);
  }
  if (source === undefined) return;
  // Each device link is judged as soon as the last of its gateways has been read, not after every
  // gateway: at national size judging 133,000 links after the 264 reads took another 14–19 s,
  // beside the links' TCP probes (issue 20).
  const waitingFor = new Map<string, number[]>();
  const unread = devices.map(({ gateways }, i) => {
    for (const k of gateways) {
      const list = waitingFor.get(k);
      if (list === undefined) waitingFor.set(k, [i]);
      else list.push(i);
    }
    return gateways.length;
  });
  const reads = new Map<string, GatewayRead>();
  await Promise.all(
    // Each read waits for an SSH slot (SSH_AT_ONCE), never for the governor's in-flight limit, which the probes beside it need.
    [...readers].map(async ([key, gateway]) => {
      const read = await readGateway(ctx, source, gateway);
      if (read !== undefined) reads.set(key, read);
      // A device link judged, written and counted each (a read cut short counts as read: its devices' records may be elsewhere),
      // with a turn for timers and I/O now and then.
      const own = turns();
      for (const i of waitingFor.get(key) ?? []) {
        if (--(unread[i] as number) > 0) continue;
        await own();
        const { target, gateways } = devices[i] as (typeof devices)[number];
        settleDevice(
          ctx,
          target,
          gateways.map((k) => ({ key: k, read: reads.get(k) })),
        );
      }
    }),
  );
}

/** When a record was written (CHECKIN_AT, to the millisecond; CHECKIN_AGE is rounded to 36 s), for the freshest of two gateways'. */
function recordedAt(obs: Observation): number {
  const at = typeof obs.values.CHECKIN_AT === "string" ? Date.parse(obs.values.CHECKIN_AT) : Number.NaN;
  if (!Number.isNaN(at)) return at;
  const age = Number(obs.values.CHECKIN_AGE);
  return Number.isFinite(age) ? Date.now() - age * 3_600_000 : Number.NEGATIVE_INFINITY;
}

/** A device link's verdict from what its gateways' records say; left in flight (unknown) when a read was cut short and nothing was found. */
function settleDevice(ctx: CampaignContext, t: Target, reads: readonly { key: string; read: GatewayRead | undefined }[]): void {
  const key = `${t.station ?? ""}/${t.link ?? ""}`;
  let freshest: { obs: Observation; at: number } | undefined;
  for (const { read } of reads) {
    const obs = read?.latest.get(key);
    if (obs === undefined) continue;
    const at = recordedAt(obs);
    if (freshest === undefined || at > freshest.at) freshest = { obs, at };
  }
  // Rejected attempts at this link, at either gateway: shown with the verdict (a security event), never counted as a check-in.
  let rejected: Attempts | undefined;
  for (const { read } of reads) {
    const a = read?.attempts.get(key);
    if (a !== undefined) rejected = addAttempts(rejected, a);
  }
  const security = rejected === undefined ? "" : `; ${rejected.count} rejected attempt${rejected.count === 1 ? "" : "s"} (latest: ${rejected.latest.detail})`;
  if (freshest !== undefined) {
    const obs: Observation = {
      ...freshest.obs,
      values: {
        ...freshest.obs.values,
        REJECTED_ATTEMPTS: rejected?.count ?? 0,
        ...(rejected === undefined ? {} : { REJECTED_LATEST: rejected.latest.detail }),
      },
    };
    const j = ctx.judge(t, obs);
    const detail = j.detail === undefined ? (security === "" ? undefined : security.slice(2)) : `${j.detail}${security}`;
    ctx.settle(t, j.ok ? (j.warn ? "degraded" : "up") : "down", 1, obs, {
      ...(j.ok ? {} : { failure: "assertion" }),
      ...(detail === undefined ? {} : { detail }),
      failed: j.failed,
    });
    return;
  }
  // Nothing found: a read the deadline or an interruption cut short leaves the device in flight (unknown).
  const done = reads.map((r) => r.read).filter((r): r is GatewayRead => r !== undefined);
  if (done.length < reads.length) return;
  const names = done.map((r) => r.name);
  const failed = done.filter((r) => r.failure !== undefined);
  if (failed.length === 0) {
    ctx.settle(t, "down", 1, undefined, {
      failure: "assertion",
      detail:
        `no check-in from device ${String(t.params.serial ?? "?")} over link ${t.link ?? "?"} ` +
        `in the records of gateway${names.length > 1 ? "s" : ""} ${names.join(" and ")}${security}`,
    });
    return;
  }
  const down = failed.filter((r) => GATEWAY_DOWN.has(r.failure?.failure ?? ""));
  const first = (down[0] ?? failed[0]) as GatewayRead;
  const failure = first.failure as Observation;
  const why = failed.map((r) => `gateway ${r.name} ${down.includes(r) ? "is unreachable" : "could not be read"}: ${r.failure?.detail ?? "failed"}`).join("; ");
  const found =
    done.length > failed.length
      ? `; no record in ${done
          .filter((r) => r.failure === undefined)
          .map((r) => r.name)
          .join(" and ")}`
      : "";
  ctx.watch.noteFailure(failure.detail);
  ctx.settle(t, down.length > 0 ? "unreachable" : "unknown", 1, failure, {
    ...(failure.failure === undefined ? {} : { failure: failure.failure }),
    detail: `${why}${found}`,
  });
}

/** One gateway's table, read once (again after a timeout); undefined when the campaign stopped first. */
async function readGateway(ctx: CampaignContext, source: CheckinSource, gateway: Target): Promise<GatewayRead | undefined> {
  const plan = ctx.plan(gateway.check, 5000);
  const name = gateway.server ?? gateway.address;
  for (let tries = 0; ; tries++) {
    const remaining = ctx.remaining();
    if (ctx.stopped || remaining < MIN_ATTEMPT_MS) return undefined;
    const wait = ctx.governor.delay(1, undefined);
    if (wait > 0) await ctx.pause(wait);
    // A read is an ssh here and an sshd there: it waits for a slot (never part of its timeout), as an SSH probe does.
    const slots = ctx.slotsFor(gateway.kind);
    if (slots !== undefined && (await ctx.untilStop(slots.take())) === DEADLINE) return undefined;
    const readStart = performance.now();
    let batch: Awaited<ReturnType<CheckinSource["read"]>> | typeof DEADLINE;
    try {
      batch = await ctx
        .untilStop(source.read(gateway, { signal: ctx.stop.signal, timeoutMs: Math.min(plan.timeoutMs, ctx.remaining()) }))
        .catch((error: unknown) => ({
          observation: { ok: false, failure: "internal", detail: ctx.failedText(error).slice(0, 300), timings: { total: 0 }, values: {} } as Observation,
          observations: new Map<string, Observation>(),
          attempts: new Map<string, Attempts>(),
        }));
    } finally {
      slots?.give();
    }
    if (batch === DEADLINE) return undefined;
    ctx.attempts++;
    if (batch.observation.ok) return { name, latest: batch.observations, attempts: batch.attempts ?? new Map() };
    // A read that timed out (a slow login on a busy gateway or prober) is
    // tried again: the table is data, and a lost read would leave every
    // device on the gateway unknown.
    if (batch.observation.failure !== "timeout" || tries >= CHECKIN_READ_RETRIES || ctx.stopped)
      return { name, failure: batch.observation, latest: new Map(), attempts: new Map() };
    if (ctx.watch.stallSince(readStart) >= STALL_MS) ctx.starvedAttempts++;
    await ctx.pause((ctx.options.retryBaseMs ?? 200) * 2 ** tries);
  }
}

function addAttempts(a: Attempts | undefined, b: Attempts): Attempts {
  if (a === undefined) return b;
  return { count: a.count + b.count, latest: Date.parse(b.latest.time) >= Date.parse(a.latest.time) ? b.latest : a.latest };
}
