import { existsSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ToolError, UsageError } from "../../lib/errors.ts";
import { writeFileAtomic } from "../../lib/fs.ts";
import { formatFinding, type Inventory, loadInventory, readPins, serverReach } from "../../model/index.ts";
import { ELECTION_ZONE, GATEWAY_FILES, pkiServer, rooted } from "../../model/render/index.ts";
import type { CheckinCursor } from "../../probe/probes/checkin.ts";
import { readResults } from "../../probe/results.ts";
import { readStackSettings } from "../../probe/stackconfig.ts";
import { readMarker, withRehearsalLock } from "../marker.ts";
import { planRehearsal, type Plan } from "../plan.ts";
import { alive, cmdline } from "../processes.ts";
import { layout } from "../sshd.ts";
import { rehearsalStatus } from "../status.ts";
import { attribute, byKey, compare, type ResultLine, signalOf } from "./attribution.ts";
import { rehearsalAuthority } from "./cert.ts";
import { applyAction, leftovers, undoAction } from "./inject.ts";
import { readDrillMarker, removeDrillMarker, writeDrillMarker } from "./marker.ts";
import {
  awaitNotifications,
  baselineCentral,
  baselineLinks,
  type DrillReceiver,
  expectation,
  notMeasured,
  type NotificationsReport,
  startDrillReceiver,
  stopDrillReceivers,
  timingOfReport,
  waits,
} from "./monitoring.ts";
import type { NotificationOutcome } from "./notifications.ts";
import { type GatewayLog, type ProbeAnswer, probeFrom } from "./probe.ts";
import { type CampaignRef, type DrillReport, spread, summarise } from "./report.ts";
import { type Action, type FaultPlan, planFaults, type Scenario } from "./scenarios.ts";
import { drillScope, type Scope } from "./scope.ts";
import { ResponderWatch, settled, type StationOutcome, stationOutcomes } from "./watch.ts";

export interface DrillOptions {
  /** The rehearsal's state directory. */
  readonly stateDir: string;
  /** The inventory (default: the one the rehearsal was built from, as its marker says). */
  readonly inventory?: string;
  readonly stack: string;
  readonly stacksDir: string;
  readonly checks: string;
  readonly scenario: Scenario;
  readonly share: number;
  readonly target?: string;
  readonly district?: string;
  /** Each campaign's deadline. */
  readonly deadlineMs: number;
  /** The environment (the cert drill reads the stack's CA with the Pulumi CLI in it). */
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: (line: string) => void;
}

interface Context {
  readonly state: string;
  readonly inventory: Inventory;
  readonly inventoryPath: string;
  readonly plan: Plan;
  readonly pins: ReturnType<typeof readPins>;
  readonly allow: readonly string[];
  readonly netns: string;
}

function drillsDir(state: string): string {
  return join(state, "drills");
}

/**
 * A drill that ran before and crashed left faults behind: undo what its marker
 * names (`amadegi drill --restore`). Under the state directory's lock: never
 * while a drill (or up, down, devices) runs on this rehearsal.
 */
export async function restoreLeftovers(stateDir: string, log: (line: string) => void = () => undefined): Promise<{ restored: boolean; leftovers: string[] }> {
  return withRehearsalLock(stateDir, "amadegi drill --restore", log, () => undoLeftovers(stateDir, log));
}

/** restoreLeftovers, for a caller that holds the lock already (a drill, first of all); still refuses while the drill that wrote the marker runs. */
async function undoLeftovers(stateDir: string, log: (line: string) => void): Promise<{ restored: boolean; leftovers: string[] }> {
  const state = resolve(stateDir);
  const { marker, damaged } = readDrillMarker(state);
  if (damaged !== undefined) throw new ToolError(damaged, { hint: "look at it; `amadegi rehearsal down` removes every fault (and the rehearsal), then up" });
  if (marker === undefined) return { restored: false, leftovers: [] };
  if (marker.pid !== process.pid && alive(marker.pid) && (cmdline(marker.pid) ?? "").includes("drill")) {
    throw new ToolError(`drill ${marker.id} (pid ${marker.pid}) is running on this rehearsal`, { hint: "wait for it to finish" });
  }
  log(`undoing the faults of drill ${marker.id} (${marker.scenario}), which did not finish`);
  const left: string[] = [];
  for (const action of [...marker.actions].reverse()) left.push(...(await undoAction(action)));
  left.push(...(await leftovers(marker.actions)));
  left.push(...(await stopDrillReceivers(state)));
  if (left.length === 0) await removeDrillMarker(state);
  return { restored: true, leftovers: left };
}

async function context(options: DrillOptions): Promise<Context> {
  const state = resolve(options.stateDir);
  const { marker, damaged } = readMarker(state);
  if (marker?.complete !== true)
    throw new ToolError(damaged ?? `the rehearsal in ${state} is not up`, {
      hint: "run `amadegi rehearsal up`, the rehearsal stack's `amadegi up` and `amadegi rehearsal devices start` first",
    });
  const inventoryPath = options.inventory ?? marker.inventory;
  const loaded = await loadInventory(inventoryPath);
  if (loaded.inventory === undefined)
    throw new ToolError(`the inventory ${inventoryPath} does not load`, { hint: `run \`amadegi validate --inventory ${inventoryPath}\`` });
  const plan = planRehearsal(loaded.inventory, marker.prefix);
  if (plan.hash !== marker.hash)
    throw new ToolError(`the rehearsal in ${state} was built from another inventory than ${inventoryPath} (or it changed since)`, {
      hint: "run `amadegi rehearsal up` again, or pass the rehearsal's --inventory",
    });
  const settings = readStackSettings(options.stack, options.stacksDir);
  if (settings.probe === undefined)
    throw new ToolError(`stack ${options.stack} has no usable amadegi:probe settings:`, { details: settings.findings.map(formatFinding), file: settings.file });
  if (settings.probe.netns !== plan.probe) {
    throw new ToolError(
      `stack ${options.stack} probes from namespace ${settings.probe.netns ?? "(none: the machine's own)"}, not from this rehearsal's ${plan.probe}`,
      {
        file: settings.file,
        hint: "a drill probes the rehearsal it injects faults into: point the stack's amadegi:probe.netns at it",
      },
    );
  }
  if (settings.probe.pins === undefined)
    throw new ToolError(`stack ${options.stack} names no pins overlay (amadegi:probe.pins)`, {
      file: settings.file,
      hint: "the rehearsal's servers are reached with its overlay",
    });
  const pins = readPins(settings.probe.pins, loaded.inventory.servers, { stack: options.stack });
  if (pins.pins === undefined)
    throw new ToolError(`the pins overlay of stack ${options.stack} is not usable:`, { details: pins.findings.map(formatFinding), file: pins.file });
  return { state, inventory: loaded.inventory, inventoryPath, plan, pins, allow: settings.probe.allow, netns: settings.probe.netns };
}

function gatewayLogs(ctx: Context): GatewayLog[] {
  return ctx.inventory.servers
    .filter((s) => s.roles.includes("gateway"))
    .map((s) => {
      // The rehearsal's pins name no port: the inventory's, as serverReach gives it.
      const way = serverReach(s, ctx.pins.pins?.get(s.id));
      return {
        id: s.id,
        address: way.address,
        port: way.port,
        user: way.user,
        hostKey: way.hostKey ?? "",
        log: rooted({ root: way.root, environment: "rehearsal", address: s.address }, GATEWAY_FILES.checkinLog),
      };
    });
}

function readCursors(state: string): Record<string, CheckinCursor> {
  try {
    return JSON.parse(readFileSync(join(drillsDir(state), "cursors.json"), "utf8")) as Record<string, CheckinCursor>;
  } catch {
    return {};
  }
}

async function results(file: string): Promise<Map<string, ResultLine>> {
  const lines: ResultLine[] = [];
  await readResults(file, (r) =>
    lines.push({
      key: r.key,
      check: r.check,
      kind: r.kind,
      status: r.status,
      at: r.at,
      ...(r.station === undefined ? {} : { station: r.station }),
      ...(r.link === undefined ? {} : { link: r.link }),
      ...(r.server === undefined ? {} : { server: r.server }),
      ...(r.failure === undefined ? {} : { failure: r.failure }),
      ...(r.failed === undefined ? {} : { failed: r.failed }),
      ...(r.detail === undefined ? {} : { detail: r.detail }),
    }),
  );
  return byKey(lines);
}

function campaignRef(answer: ProbeAnswer, file: string): CampaignRef {
  const c = answer.campaign;
  if (c === undefined) throw new ToolError("the drill's campaign gave no report", { hint: "see the results file" });
  return {
    file,
    id: c.report.id,
    startedAt: c.report.startedAt,
    elapsedMs: c.report.elapsedMs,
    targets: c.targets,
    counts: c.report.summary.total,
    valid: c.report.valid,
  };
}

/** `district!=<every other district>`: the district's links and devices, and every server (servers have no district). */
export function districtSelect(inventory: Inventory, district: string | undefined): string | undefined {
  if (district === undefined) return undefined;
  if (!inventory.districtsById.has(district))
    throw new UsageError(`--district ${district}: no such district (the inventory has ${inventory.districts.map((d) => d.id).join(", ")})`, {
      hint: "see `amadegi drill --help`",
    });
  const others = inventory.districts.map((d) => d.id).filter((d) => d !== district);
  return others.length === 0 ? undefined : `district!=${others.join("|")}`;
}

/**
 * What the restore is checked with: the checks that answered in the baseline,
 * on what the faults took down (their links, or their servers); undefined when
 * one selection cannot say both.
 */
export function verifySelect(faults: Pick<FaultPlan, "expected">, baseline: ReadonlyMap<string, ResultLine>): string | undefined {
  const links = new Set(faults.expected.flatMap((e) => e.links));
  const servers = new Set(faults.expected.flatMap((e) => (e.object.kind === "server" ? [e.object.id] : [])));
  if ((links.size === 0) === (servers.size === 0)) return undefined;
  const checks = new Set<string>();
  for (const r of baseline.values()) {
    const mine = r.link !== undefined ? links.has(r.link) : r.server !== undefined && servers.has(r.server);
    const s = signalOf(r);
    if (mine && (s === "ok" || s === "quality")) checks.add(r.check);
  }
  if (checks.size === 0) return undefined;
  const objects = links.size > 0 ? `link=${[...links].sort().join("|")}` : `server=${[...servers].sort().join("|")}`;
  return `${objects},check=${[...checks].sort().join("|")}`;
}

/** Restore, then look again: every action undone, the rehearsal whole, what the fault took down answering again. */
async function restoreAndVerify(ctx: Context, actions: readonly Action[], verify: () => Promise<string[]>): Promise<{ leftovers: string[]; whole: boolean }> {
  const left: string[] = [];
  for (const action of [...actions].reverse()) left.push(...(await undoAction(action)));
  left.push(...(await leftovers(actions)));
  if (left.length === 0) await removeDrillMarker(ctx.state);
  const status = await rehearsalStatus(ctx.plan, layout(ctx.state));
  if (!status.whole) left.push(...status.problems.map((p) => `rehearsal: ${p}`));
  if (left.length === 0) {
    try {
      left.push(...(await verify()));
    } catch (error) {
      left.push(`could not verify the restore: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { leftovers: left, whole: left.length === 0 };
}

/**
 * One drill: a baseline campaign, the fault (recorded in the drill marker
 * first), a campaign during it while the devices' attempts are watched, the
 * restore, a check that the network is whole again, and the report (written
 * to `<state>/drills/<id>.json`). Throws (exit 2) when it cannot run; a
 * restore that leaves something behind is in the report (exit 2 too). Under
 * the state directory's lock from start to report: no second drill, `devices
 * start`/`stop`, `up` or `down` meanwhile (the campaign children need none).
 */
export async function runDrill(options: DrillOptions): Promise<DrillReport> {
  return withRehearsalLock(options.stateDir, `amadegi drill --scenario ${options.scenario}`, options.log, () => drill(options));
}

async function drill(options: DrillOptions): Promise<DrillReport> {
  const log = options.log ?? (() => undefined);
  const started = new Date();
  const restored = await undoLeftovers(options.stateDir, log);
  if (restored.leftovers.length > 0)
    throw new ToolError("an earlier drill's faults could not all be undone:", {
      details: restored.leftovers,
      hint: "`amadegi rehearsal down` removes every fault with the rehearsal",
    });
  const ctx = await context(options);
  const status = await rehearsalStatus(ctx.plan, layout(ctx.state));
  if (!status.whole)
    throw new ToolError(`the rehearsal in ${ctx.state} is not whole:`, {
      details: status.problems,
      hint: "run `amadegi rehearsal up` (and the stack's up) again",
    });
  const select = districtSelect(ctx.inventory, options.district);
  const scope = drillScope(ctx.inventory, options.district);
  const whole = drillScope(ctx.inventory);
  const id = `${started
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}-${options.scenario}`;
  const dir = join(drillsDir(ctx.state), id);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // The receiver the rehearsal's Alertmanager posts to, for the drill's duration (started first: baseline alerts arrive and are set aside).
  const receiver = notMeasured(ctx.inventory, options.scenario) ?? (await startDrillReceiver(ctx.inventory, ctx.plan.core, ctx.state, dir));
  try {
    return await drillWith(options, ctx, { started, id, dir, select, scope, whole, receiver, log });
  } finally {
    if (typeof receiver !== "string") await receiver.stop();
  }
}

async function drillWith(
  options: DrillOptions,
  ctx: Context,
  d: {
    started: Date;
    id: string;
    dir: string;
    select: string | undefined;
    scope: Scope;
    whole: Scope;
    receiver: DrillReceiver | string;
    log: (line: string) => void;
  },
): Promise<DrillReport> {
  const { started, id, dir, select, scope, whole, receiver, log } = d;
  const timeoutMs = options.deadlineMs + 60_000;
  const campaign = (out: string, sel: string | undefined) => ({
    stack: options.stack,
    stacksDir: options.stacksDir,
    inventory: ctx.inventoryPath,
    checks: options.checks,
    deadlineMs: options.deadlineMs,
    out,
    ...(sel === undefined ? {} : { select: sel }),
  });
  const gateways = gatewayLogs(ctx);
  const controlKey = ctx.pins.controlKey;
  const checkins = (cursors: Record<string, CheckinCursor>, since?: string) =>
    controlKey === undefined ? {} : { checkins: { allow: ctx.allow, identityFile: controlKey, gateways, cursors, ...(since === undefined ? {} : { since }) } };

  // 1. The baseline: what the pipeline sees before anything is broken (and where the gateways' logs end).
  log(`baseline campaign${options.district === undefined ? "" : ` (district ${options.district} and the central servers)`}`);
  const baselineFile = join(dir, "baseline.jsonl");
  const baselineAnswer = await probeFrom(
    ctx.netns,
    { campaign: campaign(baselineFile, select), ...checkins(readCursors(ctx.state)) },
    dir,
    "baseline",
    timeoutMs,
  );
  const baselineRef = campaignRef(baselineAnswer, baselineFile);
  const cursors = baselineAnswer.checkins?.cursors ?? {};
  await writeFileAtomic(join(drillsDir(ctx.state), "cursors.json"), `${JSON.stringify(cursors)}\n`, 0o600);
  const baseline = await results(baselineFile);

  // 2. The faults, chosen against the baseline, recorded before they exist.
  const roots = new Map([...(ctx.pins.pins ?? new Map())].map(([server, pin]) => [server, pin.root ?? ""]));
  const faults: FaultPlan = planFaults(
    { inventory: ctx.inventory, scope, whole, plan: ctx.plan, baseline, roots, drillDir: dir },
    { scenario: options.scenario, share: options.share, ...(options.target === undefined ? {} : { target: options.target }) },
  );
  log(faults.description);
  const target = faults.expected.find((e) => e.object.kind === "server")?.object.id;
  const expect = expectation(
    ctx.inventory,
    { ...baselineLinks(ctx.inventory, baseline), central: baselineCentral(baseline) },
    faults.affected.links,
    target === undefined ? undefined : { scenario: options.scenario, id: target },
  );
  let told: NotificationOutcome | undefined;
  const watch = new ResponderWatch(ctx.state);
  await writeDrillMarker(ctx.state, {
    version: 1,
    id,
    scenario: options.scenario,
    pid: process.pid,
    startedAt: started.toISOString(),
    actions: faults.actions,
  });
  watch.start();
  // Ctrl-C or SIGTERM: stop waiting and restore (the campaign child, in the same process group, stops too).
  let interrupted = false;
  const onSignal = (): void => {
    if (!interrupted) log("interrupted: restoring");
    interrupted = true;
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let faultAt = 0;
  let duringRef: CampaignRef | undefined;
  let restore: { leftovers: string[]; whole: boolean; verified: string; elapsedMs: number } | undefined;
  let verifyRef: CampaignRef | undefined;
  let records: ProbeAnswer["checkins"];
  const duringFile = join(dir, "during.jsonl");
  let restoredAt: number;
  let restoreStartedAt = 0;
  try {
    const certInputs = async (server: string) => {
      const s = ctx.inventory.serversById.get(server);
      const root = roots.get(server) ?? "";
      const settings = readStackSettings(options.stack, options.stacksDir).probe;
      const caFile = settings?.ca;
      if (s === undefined || caFile === undefined || !existsSync(caFile))
        throw new ToolError(`the cert drill needs the CA the campaign trusts (stack ${options.stack} amadegi:probe.ca)`, {
          hint: "run the stack's `amadegi up`",
        });
      return {
        nginxConf: readFileSync(rooted({ root, environment: "rehearsal", address: s.address }, GATEWAY_FILES.nginxConf), "utf8"),
        address: s.address,
        names: [`${server}.gw.${ELECTION_ZONE}`, server],
        authority: () => rehearsalAuthority(roots.get(pkiServer(ctx.inventory)?.id ?? "") ?? "", readFileSync(caFile, "utf8")),
      };
    };
    for (const action of faults.actions) {
      if (interrupted) break;
      await applyAction(action, { cert: certInputs });
    }
    if (interrupted) throw new ToolError("the drill was interrupted before its fault was in place", { hint: "its faults were undone" });
    faultAt = Date.now();
    log(`fault in place at ${new Date(faultAt).toISOString()}: campaign during the fault`);

    // 3. The campaign during the fault, while the devices' attempts are watched.
    const duringAnswer = await probeFrom(ctx.netns, { campaign: campaign(duringFile, select) }, dir, "during", timeoutMs);
    duringRef = campaignRef(duringAnswer, duringFile);
    if (faults.affected.kind !== "none" && watch.running && !interrupted) {
      const until = faultAt + watch.windowMs();
      log(`waiting for the devices (up to ${Math.round((until - Date.now()) / 1000)} s more)`);
      while (Date.now() < until && !interrupted) {
        watch.poll();
        if (settled(stationOutcomes(faults.affected, watch.links, faultAt))) break;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    // 3b. What monitoring told of it.
    if (typeof receiver !== "string" && !interrupted) {
      log(`waiting for the notifications (up to ${Math.round((faultAt + waits(expect).notifyMs - Date.now()) / 1000)} s more)`);
      told = await awaitNotifications(receiver.file, expect, { faultAt }, faultAt + waits(expect).notifyMs, () => interrupted);
    }
  } finally {
    watch.stop();
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    // 4. Restore, whatever happened above; then verify.
    log("restoring");
    const t = Date.now();
    restoreStartedAt = t;
    const undone = await restoreAndVerify(ctx, faults.actions, async () => {
      const sel = verifySelect(faults, baseline) ?? select;
      const verifyFile = join(dir, "verify.jsonl");
      let still: string[] = [];
      for (let attempt = 0; attempt < 2; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, 3_000));
        const answer = await probeFrom(
          ctx.netns,
          { campaign: campaign(verifyFile, sel), ...(faultAt === 0 ? {} : checkins(cursors, new Date(faultAt).toISOString())) },
          dir,
          "verify",
          timeoutMs,
        );
        verifyRef = campaignRef(answer, verifyFile);
        records = answer.checkins ?? records;
        const after = await results(verifyFile);
        // What answered in the baseline must answer again.
        still = [...after.values()]
          .filter((r) => {
            const before = baseline.get(r.key);
            const was = before === undefined ? "unknown" : signalOf(before);
            const now = signalOf(r);
            return (was === "ok" || was === "quality") && now !== "ok" && now !== "quality";
          })
          .map((r) => `${r.key} still ${r.status}${r.detail === undefined ? "" : `: ${r.detail}`}`);
        if (still.length === 0) break;
      }
      return still;
    });
    restoredAt = Date.now();
    restore = {
      ...undone,
      elapsedMs: restoredAt - t,
      verified: verifyRef === undefined ? "not verified by a campaign" : `verified by a campaign of ${verifyRef.targets} targets`,
    };
    log(`restored in ${((restoredAt - t) / 1000).toFixed(1)} s`);
    for (const l of restore.leftovers) log(`left behind: ${l}`);
  }
  if (typeof receiver !== "string" && told !== undefined && !interrupted) {
    log("waiting for the notifications' resolution");
    told = await awaitNotifications(receiver.file, expect, { faultAt, restoreAt: restoreStartedAt }, restoredAt + waits(expect).resolveMs, () => interrupted);
  }
  const notifications: NotificationsReport =
    typeof receiver === "string"
      ? { measured: false, why: receiver }
      : told === undefined
        ? { measured: false, why: "the drill stopped before its notifications were awaited", file: receiver.file }
        : { measured: true, timing: timingOfReport(), file: receiver.file, boundMs: expect.boundMs, outcome: told };

  // 5. What the pipeline concluded, beside what was injected.
  if (interrupted)
    throw new ToolError(`the drill was interrupted; its faults were undone${restore.whole ? "" : ", except:"}`, {
      details: restore.whole ? [] : restore.leftovers,
      hint: restore.whole ? "run it again" : "`amadegi drill --restore`, or `amadegi rehearsal down`",
    });
  if (duringRef === undefined) throw new ToolError("the campaign during the fault did not run", { hint: "see the drill's directory" });
  const during = await results(duringFile);
  // Check-ins the gateways recorded while the fault was in place (a second after it, before the restore began).
  const checkedIn = new Set(
    (records?.records ?? []).filter((r) => Date.parse(r.time) >= faultAt + 1_000 && Date.parse(r.time) < restoreStartedAt).map((r) => r.link),
  );
  const attribution = attribute(scope, baseline, during, { checkedIn });
  const comparison = compare(faults.expected, attribution);
  const detected = comparison.items.map((i) => (i.detectedAt === undefined ? undefined : Date.parse(i.detectedAt) - faultAt));
  const first = comparison.items
    .map((i) => (i.firstAt === undefined ? undefined : Date.parse(i.firstAt) - faultAt))
    .filter((x): x is number => x !== undefined);
  const outcomes: StationOutcome[] = watch.running
    ? stationOutcomes(faults.affected, watch.links, faultAt, records?.records ?? [])
    : faults.affected.stations.map((station) => ({
        station,
        state: "not-measured" as const,
        why: "the device responders are not running (amadegi rehearsal devices start)",
      }));
  const toldRight = !notifications.measured || notifications.outcome?.complete === true;
  const exitCode = !restore.whole ? 2 : comparison.complete && toldRight ? 0 : 1;
  const file = join(drillsDir(ctx.state), `${id}.json`);
  const report: DrillReport = {
    version: 1,
    id,
    scenario: options.scenario,
    description: faults.description,
    notes: faults.notes,
    stack: options.stack,
    ...(options.district === undefined ? {} : { district: options.district }),
    ...(options.scenario === "fiber-cut" ? { share: options.share } : {}),
    ...(options.target === undefined ? {} : { target: options.target }),
    startedAt: started.toISOString(),
    faultAt: new Date(faultAt).toISOString(),
    restoredAt: new Date(restoredAt).toISOString(),
    finishedAt: new Date().toISOString(),
    injected: {
      faults: faults.expected,
      actions: faults.actions.map(summarise),
      links: faults.affected.links.length,
      stations: faults.affected.stations.length,
    },
    campaigns: { baseline: baselineRef, during: duringRef, ...(verifyRef === undefined ? {} : { verify: verifyRef }) },
    attribution: {
      attributions: attribution.attributions,
      observableLinks: attribution.observable.length,
      lostLinks: attribution.lost.length,
      failingServers: attribution.failingServers,
      qualityOnly: attribution.qualityOnly,
      standing: attribution.standing,
      unknown: attribution.unknown,
      contradicted: attribution.contradicted,
    },
    comparison,
    detection: {
      ...(detected.length > 0 && detected.every((d) => d !== undefined) ? { timeToDetectionMs: Math.max(...(detected as number[])) } : {}),
      ...(first.length === 0 ? {} : { firstSignalMs: Math.min(...first) }),
    },
    stations: {
      devicesRunning: watch.running,
      windowMs: watch.windowMs(),
      affected: outcomes.length,
      failedOver: outcomes.filter((o) => o.state === "failed-over").length,
      lostEveryPath: outcomes.filter((o) => o.state === "lost-every-path").map((o) => o.station),
      pending: outcomes.filter((o) => o.state === "pending").map((o) => o.station),
      notMeasured: outcomes.filter((o) => o.state === "not-measured").length,
      failover: spread(outcomes.flatMap((o) => (o.failoverMs === undefined ? [] : [o.failoverMs]))),
      noticed: spread(outcomes.flatMap((o) => (o.noticedMs === undefined ? [] : [o.noticedMs]))),
      recorded: spread(outcomes.flatMap((o) => (o.recordedMs === undefined ? [] : [o.recordedMs]))),
      outcomes,
    },
    checkins: { records: records?.records.length ?? 0, failures: records?.failures ?? [] },
    restore,
    notifications,
    verdict: exitCode === 2 ? "not-restored" : exitCode === 0 ? "detected-and-attributed" : comparison.complete ? "not-notified" : "not-fully-detected",
    exitCode,
    file,
  };
  await writeFileAtomic(file, `${JSON.stringify(report, null, 1)}\n`, 0o644);
  return report;
}
