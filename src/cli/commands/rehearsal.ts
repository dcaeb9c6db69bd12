import { join, resolve } from "node:path";
import { UsageError } from "../../lib/errors.ts";
import { ExitCode } from "../../lib/exit.ts";
import { rehearsalPaths, STATE_HELP, statePaths } from "../../lib/state.ts";
import { layout, planFor, rehearsalDown, rehearsalStatus, rehearsalUp, type Plan, type RehearsalStatus } from "../../rehearsal/index.ts";
import { deviceKeys, type DevicesOptions, devicesStatus, type DevicesStatus, startDevices, stopDevices } from "../../rehearsal/responders.ts";
import { type Command, flag, type Io, type ParsedArgs, stringOption } from "../command.ts";
import { displayPath } from "./validate.ts";

const ACTIONS = ["up", "status", "down", "devices"] as const;
const DEVICE_ACTIONS = ["keys", "start", "stop", "status"] as const;

function counts(plan: Plan): string {
  const answering = plan.operators.reduce((n, o) => n + o.answering, 0);
  const blind = plan.operators.reduce((n, o) => n + o.blind.length, 0);
  const weak = plan.operators.reduce((n, o) => n + o.weak.length, 0);
  return `${plan.namespaces.length} namespaces, ${plan.veths.length} veth links, ${plan.servers.length} sshd servers, ${answering} link addresses answering (${blind} blind spots down, ${weak} weak links lossy)`;
}

function printStatus(io: Io, status: RehearsalStatus): void {
  io.out(status.whole ? "rehearsal is up and whole" : status.exists ? "rehearsal is NOT whole" : "rehearsal is not up");
  if (status.marker !== undefined) io.out(`  marker: ${status.marker.complete ? "complete" : "INCOMPLETE"}, ${status.marker.steps} steps, started ${status.marker.startedAt}; ${status.matchesInventory ? "matches the inventory" : "does NOT match the inventory"}`);
  for (const ns of status.namespaces) io.out(`  ${ns.exists ? (ns.problems.length === 0 ? "ok  " : "BAD ") : "--  "} ${ns.name} (${ns.role})${ns.problems.length > 0 && ns.exists ? `: ${ns.problems.join("; ")}` : ""}`);
  const listening = status.servers.filter((s) => s.listening).length;
  io.out(`  sshd: ${listening}/${status.servers.length} listening${status.supervisor === undefined ? "" : `, supervisor pid ${status.supervisor.pid} ${status.supervisor.alive ? "running" : "NOT running"}`}`);
  for (const p of status.problems) io.out(`  problem: ${p}`);
}

/** A positive number option (`--interval 30`), scaled (seconds → ms); a bad one is a usage error naming it. */
function numberOption(args: ParsedArgs, name: string, scale: number, limits: { min: number; max: number }): number | undefined {
  const text = stringOption(args, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < limits.min || value > limits.max) {
    throw new UsageError(`--${name} ${JSON.stringify(text)}: expected a number from ${limits.min} to ${limits.max}`, { hint: "see `amadegi rehearsal --help`" });
  }
  return Math.round(value * scale * 1000) / 1000;
}

function printDevices(io: Io, status: DevicesStatus): void {
  if (status.operators.length === 0) {
    io.out("devices: no responder was started (amadegi rehearsal devices start)");
    return;
  }
  const total = { ok: 0, failing: 0, pending: 0, "no-certificate": 0 };
  for (const o of status.operators) for (const [k, n] of Object.entries(o.counts)) total[k as keyof typeof total] += n;
  io.out(`devices: ${status.running ? "responders running" : "NOT all responders running"}; ${status.links.length} links: ${total.ok} ok, ${total.failing} failing, ${total.pending} not tried yet, ${total["no-certificate"]} without a certificate`);
  for (const o of status.operators) {
    const c = o.counts;
    io.out(`  ${o.running ? "ok  " : "--  "} ${o.operator}: ${o.running ? `pid ${o.pid}` : "not running"}, ${o.links} links: ${c.ok} ok, ${c.failing} failing, ${c.pending} not tried, ${c["no-certificate"]} no certificate${o.header === undefined ? "" : `; status of ${o.header.updatedAt}`}`);
  }
  const failing = status.links.filter((l) => l.state === "failing").slice(0, 5);
  for (const l of failing) io.out(`  failing: ${l.link} (${l.station}, ${l.address}) since ${l.failedAt ?? "?"}: ${l.last?.failure ?? "?"} at ${l.last?.gateway ?? "?"}${l.last?.error === undefined ? "" : ` (${l.last.error})`}`);
}

async function devicesAction(sub: string | undefined, args: ParsedArgs, io: Io, options: DevicesOptions): Promise<ExitCode> {
  if (sub === undefined || !(DEVICE_ACTIONS as readonly string[]).includes(sub)) {
    throw new UsageError(`rehearsal devices needs one of ${DEVICE_ACTIONS.join(", ")}${sub === undefined ? "" : `, not "${sub}"`}`, { hint: "see `amadegi rehearsal --help`" });
  }
  const json = flag(args, "json");
  if (sub === "keys") {
    const result = await deviceKeys(options);
    if (json) io.out(JSON.stringify(result, null, 2));
    else io.out(`device keys in ${(result.elapsedMs / 1000).toFixed(1)}s: ${result.devices} devices, ${result.created} new, ${result.requests} requests remade, ${result.kept} kept (${rehearsalPaths(options.stateDir).devices}/<serial>.key, .csr)`);
    return ExitCode.OK;
  }
  if (sub === "status") {
    const status = devicesStatus(options.stateDir);
    if (json) io.out(JSON.stringify(status, null, 2));
    else printDevices(io, status);
    return status.running ? ExitCode.OK : ExitCode.FINDINGS;
  }
  if (process.getuid?.() !== 0) {
    io.err(`rehearsal devices ${sub}: needs root (the responders run inside the rehearsal's operator namespaces); run it as root, e.g. sudo npx amadegi rehearsal devices ${sub}`);
    return ExitCode.CANNOT_RUN;
  }
  if (sub === "stop") {
    const result = await stopDevices(options);
    if (json) io.out(JSON.stringify(result, null, 2));
    else {
      io.out(`devices stopped: ${result.stopped} responders (their status stays in ${join(options.stateDir, "devices", "run")})`);
      for (const l of result.leftovers) io.err(`  left behind: ${l}`);
    }
    return result.leftovers.length === 0 ? ExitCode.OK : ExitCode.CANNOT_RUN;
  }
  const result = await startDevices(options);
  if (json) io.out(JSON.stringify(result, null, 2));
  else {
    const every = `every ${(result.intervalMs / 1000).toFixed(1)}s`;
    io.out(`${result.changed ? "devices started" : "devices already running, unchanged"}: ${result.responders.length} responders, ${result.links} links of ${result.devices} devices, ${every} (~${Math.round(result.links / (result.intervalMs / 1000))} check-ins/s)`);
    for (const r of result.responders) io.out(`  ${r.operator}: pid ${r.pid} in ${r.ns}, ${r.links} links`);
    if (result.uncertified.length > 0) io.err(`  ${result.uncertified.length} devices have no issued certificate (e.g. ${result.uncertified.slice(0, 3).join(", ")}): their links do not check in; run the rehearsal stack's up`);
    io.out(`  status: amadegi rehearsal devices status   stop: amadegi rehearsal devices stop (rehearsal down stops them too)`);
  }
  return ExitCode.OK;
}

export const rehearsalCommand: Command = {
  name: "rehearsal",
  usage: [
    "Usage: amadegi rehearsal up|status|down [--inventory DIR] [--state DIR] [--json]",
    "       amadegi rehearsal devices keys|start|stop|status [--inventory DIR] [--state DIR] [--interval S]",
    "                                [--jitter F] [--in-flight N] [--timeout S] [--json]",
    "",
    "  up               build the rehearsal from the inventory: a core namespace with every central server",
    "                   (a real sshd each), one namespace per operator answering its stations' link addresses,",
    "                   a probing namespace (amadegi-r-probe); link quality from the survey data. Idempotent.",
    "  status           what is up, and whether it matches the inventory (sends no packet)",
    "  down             remove every namespace, process and file up made, also after a crash of up",
    "                   (host keys are kept, so the pins stay valid)",
    "  devices keys     a key and a certificate request per station device (devices/ of --state; kept by down):",
    "                   what the rehearsal stack signs",
    "  devices start    one responder per operator namespace: every station device checks in to its gateways",
    "                   over each of its links (mutual TLS from the link's address); after up and the stack's up",
    "  devices stop     stop them (rehearsal down does too); devices status: what each link's last check-in did",
    "  --interval S     devices: mean seconds between a link's check-ins (default: links / 40, at least 15)",
    "  --jitter F       devices: each wait is the interval × (1 ± F) (default 0.1)",
    "  --in-flight N    devices: check-ins at once per responder (default 32)",
    "  --timeout S      devices: one attempt to one gateway (default 5)",
    "  --inventory DIR  the inventory (default: inventory)",
    "  --state DIR      marker, configs, logs and kept keys (default: <state>/rehearsal, where the rehearsal",
    "                   stack's settings name its pins, CA and devices)",
    "  --json           print the result as JSON",
    "",
    `${STATE_HELP}.`,
    "Needs root (devices keys and status do not). See docs/rehearsal.md. Exit codes: 0 done / whole;",
    "1 status: not whole or not up (devices status: a responder not running);",
    "2 could not run (not root, bad inventory, a tool failed, down left something behind, or busy:",
    "another up, down, devices start|stop or drill holds this rehearsal's state directory; it is named).",
  ].join("\n"),
  options: {
    inventory: { type: "string" },
    state: { type: "string" },
    json: { type: "boolean" },
    interval: { type: "string" },
    jitter: { type: "string" },
    "in-flight": { type: "string" },
    timeout: { type: "string" },
  },
  positionals: true,
  async run(args, io) {
    const [action, ...extra] = args.positionals;
    const extraAllowed = action === "devices" ? 1 : 0;
    if (action === undefined || !(ACTIONS as readonly string[]).includes(action) || extra.length > extraAllowed) {
      throw new UsageError(`rehearsal needs one of ${ACTIONS.join(", ")}${action === undefined ? "" : `, not "${args.positionals.join(" ")}"`}`, { hint: "see `amadegi rehearsal --help`" });
    }
    if (action === "devices") {
      const interval = numberOption(args, "interval", 1000, { min: 1, max: 86_400 });
      const jitter = numberOption(args, "jitter", 1, { min: 0, max: 0.9 });
      const inFlight = numberOption(args, "in-flight", 1, { min: 1, max: 4096 });
      const timeout = numberOption(args, "timeout", 1000, { min: 0.1, max: 600 });
      const inventory = displayPath(io, stringOption(args, "inventory") ?? "inventory");
      const stateDirectory = resolve(io.cwd, stringOption(args, "state") ?? statePaths(io.env).rehearsal.dir);
      return devicesAction(extra[0], args, io, {
        inventory,
        stateDir: stateDirectory,
        ...(interval === undefined ? {} : { intervalMs: interval }),
        ...(jitter === undefined ? {} : { jitter }),
        ...(inFlight === undefined ? {} : { maxInFlight: Math.round(inFlight) }),
        ...(timeout === undefined ? {} : { timeoutMs: timeout }),
        log: flag(args, "json") ? () => undefined : (line: string) => io.err(`  ${line}`),
      });
    }
    if (process.getuid?.() !== 0) {
      io.err("rehearsal: needs root (it creates network namespaces, nftables rules and sshd servers on the inventory's addresses inside them); run it as root, e.g. sudo npx amadegi rehearsal " + action);
      return ExitCode.CANNOT_RUN;
    }
    const json = flag(args, "json");
    const inventory = displayPath(io, stringOption(args, "inventory") ?? "inventory");
    const state = resolve(io.cwd, stringOption(args, "state") ?? statePaths(io.env).rehearsal.dir);
    const options = { inventory, stateDir: state, log: json ? () => undefined : (line: string) => io.err(`  ${line}`) };
    if (action === "down") {
      const result = await rehearsalDown(options);
      if (json) io.out(JSON.stringify(result, null, 2));
      else {
        io.out(`rehearsal down in ${(result.elapsedMs / 1000).toFixed(1)}s: ${result.namespaces.length} namespaces, ${result.processes} processes, ${result.files.length} files removed (host keys kept in ${layout(state).keys})`);
        for (const l of result.leftovers) io.err(`  left behind: ${l}`);
      }
      return result.leftovers.length === 0 ? ExitCode.OK : ExitCode.CANNOT_RUN;
    }
    if (action === "status") {
      const plan = await planFor(options);
      const status = await rehearsalStatus(plan, layout(state));
      if (json) io.out(JSON.stringify(status, null, 2));
      else {
        printStatus(io, status);
        const devices = devicesStatus(state);
        if (devices.operators.length > 0) io.out(`  devices: ${devices.operators.filter((o) => o.running).length}/${devices.operators.length} responders running, ${devices.links.filter((l) => l.state === "ok").length}/${devices.links.length} links checking in (amadegi rehearsal devices status)`);
      }
      return status.whole ? ExitCode.OK : ExitCode.FINDINGS;
    }
    const result = await rehearsalUp(options);
    if (json) io.out(JSON.stringify({ changed: result.changed, elapsedMs: result.elapsedMs, plan: { namespaces: result.plan.namespaces.map((n) => n.name), veths: result.plan.veths.length, servers: result.plan.servers.length, operators: result.plan.operators.map((o) => ({ id: o.id, ns: o.ns, interconnects: o.interconnects, addresses: o.addresses, answering: o.answering, blind: o.blind.length, weak: o.weak.length })), hash: result.plan.hash }, status: result.status }, null, 2));
    else {
      io.out(`${result.changed ? "rehearsal up" : "rehearsal already up, unchanged"} in ${(result.elapsedMs / 1000).toFixed(1)}s: ${counts(result.plan)}`);
      io.out(`  probe from: ip netns exec ${result.plan.probe} …   (amadegi check --stack rehearsal does it for you)`);
      io.out(`  pins: ${layout(state).pins}   stop: amadegi rehearsal down`);
      if (!result.status.whole) for (const p of result.status.problems) io.err(`  problem: ${p}`);
    }
    return result.status.whole ? ExitCode.OK : ExitCode.CANNOT_RUN;
  },
};
