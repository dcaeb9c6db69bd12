import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { InventoryError, ToolError } from "../lib/errors.ts";
import { digestFiles, writeFileAtomic } from "../lib/fs.ts";
import { type Inventory, loadInventory } from "../model/index.ts";
import { REHEARSAL_NICE, REHEARSAL_NODE_HEAP } from "../model/render/index.ts";
import { listNetns } from "../toolchain/netns.ts";
import { type DeviceLayout, deviceLayout, ensureDeviceKeys, type KeysResult, planDevices } from "./devices.ts";
import { MarkerLog, readMarker, withRehearsalLock } from "./marker.ts";
import { type Plan, planRehearsal } from "./plan.ts";
import { alive, cmdline, processesMentioning, stopProcesses } from "./processes.ts";
import { type LinkStatus, readResponderStatus, type ResponderHeader, type ResponderSpec } from "./responder.ts";

/**
 * Starting, stopping and reading the device responders: one per operator
 * namespace, each checking in for every station device whose links that
 * operator carries (responder.ts). docs/rehearsal.md "Devices".
 */
export const RESPONDER = join(import.meta.dirname, "responder.ts");

/** The gateways' HTTPS port (nginx terminating the devices' mutual TLS). */
export const GATEWAY_PORT = 443;
/**
 * The whole rehearsal's check-in budget: the default interval spreads every
 * link's check-in so that all responders together make about this many TLS
 * handshakes a second (the sample: 2,831 links → every 71 s, ~40/s), well
 * under what a 2-core machine running the gateways as well can take.
 */
export const CHECKINS_PER_SECOND = 40;
/** No link checks in more often than this by default, however small the inventory. */
export const MIN_INTERVAL_MS = 15_000;

export function defaultIntervalMs(links: number): number {
  return Math.max(MIN_INTERVAL_MS, Math.ceil(links / CHECKINS_PER_SECOND) * 1000);
}

export interface DevicesOptions {
  readonly inventory: string;
  readonly stateDir: string;
  /** Mean time between a link's check-ins (default: defaultIntervalMs of all links). */
  readonly intervalMs?: number;
  /** ± fraction of the interval (default 0.1). */
  readonly jitter?: number;
  /** Check-ins in flight at once, per responder (default 32). */
  readonly maxInFlight?: number;
  /** One attempt to one gateway (default 5 s). */
  readonly timeoutMs?: number;
  readonly gatewayPort?: number;
  readonly log?: (line: string) => void;
}

export const DEFAULT_JITTER = 0.1;
export const DEFAULT_IN_FLIGHT = 32;
export const DEFAULT_TIMEOUT_MS = 5_000;
const STATUS_EVERY_MS = 2_000;
/**
 * How long `start` waits for the responders to run: 15 s, and 2 ms more for each of a responder's
 * devices (the one with most), since each reads its devices' keys and certificates and checks each
 * pair before its first status. A fixed 15 s failed at national size (58,640 devices): four
 * responders, still reading, were reported as not started (issue 20, session 19).
 */
export function startTimeoutMs(devices: number): number {
  return 15_000 + 2 * devices;
}

export interface ResponderFiles {
  readonly spec: string;
  readonly log: string;
  readonly status: string;
  readonly events: string;
}

export function responderFiles(stateDir: string, operator: string): ResponderFiles {
  const run = deviceLayout(stateDir).run;
  return {
    spec: join(run, `${operator}.json`),
    log: join(run, `${operator}.log`),
    status: join(run, `${operator}.status.jsonl`),
    events: join(run, `${operator}.events.jsonl`),
  };
}

export interface ResponderPlan {
  readonly operator: string;
  readonly ns: string;
  readonly spec: ResponderSpec;
}

export interface DevicesPlan {
  readonly responders: readonly ResponderPlan[];
  readonly devices: number;
  readonly links: number;
  /** Serials with no issued certificate yet (their links are reported `no-certificate`). */
  readonly uncertified: readonly string[];
  readonly serials: readonly string[];
}

/** What the responders do, from the inventory and the rehearsal's plan: one spec per operator that carries a device link. */
export function planResponders(
  inventory: Inventory,
  plan: Plan,
  stateDir: string,
  options: Omit<DevicesOptions, "inventory" | "stateDir" | "log"> = {},
): DevicesPlan {
  const { devices, findings } = planDevices(inventory);
  const gatewayIds = new Set(devices.flatMap((d) => [d.primary, d.secondary]));
  for (const id of gatewayIds)
    if (!inventory.serversById.has(id)) findings.push(`a station names gateway ${id}, which servers.yaml does not declare: run amadegi validate`);
  if (findings.length > 0)
    throw new InventoryError("the inventory's devices cannot be rehearsed:", { details: findings, hint: "fix the inventory (amadegi validate)" });
  const port = options.gatewayPort ?? GATEWAY_PORT;
  const gateways = inventory.servers.filter((s) => gatewayIds.has(s.id)).map((s) => ({ id: s.id, address: s.address, port }));
  const layout = deviceLayout(stateDir);
  const links = devices.reduce((n, d) => n + d.links.length, 0);
  const intervalMs = options.intervalMs ?? defaultIntervalMs(links);
  const responders: ResponderPlan[] = [];
  for (const operator of plan.operators) {
    const carried = devices.flatMap((d) => {
      const own = d.links.filter((l) => l.operator === operator.id).map((l) => ({ id: l.id, address: l.address }));
      if (own.length === 0) return [];
      return [
        {
          serial: d.serial,
          station: d.station,
          key: layout.key(d.serial),
          cert: layout.cert(d.serial),
          gateways: [...new Set([d.primary, d.secondary])],
          links: own,
        },
      ];
    });
    if (carried.length === 0) continue;
    const files = responderFiles(stateDir, operator.id);
    responders.push({
      operator: operator.id,
      ns: operator.ns,
      spec: {
        version: 1,
        operator: operator.id,
        ca: layout.ca,
        trust: issuedDigest(layout),
        status: files.status,
        events: files.events,
        intervalMs,
        jitter: options.jitter ?? DEFAULT_JITTER,
        maxInFlight: options.maxInFlight ?? DEFAULT_IN_FLIGHT,
        timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        statusEveryMs: STATUS_EVERY_MS,
        gateways,
        devices: carried,
      },
    });
  }
  const uncertified = devices.filter((d) => d.links.length > 0 && !existsSync(layout.cert(d.serial))).map((d) => d.serial);
  return { responders, devices: devices.length, links, uncertified, serials: devices.map((d) => d.serial) };
}

/**
 * A digest of the issued certificates and the authority beside them (`*.crt`
 * in `issued/`): a responder reads them once at start, so a new `up` that
 * re-issued them makes its spec differ and `devices start` restart it.
 */
function issuedDigest(layout: DeviceLayout): string {
  return digestFiles(layout.issued, ".crt").digest;
}

async function load(options: DevicesOptions, prefix: string): Promise<{ inventory: Inventory; plan: Plan }> {
  const loaded = await loadInventory(options.inventory);
  if (loaded.inventory === undefined) {
    const errors = loaded.findings.filter((f) => f.severity === "error").length;
    throw new InventoryError(`the inventory ${options.inventory} has ${errors} errors`, {
      hint: `run \`amadegi validate --inventory ${options.inventory}\` and fix them`,
    });
  }
  return { inventory: loaded.inventory, plan: planRehearsal(loaded.inventory, prefix) };
}

/** Keys and certificate requests for every station's device (idempotent): what the stack signs. */
export async function deviceKeys(options: DevicesOptions): Promise<KeysResult & { readonly devices: number }> {
  const loaded = await loadInventory(options.inventory);
  if (loaded.inventory === undefined)
    throw new InventoryError(`the inventory ${options.inventory} cannot be loaded`, { hint: `run \`amadegi validate --inventory ${options.inventory}\`` });
  const { devices, findings } = planDevices(loaded.inventory);
  if (findings.length > 0)
    throw new InventoryError("the inventory's devices cannot be rehearsed:", { details: findings, hint: "fix the inventory (amadegi validate)" });
  const result = await ensureDeviceKeys(
    resolve(options.stateDir),
    devices.map((d) => d.serial),
  );
  return { ...result, devices: devices.length };
}

/** The responder processes of this state directory, found by their command lines (pids are reused: never by memory alone). */
export function responderPids(stateDir: string): number[] {
  return processesMentioning(`${resolve(stateDir)}/`).filter((pid) => (cmdline(pid) ?? "").includes(RESPONDER));
}

export interface StartResult {
  /** false: every responder already ran with the same spec. */
  readonly changed: boolean;
  readonly responders: readonly { readonly operator: string; readonly ns: string; readonly pid: number; readonly links: number }[];
  readonly devices: number;
  readonly links: number;
  readonly intervalMs: number;
  readonly uncertified: readonly string[];
  readonly keys: KeysResult;
  readonly elapsedMs: number;
}

function specText(spec: ResponderSpec): string {
  return `${JSON.stringify(spec, null, 1)}\n`;
}

/** The pid of the responder running `spec` (its spec file on its command line), if any. */
function runningWith(stateDir: string, files: ResponderFiles): number | undefined {
  return responderPids(stateDir).find((pid) => (cmdline(pid) ?? "").includes(files.spec));
}

/**
 * Start one responder per operator namespace (after `rehearsal up` and the
 * stack's `up`, which issued the certificates). Each step is in the marker
 * before it runs, so `rehearsal down` stops them and removes their files
 * (`devices/run/`). Idempotent: responders already running with the same spec
 * are left alone; any others are stopped first. Under the state directory's
 * lock: not while `up`, `down` or a drill (which watches the responders) runs.
 */
export async function startDevices(options: DevicesOptions): Promise<StartResult> {
  return withRehearsalLock(options.stateDir, "amadegi rehearsal devices start", options.log, () => start(options));
}

async function start(options: DevicesOptions): Promise<StartResult> {
  const started = Date.now();
  const stateDir = resolve(options.stateDir);
  const log = options.log ?? (() => undefined);
  const { marker, damaged } = readMarker(stateDir);
  if (marker?.complete !== true)
    throw new ToolError(damaged ?? `the rehearsal in ${stateDir} is not up`, { hint: "run `amadegi rehearsal up` (and the rehearsal stack's up) first" });
  // The namespaces are the ones that rehearsal was built with.
  const { inventory, plan } = await load(options, marker.prefix);
  if (marker.hash !== plan.hash)
    throw new ToolError(`the rehearsal in ${stateDir} was built from another inventory (or this one changed since)`, {
      hint: "run `amadegi rehearsal up` again",
    });
  const layout = deviceLayout(stateDir);
  const devices = planResponders(inventory, plan, stateDir, options);
  const keys = await ensureDeviceKeys(stateDir, devices.serials);
  if (!existsSync(layout.ca))
    throw new ToolError(`no rehearsal CA at ${layout.ca}: the device certificates are not issued yet`, {
      hint: "run the rehearsal stack's up (it signs devices/*.csr), then devices start",
    });
  const namespaces = new Set(listNetns());
  for (const r of devices.responders)
    if (!namespaces.has(r.ns)) throw new ToolError(`namespace ${r.ns} does not exist`, { hint: "run `amadegi rehearsal down`, then up" });

  const wanted = new Map(devices.responders.map((r) => [responderFiles(stateDir, r.operator).spec, specText(r.spec)]));
  const unchanged = devices.responders.every((r) => {
    const files = responderFiles(stateDir, r.operator);
    return runningWith(stateDir, files) !== undefined && existsSync(files.spec) && readFileSync(files.spec, "utf8") === wanted.get(files.spec);
  });
  if (unchanged && responderPids(stateDir).length === devices.responders.length) {
    return {
      changed: false,
      responders: devices.responders.map((r) => ({
        operator: r.operator,
        ns: r.ns,
        pid: runningWith(stateDir, responderFiles(stateDir, r.operator)) ?? 0,
        links: linksOf(r.spec),
      })),
      devices: devices.devices,
      links: devices.links,
      intervalMs: devices.responders[0]?.spec.intervalMs ?? 0,
      uncertified: devices.uncertified,
      keys,
      elapsedMs: Date.now() - started,
    };
  }
  if (responderPids(stateDir).length > 0) log("stopping the running responders first (the inventory, the certificates' devices or the options changed)");
  await stopResponders(stateDir);
  await rm(layout.run, { recursive: true, force: true });
  await mkdir(layout.run, { recursive: true, mode: 0o700 });
  const markerLog = new MarkerLog(marker);
  if (!marker.steps.some((s) => s.kind === "file" && resolve(s.path) === layout.run)) await markerLog.record({ kind: "file", path: layout.run });

  const running: { operator: string; ns: string; pid: number; links: number }[] = [];
  for (const r of devices.responders) {
    const files = responderFiles(stateDir, r.operator);
    await writeFileAtomic(files.spec, specText(r.spec), 0o600);
    const role = `responder ${r.operator}`;
    await markerLog.update({ kind: "process", role, ns: r.ns });
    const out = openSync(files.log, "a", 0o600);
    // Background work, as the monitor's: the prober it shares this machine with must not starve (REHEARSAL_NICE).
    const argv = ["netns", "exec", r.ns, "nice", "-n", String(REHEARSAL_NICE), process.execPath, REHEARSAL_NODE_HEAP, RESPONDER, files.spec];
    const child = spawn("ip", argv, { detached: true, stdio: ["ignore", out, out] });
    closeSync(out);
    child.unref();
    if (child.pid === undefined) throw new ToolError(`could not start the responder of ${r.operator}`, { hint: `see ${files.log}` });
    await markerLog.update({ kind: "process", role, pid: child.pid, ns: r.ns });
    running.push({ operator: r.operator, ns: r.ns, pid: child.pid, links: linksOf(r.spec) });
  }
  const most = Math.max(0, ...devices.responders.map((r) => r.spec.devices.length));
  await waitStarted(
    running.map((r) => ({ ...r, files: responderFiles(stateDir, r.operator) })),
    startTimeoutMs(most),
  );
  return {
    changed: true,
    responders: running,
    devices: devices.devices,
    links: devices.links,
    intervalMs: devices.responders[0]?.spec.intervalMs ?? 0,
    uncertified: devices.uncertified,
    keys,
    elapsedMs: Date.now() - started,
  };
}

function linksOf(spec: ResponderSpec): number {
  return spec.devices.reduce((n, d) => n + d.links.length, 0);
}

/** Each responder writes its status file once it runs: wait for that (its pid in the header), or report its log. */
async function waitStarted(running: readonly { operator: string; pid: number; files: ResponderFiles }[], timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let missing = running;
  while (Date.now() < until) {
    missing = missing.filter((r) => readResponderStatus(r.files.status)?.header.pid !== r.pid);
    if (missing.length === 0) return;
    const dead = missing.find((r) => !alive(r.pid));
    if (dead !== undefined) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const tails = missing.slice(0, 3).map((r) => {
    const text = existsSync(r.files.log) ? readFileSync(r.files.log, "utf8").trim().split("\n").slice(-3).join(" | ") : "no log";
    return `${r.operator} (pid ${r.pid}${alive(r.pid) ? "" : ", exited"}): ${text}`;
  });
  throw new ToolError(`${missing.length} device responders did not start: ${tails.join("; ")}`, {
    hint: `see ${missing[0]?.files.log ?? "devices/run/<operator>.log"}`,
  });
}

/**
 * Stop every responder of this state directory; their status and event files
 * stay (rehearsal down removes them). Under the state directory's lock, like
 * `start`: a drill's failover times must not lose their devices half-way.
 */
export async function stopDevices(options: {
  readonly stateDir: string;
  readonly log?: (line: string) => void;
}): Promise<{ readonly stopped: number; readonly leftovers: readonly string[] }> {
  return withRehearsalLock(options.stateDir, "amadegi rehearsal devices stop", options.log, () => stopResponders(options.stateDir));
}

/** stopDevices, for a caller that holds the lock already (start, replacing them). */
async function stopResponders(stateDir: string): Promise<{ readonly stopped: number; readonly leftovers: readonly string[] }> {
  const pids = responderPids(stateDir);
  const stubborn = await stopProcesses(pids);
  return { stopped: pids.length - stubborn.length, leftovers: stubborn.map((pid) => `responder ${pid} (${cmdline(pid) ?? "?"}) would not stop`) };
}

export interface OperatorDevicesStatus {
  readonly operator: string;
  readonly pid?: number;
  readonly running: boolean;
  readonly header?: ResponderHeader;
  readonly links: number;
  readonly counts: Readonly<Record<LinkStatus["state"], number>>;
}

export interface DevicesStatus {
  /** Every responder that was started runs. */
  readonly running: boolean;
  readonly operators: readonly OperatorDevicesStatus[];
  readonly links: readonly LinkStatus[];
}

/** What the responders report (their status files) and whether they run. Sends nothing. */
export function devicesStatus(stateDir: string): DevicesStatus {
  const dir = resolve(stateDir);
  const run = deviceLayout(dir).run;
  const specs = existsSync(run) ? readdirJson(run) : [];
  const operators: OperatorDevicesStatus[] = [];
  const links: LinkStatus[] = [];
  for (const operator of specs) {
    const files = responderFiles(dir, operator);
    const pid = runningWith(dir, files);
    const read = readResponderStatus(files.status);
    const counts: Record<LinkStatus["state"], number> = { pending: 0, ok: 0, failing: 0, "no-certificate": 0 };
    for (const l of read?.links ?? []) counts[l.state] += 1;
    links.push(...(read?.links ?? []));
    operators.push({
      operator,
      ...(pid === undefined ? {} : { pid }),
      running: pid !== undefined,
      ...(read === undefined ? {} : { header: read.header }),
      links: read?.links.length ?? 0,
      counts,
    });
  }
  return { running: operators.length > 0 && operators.every((o) => o.running), operators, links };
}

/** Operators that have a responder spec in `dir` (`<operator>.json`). */
function readdirJson(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((name) => name.endsWith(".json"))
      .map((name) => name.slice(0, -".json".length))
      .sort();
  } catch {
    return [];
  }
}

/**
 * Wait until every device link has tried its first check-in (none `pending`),
 * or `timeoutMs` has passed; the links as they then are, and whether the wait
 * ended because they all had. Reads the responders' status files only.
 */
export async function waitForFirstCheckins(stateDir: string, timeoutMs: number): Promise<{ links: readonly LinkStatus[]; complete: boolean }> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { links } = devicesStatus(stateDir);
    const complete = links.length > 0 && !links.some((l) => l.state === "pending");
    if (complete || Date.now() > until) return { links, complete };
    await new Promise((r) => setTimeout(r, 1_000));
  }
}
