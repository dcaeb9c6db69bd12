import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";
import { InventoryError, ToolError } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/fs.ts";
import { type Inventory, loadInventory } from "../model/index.ts";
import { ensureDeviceKeys, planDevices } from "./devices.ts";
import { execIn, ip, listNetns, netnsPids } from "../toolchain/netns.ts";
import { type Marker, MarkerLog, markerPath, readMarker, withRehearsalLock } from "./marker.ts";
import { DEFAULT_PREFIX, namespaceNames, NFT_TABLE, type Plan, planRehearsal } from "./plan.ts";
import { alive, cmdline, processesMentioning, stopProcesses } from "./processes.ts";
import { RESPONDER } from "./responders.ts";
import { ensureKey, hostKeyPath, layout, localUserExists, type Pin, serverDir, serverHome, SSHD, sshdConfig, type StateLayout, writePins } from "./sshd.ts";
import { listeningIn, readSupervisorStatus, rehearsalStatus, type RehearsalStatus } from "./status.ts";
import type { SupervisorSpec } from "./supervise.ts";

export interface RehearsalOptions {
  /** The inventory directory. */
  readonly inventory: string;
  /** Where the marker, configs, logs and kept keys live (the CLI's default: `statePaths().rehearsal.dir`, rehearsal/ of the state directory). */
  readonly stateDir: string;
  /** Namespace name prefix: `amadegi-r-` (tests use `amadegi-r-<tag>-`). */
  readonly prefix?: string;
  /** Progress lines for a person. */
  readonly log?: (line: string) => void;
}

/** Load and plan; an inventory that cannot be loaded or rehearsed is an InventoryError naming why. */
export async function planFor(options: RehearsalOptions): Promise<Plan> {
  return (await loadPlan(options)).plan;
}

async function loadPlan(options: RehearsalOptions): Promise<{ plan: Plan; inventory: Inventory }> {
  const loaded = await loadInventory(options.inventory);
  if (loaded.inventory === undefined) {
    const errors = loaded.findings.filter((f) => f.severity === "error").length;
    throw new InventoryError(`the inventory ${options.inventory} has ${errors} errors and cannot be rehearsed`, {
      hint: `run \`amadegi validate --inventory ${options.inventory}\` and fix them`,
    });
  }
  const plan = planRehearsal(loaded.inventory, options.prefix ?? DEFAULT_PREFIX);
  if (plan.findings.length > 0) {
    throw new InventoryError(`the inventory ${options.inventory} cannot be rehearsed:\n  ${plan.findings.join("\n  ")}`, {
      hint: "fix the inventory, then run rehearsal up again",
    });
  }
  return { plan, inventory: loaded.inventory };
}

export interface UpResult {
  readonly changed: boolean;
  readonly plan: Plan;
  readonly status: RehearsalStatus;
  readonly elapsedMs: number;
}

const SUPERVISOR = join(import.meta.dirname, "supervise.ts");
const LISTEN_TIMEOUT_MS = 15_000;

/**
 * Build the rehearsal's network and servers from the inventory. Every step is
 * in the marker before it runs. A rehearsal that is already whole and matches
 * the inventory is left alone (no change); anything else that exists —
 * another inventory's rehearsal, the leftovers of a crashed `up` — is taken
 * down first. A failure half-way takes down what was built, then rethrows.
 * Under the state directory's lock, taken before anything is looked at: an
 * incomplete rehearsal may be one another `up` is building right now, and is
 * only taken down once its builder is gone (a ToolError naming it otherwise).
 */
export async function rehearsalUp(options: RehearsalOptions): Promise<UpResult> {
  return withRehearsalLock(options.stateDir, "amadegi rehearsal up", options.log, () => up(options));
}

async function up(options: RehearsalOptions): Promise<UpResult> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const { plan, inventory } = await loadPlan(options);
  const state = layout(resolve(options.stateDir));
  // The devices' keys and the device-keys overlay the rehearsal stack names (kept across down/up, like host keys).
  const devices = planDevices(inventory);
  if (devices.findings.length > 0)
    throw new InventoryError("the inventory's devices cannot be rehearsed:", { details: devices.findings, hint: "fix the inventory (amadegi validate)" });
  await ensureDeviceKeys(
    resolve(options.stateDir),
    devices.devices.map((d) => d.serial),
  );
  const current = await rehearsalStatus(plan, state);
  if (current.whole) return { changed: false, plan, status: current, elapsedMs: Date.now() - started };
  if (current.exists) {
    log(
      current.matchesInventory || current.marker === undefined
        ? "cleaning up an incomplete rehearsal first"
        : "the inventory changed since up: taking the old rehearsal down first",
    );
    await down({ ...options, prefix: plan.prefix });
  }
  await mkdir(state.dir, { recursive: true, mode: 0o700 });
  const marker = new MarkerLog({
    version: 1,
    prefix: plan.prefix,
    stateDir: state.dir,
    inventory: resolve(options.inventory),
    hash: plan.hash,
    startedAt: new Date().toISOString(),
    upPid: process.pid,
    complete: false,
    steps: [],
  });
  await marker.flush();
  try {
    await build(plan, state, marker, log);
    await marker.finish();
  } catch (error) {
    log("up failed: taking down what was built");
    await down({ ...options, prefix: plan.prefix }).catch(() => undefined);
    throw error;
  }
  const status = await rehearsalStatus(plan, state);
  return { changed: true, plan, status, elapsedMs: Date.now() - started };
}

async function build(plan: Plan, state: StateLayout, marker: MarkerLog, log: (line: string) => void): Promise<void> {
  // 1. Namespaces, each with its own sysctls (only the core forwards).
  for (const ns of plan.namespaces) {
    await marker.record({ kind: "netns", name: ns.name });
    await ip(["netns", "add", ns.name]);
    const sysctl = await execIn(ns.name, [
      "sysctl",
      "-q",
      "-w",
      `net.ipv4.ip_forward=${ns.forwarding ? 1 : 0}`,
      "net.ipv4.conf.all.rp_filter=0",
      "net.ipv4.conf.default.rp_filter=0",
    ]);
    if (sysctl.code !== 0) throw new ToolError(`sysctl in namespace ${ns.name} failed: ${sysctl.stderr.trim()}`, { hint: "this needs root" });
  }
  log(`${plan.namespaces.length} namespaces`);
  // 2. veth pairs, created inside the core namespace with the peer placed straight into the
  //    other one: no end of a rehearsal link ever exists in the machine's own namespace.
  for (const veth of plan.veths) {
    await marker.record({ kind: "veth", ns: veth.aNs, name: veth.aIf, peerNs: veth.bNs, peer: veth.bIf });
    await ip(["link", "add", veth.aIf, "type", "veth", "peer", "name", veth.bIf, "netns", veth.bNs], { ns: veth.aNs });
    await ip(["link", "set", veth.aIf, "alias", veth.alias], { ns: veth.aNs });
    await ip(["link", "set", veth.bIf, "alias", veth.alias], { ns: veth.bNs });
  }
  log(`${plan.veths.length} veth links`);
  // 3. Addresses and routes, one batch per namespace.
  for (const ns of plan.namespaces) {
    await marker.record({ kind: "config", ns: ns.name, lines: ns.batch.length });
    await ip(["-batch", "-"], { ns: ns.name, input: `${ns.batch.join("\n")}\n` });
  }
  // 4. Link quality: nftables inside each operator's namespace.
  for (const ns of plan.namespaces) {
    if (ns.nft === undefined) continue;
    await marker.record({ kind: "nft", ns: ns.name, table: NFT_TABLE });
    const result = await execIn(ns.name, ["nft", "-f", "-"], { input: ns.nft });
    if (result.code !== 0) throw new ToolError(`nft in namespace ${ns.name} failed: ${result.stderr.trim()}`, { hint: "install nftables (amadegi doctor)" });
  }
  log("addresses, routes and link quality");
  // 5. Keys (kept across down/up), then each server's files.
  await marker.record({ kind: "key", path: state.keys });
  const control = await ensureKey(state.controlKey, "amadegi-rehearsal-control");
  await marker.record({ kind: "file", path: state.servers });
  const pins: Pin[] = [];
  const processes: SupervisorSpec["processes"][number][] = [];
  for (const server of plan.servers) {
    const hostKey = await ensureKey(hostKeyPath(state, server.id), `amadegi-rehearsal-${server.id}`);
    const dir = serverDir(state, server.id);
    await mkdir(join(dir, "root"), { recursive: true, mode: 0o755 });
    await mkdir(serverHome(state, server.id), { recursive: true, mode: 0o755 });
    await writeFile(join(dir, "authorized_keys"), `${control}\n`, { mode: 0o600 });
    await writeFileAtomic(join(dir, "sshd_config"), sshdConfig(state, server), 0o600);
    processes.push({ id: server.id, argv: [SSHD, "-D", "-e", "-f", join(dir, "sshd_config")], log: join(dir, "sshd.log") });
    pins.push({
      id: server.id,
      address: server.address,
      port: server.port,
      user: localUserExists(server.user) ? server.user : "root",
      hostKey,
      root: join(dir, "root"),
    });
  }
  // sshd insists on its privilege-separation directory, which the Debian package makes at boot.
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  // 6. The supervisor, inside the core namespace, detached: it outlives this command.
  for (const file of [state.supervisorSpec, state.supervisorLog, state.supervisorStatus]) await marker.record({ kind: "file", path: file });
  const spec: SupervisorSpec = { processes, status: state.supervisorStatus };
  await writeFileAtomic(state.supervisorSpec, `${JSON.stringify(spec, null, 1)}\n`, 0o600);
  await marker.record({ kind: "process", role: "supervisor", ns: plan.core });
  const out = openSync(state.supervisorLog, "a", 0o600);
  const child = spawn("ip", ["netns", "exec", plan.core, process.execPath, SUPERVISOR, state.supervisorSpec], { detached: true, stdio: ["ignore", out, out] });
  closeSync(out);
  child.unref();
  if (child.pid === undefined) throw new ToolError("could not start the rehearsal's supervisor", { hint: `see ${state.supervisorLog}` });
  await marker.update({ kind: "process", role: "supervisor", pid: child.pid, ns: plan.core });
  await waitListening(plan, state);
  const supervisor = readSupervisorStatus(state);
  for (const [id, p] of Object.entries(supervisor?.processes ?? {})) {
    if (p.pid !== undefined) await marker.record({ kind: "process", role: `sshd ${id}`, pid: p.pid, ns: plan.core });
  }
  log(`${plan.servers.length} sshd servers`);
  // 7. The pins overlay the rehearsal stack reads instead of the inventory's pins.
  await marker.record({ kind: "file", path: state.pins });
  await writePins(state, plan.prefix, pins);
}

async function waitListening(plan: Plan, state: StateLayout): Promise<void> {
  const until = Date.now() + LISTEN_TIMEOUT_MS;
  let missing = plan.servers;
  while (Date.now() < until) {
    const open = await listeningIn(plan.core);
    missing = plan.servers.filter((s) => !open.has(`${s.address}:${s.port}`));
    if (missing.length === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  const tails = missing.slice(0, 3).map((s) => {
    const logFile = join(serverDir(state, s.id), "sshd.log");
    const text = existsSync(logFile) ? readFileSync(logFile, "utf8").trim().split("\n").slice(-2).join(" | ") : "no log";
    return `${s.id} (${s.address}:${s.port}): ${text}`;
  });
  throw new ToolError(`${missing.length} rehearsal sshd servers did not listen within ${LISTEN_TIMEOUT_MS / 1000}s: ${tails.join("; ")}`, {
    hint: `see ${state.servers}/<server>/sshd.log and ${state.supervisorLog}`,
  });
}

export interface DownResult {
  readonly namespaces: readonly string[];
  readonly processes: number;
  readonly files: readonly string[];
  /** Anything that would not go away: empty when down is complete. */
  readonly leftovers: readonly string[];
  readonly elapsedMs: number;
}

/** The rehearsal's sshd, supervisor and device responder processes, by their command lines (a log viewer on the same files is not ours). */
function ours(state: StateLayout): number[] {
  return processesMentioning(`${state.dir}/`).filter((pid) => {
    const line = cmdline(pid) ?? "";
    return line.includes(SSHD) || line.includes(SUPERVISOR) || line.includes(RESPONDER);
  });
}

function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}

/**
 * Remove everything a rehearsal's `up` made — namespaces (and with them every
 * veth, address, route and nftables table inside), processes and files —
 * found by the marker and by the namespace prefix, so it also works after
 * `up` was killed at any point or the marker is gone. Kept: the host keys and
 * the control key under `keys/`. Under the state directory's lock, like `up`:
 * never while another command is building, drilling or starting devices.
 */
export async function rehearsalDown(options: Omit<RehearsalOptions, "inventory">): Promise<DownResult> {
  return withRehearsalLock(options.stateDir, "amadegi rehearsal down", options.log, () => down(options));
}

/** rehearsalDown, for a caller that holds the lock already (up, clearing the way or after a failure). */
async function down(options: Omit<RehearsalOptions, "inventory">): Promise<DownResult> {
  const started = Date.now();
  const state = layout(resolve(options.stateDir));
  const { marker } = readMarker(state.dir);
  const prefix = marker?.prefix ?? options.prefix ?? DEFAULT_PREFIX;
  const names = namespaceNames(prefix);
  const namespaces = new Set<string>(listNetns().filter(names.owns));
  for (const step of marker?.steps ?? []) if (step.kind === "netns" && listNetns().includes(step.name)) namespaces.add(step.name);

  // Processes first: a namespace outlives its deletion while a process holds it.
  const pids = new Set<number>();
  for (const ns of namespaces) for (const pid of await netnsPids(ns)) pids.add(pid);
  for (const step of (marker?.steps ?? []) as Marker["steps"]) {
    if (step.kind === "process" && step.pid !== undefined && cmdline(step.pid)?.includes(state.dir) === true) pids.add(step.pid);
  }
  for (const pid of ours(state)) pids.add(pid);
  const stubborn = await stopProcesses([...pids]);

  const leftovers: string[] = stubborn.map((pid) => `process ${pid} (${cmdline(pid) ?? "?"}) would not stop`);
  for (const ns of namespaces) {
    try {
      await ip(["netns", "del", ns]);
    } catch (error) {
      leftovers.push(`namespace ${ns}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  const files = new Set<string>([state.servers, state.pins, state.supervisorSpec, state.supervisorLog, state.supervisorStatus]);
  for (const step of marker?.steps ?? []) if (step.kind === "file") files.add(resolve(step.path));
  const removed: string[] = [];
  for (const file of files) {
    // A marker is data: never let one point down at something outside the state directory or at the kept keys.
    if (!inside(state.dir, file) || file === state.keys || inside(state.keys, file)) continue;
    if (existsSync(file)) {
      await rm(file, { recursive: true, force: true });
      removed.push(file);
    }
  }
  for (const ns of listNetns().filter(names.owns)) leftovers.push(`namespace ${ns} still exists`);
  for (const pid of ours(state)) if (alive(pid)) leftovers.push(`process ${pid} still runs (${cmdline(pid) ?? "?"})`);
  if (leftovers.length === 0) await rm(markerPath(state.dir), { force: true });
  return { namespaces: [...namespaces].sort(), processes: pids.size, files: removed, leftovers, elapsedMs: Date.now() - started };
}
