import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  type ExpectedAlert,
  expectedLinkAlerts,
  expectedServerAlert,
  type Inventory,
  linkProbePeriod,
  notificationBound,
  REHEARSAL_TIMING,
  silencesOf,
} from "../../model/index.ts";
import { linkProbeDelay, REHEARSAL_RECEIVER_PORT, rehearsalPace } from "../../model/render/index.ts";
import { isWeakLink } from "../plan.ts";
import { cmdline, processesMentioning, stopProcesses } from "../processes.ts";
import { RECEIVER } from "../receiver.ts";
import { type ResultLine, signalOf } from "./attribution.ts";
import { compareNotifications, type NotificationOutcome, readNotifications } from "./notifications.ts";
import type { Scenario } from "./scenarios.ts";

/**
 * A drill meets monitoring: while its fault is in place, the rehearsal's
 * Prometheus and Alertmanager (the monitor role `amadegi up` provisioned) should
 * tell exactly what the rules' oracle expects, at the expected receivers, then
 * tell its resolution. The drill runs the receiver Alertmanager posts to (on the
 * monitor server's address, in the core namespace) for its own duration, and
 * reports time to notification beside time to detection.
 */

/** The drills whose faults are links: the link rules' oracle (`expectedLinkAlerts`) says what they tell. */
const LINK_SCENARIOS: ReadonlySet<Scenario> = new Set(["fiber-cut", "operator-outage", "pop-lost"]);
/**
 * The drills whose fault is one central server's service, and the one alert each should tell at
 * escalation (the rules of src/model/alerting.ts that read that check), with its `for:`.
 */
const SERVER_SCENARIOS: Readonly<Partial<Record<Scenario, { readonly alertname: string; readonly check: string; readonly for: number }>>> = {
  // nginx and the recorder stop: the monitor's HTTPS check of the gateway fails; the server still answers ping.
  "gateway-lost": { alertname: "AmadegiCentralCheckFailing", check: "gateway-https", for: REHEARSAL_TIMING.centralFor },
  "dns-down": { alertname: "AmadegiCentralCheckFailing", check: "dns-answers", for: REHEARSAL_TIMING.centralFor },
  "clock-skew": { alertname: "AmadegiClockSkew", check: "ntp-offset", for: REHEARSAL_TIMING.centralFor },
  "cert-expiring": { alertname: "AmadegiCertificateLapsesBeforeElection", check: "gateway-https", for: REHEARSAL_TIMING.certificateFor },
};
/** The central checks' probe timeout in the notification bound (at most 3 s); the links' is their prober's delay (linkProbeDelay). */
const CENTRAL_PROBE_TIMEOUT_S = 3;
const STACK_LABEL = "rehearsal";

export interface NotificationsReport {
  readonly measured: boolean;
  /** Why not (no monitor server, a scenario the oracle does not cover). */
  readonly why?: string;
  /** The timing profile the rehearsal's monitor runs on (seconds), stated with the figures. */
  readonly timing?: {
    readonly name: string;
    readonly scrapeInterval: number;
    readonly evaluationInterval: number;
    readonly linkFor: Readonly<Record<string, number>>;
    readonly causeFor: number;
    readonly stationFor: number;
    readonly groupWait: number;
    readonly groupInterval: number;
    readonly keepFiringFor: number;
  };
  readonly file?: string;
  /** The goal: the slowest expected alert's `for:` + scrape + probe timeout + 2 × evaluation + group_wait. */
  readonly boundMs?: number;
  readonly outcome?: NotificationOutcome;
}

export interface DrillReceiver {
  readonly file: string;
  stop(): Promise<void>;
}

/** Why a drill's notifications cannot be measured, or undefined when they can. */
export function notMeasured(inventory: Inventory, scenario: Scenario): string | undefined {
  if (!inventory.servers.some((s) => s.roles.includes("monitor"))) return "the inventory has no monitor server";
  if (!LINK_SCENARIOS.has(scenario) && SERVER_SCENARIOS[scenario] === undefined) return `the notifications' oracle does not cover ${scenario}`;
  // The oracle's waits are REHEARSAL_TIMING's; a larger rehearsal's monitors run slower (ADR 0013, "The rehearsal's pace").
  const pace = rehearsalPace(inventory);
  if (pace > 1)
    return `this rehearsal's monitors run ${pace} times slower than the sample's (its links exceed their pace), and the oracle waits as the sample's`;
  return undefined;
}

/** Stops a receiver an earlier drill of this state left running (killed before it could stop it); what would not stop. */
export async function stopDrillReceivers(state: string): Promise<string[]> {
  const stale = processesMentioning(`${resolve(state)}/`).filter((pid) => (cmdline(pid) ?? "").includes(RECEIVER));
  return (await stopProcesses(stale)).map((pid) => `notification receiver ${pid} would not stop`);
}

/** Starts the receiver in the core namespace on the monitor's address; a stale one of this state is stopped first. */
export async function startDrillReceiver(inventory: Inventory, core: string, state: string, dir: string): Promise<DrillReceiver | string> {
  const monitor = inventory.servers.find((s) => s.roles.includes("monitor"));
  if (monitor === undefined) return "the inventory has no monitor server";
  const stubborn = await stopDrillReceivers(state);
  if (stubborn.length > 0) return stubborn.join("; ");
  const file = join(dir, "notifications.jsonl");
  const log = join(dir, "receiver.log");
  const out = openSync(log, "a", 0o600);
  const argv = ["netns", "exec", core, process.execPath, RECEIVER, "--listen", `${monitor.address}:${REHEARSAL_RECEIVER_PORT}`, "--out", file];
  const child = spawn("ip", argv, { detached: true, stdio: ["ignore", out, out] });
  closeSync(out);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) return `the receiver did not start (see ${log})`;
  for (let i = 0; i < 50; i++) {
    const text = readFileSync(log, "utf8");
    if (text.includes("listening on")) return { file, stop: async () => void (await stopProcesses([pid])) };
    if (child.exitCode !== null) return `the receiver stopped: ${text.trim().split("\n").at(-1) ?? ""}`;
    await new Promise((r) => setTimeout(r, 100));
  }
  await stopProcesses([pid]);
  return `the receiver did not listen within 5 s (see ${log})`;
}

/**
 * What the baseline campaign found of each link's ping: down (the monitor's rules see it down too),
 * or answering but lossy: one ping a scrape then fails now and then, so its alerts, and its
 * station's, come and go on their own (`noisy`: link and station ids). Every link the rehearsal
 * makes lossy (isWeakLink) is noisy and not down, whatever the baseline saw.
 */
export function baselineLinks(inventory: Inventory, baseline: ReadonlyMap<string, ResultLine>): { down: Set<string>; noisy: Set<string> } {
  const down = new Set<string>();
  const noisy = new Set<string>();
  // The rehearsal drops a share of a weak link's pings by design (plan.ts), and answers the rest: it is
  // noisy, and never down, whatever the baseline's pings happened to meet. A 14 % link passes them
  // two times in three, and once in a while loses every one: taken for down, its station with its
  // other link cut was expected unreachable, and the monitor rightly did not say so (PKD-0135 in an
  // operator-outage drill of a fresh-clone CI run, session 18).
  const blindSpotDbm = inventory.election.policy.blindSpotDbm;
  const weak = new Set<string>();
  for (const station of inventory.stations) {
    for (const link of station.links) {
      if (!isWeakLink(link, blindSpotDbm)) continue;
      weak.add(link.id);
      noisy.add(link.id);
      noisy.add(station.id);
    }
  }
  for (const r of baseline.values()) {
    if (r.check !== "link-icmp" || r.link === undefined || weak.has(r.link)) continue;
    const signal = signalOf(r);
    if (r.status === "down" && signal !== "quality") down.add(r.link);
    else if (signal !== "ok") {
      noisy.add(r.link);
      const station = inventory.linksById.get(r.link)?.station.id;
      if (station !== undefined) noisy.add(station);
    }
  }
  return { down, noisy };
}

/**
 * The central checks the baseline campaign did not see pass (a role the rehearsal does not run,
 * `auth`'s TLS, say): their `AmadegiCentralCheckFailing` is the baseline's, whenever the monitor
 * comes to fire it. A monitor started shortly before the drill may fire it only after the fault
 * began, and it is not the fault's.
 */
export function baselineCentral(baseline: ReadonlyMap<string, ResultLine>): ExpectedAlert[] {
  const alerts: ExpectedAlert[] = [];
  for (const r of baseline.values()) {
    if (r.server === undefined || r.check === "server-icmp" || r.status === "up" || r.status === "degraded") continue;
    alerts.push(expectedServerAlert(STACK_LABEL, "AmadegiCentralCheckFailing", r.server, r.check));
  }
  return alerts;
}

export interface Expectation {
  readonly expected: readonly ExpectedAlert[];
  readonly baseline: readonly ExpectedAlert[];
  readonly noisy: ReadonlySet<string>;
  readonly boundMs: number;
}

/**
 * What the rules should tell for the fault on top of the baseline's, and how long it may take: the
 * fault's links (a link drill), or the one alert of a server's fault (`server`: the drill's target).
 */
export function expectation(
  inventory: Inventory,
  base: { readonly down: ReadonlySet<string>; readonly noisy: ReadonlySet<string>; readonly central?: readonly ExpectedAlert[] },
  faultLinks: readonly string[],
  server?: { readonly scenario: Scenario; readonly id: string },
): Expectation {
  const baselineDown = base.down;
  const during = new Set([...baselineDown, ...faultLinks]);
  // The waivers' silences the stack's up made on the monitor: what they match is never told.
  const silences = silencesOf(inventory);
  const serverAlert = server === undefined ? undefined : SERVER_SCENARIOS[server.scenario];
  const own = serverAlert === undefined || server === undefined ? [] : [expectedServerAlert(STACK_LABEL, serverAlert.alertname, server.id, serverAlert.check)];
  const expected = [...expectedLinkAlerts(inventory, STACK_LABEL, during, { silences }), ...own];
  const t = REHEARSAL_TIMING;
  const forOf = (a: ExpectedAlert): number => {
    if (a.alertname === "AmadegiOperatorOutage" || a.alertname === "AmadegiPopLost") return t.causeFor;
    if (a.alertname === "AmadegiStationUnreachable") return t.stationFor;
    const medium = inventory.linksById.get(a.id)?.link.medium;
    return medium === undefined ? Math.max(...Object.values(t.linkFor)) : t.linkFor[medium];
  };
  // The drill's own server alert stays the fault's, even where its check already failed.
  const central = (base.central ?? []).filter((a) => !own.some((o) => o.alertname === a.alertname && o.id === a.id));
  const baseline = [...expectedLinkAlerts(inventory, STACK_LABEL, baselineDown, { silences }), ...central];
  // The goal is the fault's own alerts': the baseline's were told (or not) before it.
  const before = new Set(baseline.map((a) => `${a.alertname}/${a.id}`));
  const links = expected.filter((a) => !own.includes(a) && !before.has(`${a.alertname}/${a.id}`) && !base.noisy.has(a.id));
  const bound = Math.max(
    notificationBound(t, Math.max(0, ...links.map(forOf)), linkProbeDelay(inventory, t)),
    serverAlert === undefined ? 0 : notificationBound(t, serverAlert.for, CENTRAL_PROBE_TIMEOUT_S),
  );
  return { expected, baseline, noisy: base.noisy, boundMs: bound * 1000 };
}

/**
 * Waits until every expected alert was told (or, with `restoreAt`, resolved), then a `group_wait`
 * more for anything told besides; or until `deadline`.
 */
export async function awaitNotifications(
  file: string,
  e: Expectation,
  times: { readonly faultAt: number; readonly restoreAt?: number },
  deadline: number,
  interrupted: () => boolean,
): Promise<NotificationOutcome> {
  const read = () => compareNotifications(e.expected, e.baseline, readNotifications(file), times, e.noisy);
  for (;;) {
    const outcome = read();
    const done = times.restoreAt === undefined ? outcome.timeToNotificationMs !== undefined : outcome.timeToResolutionMs !== undefined;
    if (done || Date.now() > deadline || interrupted()) {
      if (done && times.restoreAt === undefined) await new Promise((r) => setTimeout(r, REHEARSAL_TIMING.groupWait * 1000));
      return read();
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * How long to hold the fault for its notifications, and to wait for their resolution. The bound is
 * the group's first notification; an alert that starts firing just after it (its target scraped
 * later in the interval, or evaluated a round later) joins the group and is told at the group's next
 * flush, up to one `group_interval` later. So the fault is held for that too, and a margin: a drill
 * that restored before a straggler was told would report it as never told.
 */
export function waits(e: Expectation): { readonly notifyMs: number; readonly resolveMs: number } {
  const t = REHEARSAL_TIMING;
  return {
    notifyMs: e.boundMs + t.groupInterval * 1000 + 20_000,
    // A link's recovery, like its failure, reaches Prometheus up to a prober's round later (linkProbePeriod).
    resolveMs: (t.keepFiringFor + t.groupInterval + 2 * t.scrapeInterval + linkProbePeriod(t) + 2 * t.evaluationInterval) * 1000 + 20_000,
  };
}

export function timingOfReport(): NonNullable<NotificationsReport["timing"]> {
  const t = REHEARSAL_TIMING;
  return {
    name: t.name,
    scrapeInterval: t.scrapeInterval,
    evaluationInterval: t.evaluationInterval,
    linkFor: t.linkFor,
    causeFor: t.causeFor,
    stationFor: t.stationFor,
    groupWait: t.groupWait,
    groupInterval: t.groupInterval,
    keepFiringFor: t.keepFiringFor,
  };
}
