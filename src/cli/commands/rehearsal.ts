import { join, resolve } from "node:path";
import { InventoryError, UsageError } from "../../lib/errors.ts";
import { ExitCode } from "../../lib/exit.ts";
import { rehearsalPaths, STATE_HELP, statePaths } from "../../lib/state.ts";
import { loadInventory } from "../../model/index.ts";
import { type Lang, writeRehearsalHtml } from "../../readiness/report/index.ts";
import { layout, planFor, rehearsalDown, rehearsalStatus, rehearsalUp, type Plan, type RehearsalStatus } from "../../rehearsal/index.ts";
import { ANSWERING_STATES } from "../../rehearsal/plan.ts";
import { deviceKeys, type DevicesOptions, devicesStatus, type DevicesStatus, startDevices, stopDevices } from "../../rehearsal/responders.ts";
import { defineCommand, defineGroup, type Io, type OptionValues } from "../command.ts";
import { displayPath } from "../shared.ts";

function counts(plan: Plan): string {
  const answering = plan.operators.reduce((n, o) => n + o.answering, 0);
  const blind = plan.operators.reduce((n, o) => n + o.blind.length, 0);
  const weak = plan.operators.reduce((n, o) => n + o.weak.length, 0);
  return (
    `${plan.namespaces.length} namespaces, ${plan.veths.length} veth links, ${plan.servers.length} sshd servers, ` +
    `${answering} link addresses answering (${blind} blind spots down, ${weak} weak links lossy)`
  );
}

function printStatus(io: Io, status: RehearsalStatus): void {
  io.out(status.whole ? "rehearsal is up and whole" : status.exists ? "rehearsal is NOT whole" : "rehearsal is not up");
  if (status.marker !== undefined)
    io.out(
      `  marker: ${status.marker.complete ? "complete" : "INCOMPLETE"}, ${status.marker.steps} steps, started ${status.marker.startedAt}; ` +
        `${status.matchesInventory ? "matches the inventory" : "does NOT match the inventory"}`,
    );
  for (const ns of status.namespaces)
    io.out(
      `  ${ns.exists ? (ns.problems.length === 0 ? "ok  " : "BAD ") : "--  "} ${ns.name} (${ns.role})` +
        `${ns.problems.length > 0 && ns.exists ? `: ${ns.problems.join("; ")}` : ""}`,
    );
  const listening = status.servers.filter((s) => s.listening).length;
  io.out(
    `  sshd: ${listening}/${status.servers.length} listening` +
      `${status.supervisor === undefined ? "" : `, supervisor pid ${status.supervisor.pid} ${status.supervisor.alive ? "running" : "NOT running"}`}`,
  );
  for (const p of status.problems) io.out(`  problem: ${p}`);
}

/** A positive number option (`--interval 30`), scaled (seconds → ms); a bad one is a usage error naming it. */
function numberOption(name: string, text: string | undefined, scale: number, limits: { min: number; max: number }): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < limits.min || value > limits.max) {
    throw new UsageError(`--${name} ${JSON.stringify(text)}: expected a number from ${limits.min} to ${limits.max}`, {
      hint: "see `amadegi rehearsal devices start --help`",
    });
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
  io.out(
    `devices: ${status.running ? "responders running" : "NOT all responders running"}; ${status.links.length} links: ` +
      `${total.ok} ok, ${total.failing} failing, ${total.pending} not tried yet, ${total["no-certificate"]} without a certificate`,
  );
  for (const o of status.operators) {
    const c = o.counts;
    io.out(
      `  ${o.running ? "ok  " : "--  "} ${o.operator}: ${o.running ? `pid ${o.pid}` : "not running"}, ` +
        `${o.links} links: ${c.ok} ok, ${c.failing} failing, ${c.pending} not tried, ${c["no-certificate"]} no certificate` +
        `${o.header === undefined ? "" : `; status of ${o.header.updatedAt}`}`,
    );
  }
  const failing = status.links.filter((l) => l.state === "failing").slice(0, 5);
  for (const l of failing)
    io.out(
      `  failing: ${l.link} (${l.station}, ${l.address}) since ${l.failedAt ?? "?"}: ` +
        `${l.last?.failure ?? "?"} at ${l.last?.gateway ?? "?"}${l.last?.error === undefined ? "" : ` (${l.last.error})`}`,
    );
}

/** The options of every rehearsal sub-command. */
const common = {
  inventory: { type: "string", placeholder: "DIR", default: "inventory", description: "the inventory" },
  state: {
    type: "string",
    placeholder: "DIR",
    description: "marker, configs, logs and kept keys (default: <state>/rehearsal, where the rehearsal\nstack's settings name its pins, CA and devices)",
  },
  json: { type: "boolean", description: "print the result as JSON" },
} as const;

/** How the responders check in: devices start's alone. */
const timing = {
  interval: { type: "string", placeholder: "S", description: "mean seconds between a link's check-ins (default: links / 40, at least 15)" },
  jitter: { type: "string", placeholder: "F", description: "each wait is the interval × (1 ± F) (default 0.1)" },
  "in-flight": { type: "string", placeholder: "N", description: "check-ins at once per responder (default 32)" },
  timeout: { type: "string", placeholder: "S", description: "one attempt to one gateway (default 5)" },
} as const;

const BUSY = "another up, down, devices start|stop or drill holds this rehearsal's state directory; it is named";

/** The inventory, the state directory and where progress goes, from the common options. */
function where(values: OptionValues<typeof common>, io: Io) {
  return {
    inventory: displayPath(io, values.inventory),
    stateDir: resolve(io.cwd, values.state ?? statePaths(io.env).rehearsal.dir),
    log: values.json ? () => undefined : (line: string) => io.err(`  ${line}`),
  };
}

/** Whether this runs as root; if not, says so (naming the command to run again) and returns false. */
function asRoot(io: Io, what: string, command: string): boolean {
  if (process.getuid?.() === 0) return true;
  io.err(`${what}; run it as root, e.g. sudo npx amadegi rehearsal ${command}`);
  return false;
}

const NETWORK_ROOT = "rehearsal: needs root (it creates network namespaces, nftables rules and sshd servers on the inventory's addresses inside them)";
const DEVICES_ROOT = (sub: string) => `rehearsal devices ${sub}: needs root (the responders run inside the rehearsal's operator namespaces)`;

const UP =
  "build the rehearsal from the inventory: a core namespace with every central server\n" +
  "(a real sshd each), one namespace per operator answering its stations' link addresses,\n" +
  "a probing namespace (amadegi-r-probe); link quality from the survey data. Idempotent.";
const STATUS = "what is up, and whether it matches the inventory (sends no packet)";
const DOWN = "remove every namespace, process and file up made, also after a crash of up\n(host keys are kept, so the pins stay valid)";
const KEYS = "a key and a certificate request per station device (devices/ of --state; kept by down):\nwhat the rehearsal stack signs";
const START =
  "one responder per operator namespace: every station device checks in to its gateways\n" +
  "over each of its links (mutual TLS from the link's address); after up and the stack's up";
const STOP = "stop them (rehearsal down does too)";
const DEVICES_STATUS = "what each link's last check-in did";

const up = defineCommand({
  name: "rehearsal up",
  before: UP,
  options: common,
  after: [
    `${STATE_HELP}.`,
    "Needs root. See docs/rehearsal.md.",
    `Exit codes: 0 up and whole; 2 could not run (not root, bad inventory, a tool failed, or busy: ${BUSY}).`,
  ],
  async run(args, io) {
    if (!asRoot(io, NETWORK_ROOT, "up")) return ExitCode.CANNOT_RUN;
    const { json } = args.values;
    const options = where(args.values, io);
    const state = options.stateDir;
    const result = await rehearsalUp(options);
    if (json)
      io.out(
        JSON.stringify(
          {
            changed: result.changed,
            elapsedMs: result.elapsedMs,
            plan: {
              namespaces: result.plan.namespaces.map((n) => n.name),
              veths: result.plan.veths.length,
              servers: result.plan.servers.length,
              operators: result.plan.operators.map((o) => ({
                id: o.id,
                ns: o.ns,
                interconnects: o.interconnects,
                addresses: o.addresses,
                answering: o.answering,
                blind: o.blind.length,
                weak: o.weak.length,
              })),
              hash: result.plan.hash,
            },
            status: result.status,
          },
          null,
          2,
        ),
      );
    else {
      io.out(`${result.changed ? "rehearsal up" : "rehearsal already up, unchanged"} in ${(result.elapsedMs / 1000).toFixed(1)}s: ${counts(result.plan)}`);
      io.out(`  probe from: ip netns exec ${result.plan.probe} …   (amadegi check --stack rehearsal does it for you)`);
      io.out(`  pins: ${layout(state).pins}   stop: amadegi rehearsal down`);
      if (!result.status.whole) for (const p of result.status.problems) io.err(`  problem: ${p}`);
    }
    return result.status.whole ? ExitCode.OK : ExitCode.CANNOT_RUN;
  },
});

/** The picture of a status: its own options. */
const picture = {
  html: {
    type: "string",
    placeholder: "FILE",
    description:
      "also draw it: one self-contained page (inline SVG) of the namespaces, servers, veths and\n" +
      "links per operator × district, coloured by what is up; written atomically",
  },
  lang: { type: "string", placeholder: "fa|en", default: "fa", description: "the language of the --html page; fa is right-to-left, with Persian digits" },
} as const;

/** Draw the status into `file`: the inventory read again (planFor keeps it to itself), already known to plan. */
async function drawStatus(io: Io, file: string, inventory: string, plan: Plan, result: RehearsalStatus, lang: Lang, json: boolean): Promise<void> {
  const loaded = await loadInventory(inventory);
  if (loaded.inventory === undefined)
    throw new InventoryError(`the inventory ${inventory} changed while rehearsal status read it and no longer loads`, {
      hint: `run \`amadegi validate --inventory ${inventory}\`, then rehearsal status again`,
    });
  const input = { inventory: loaded.inventory, plan, status: result, answering: ANSWERING_STATES };
  const written = await writeRehearsalHtml(file, input, lang, new Date().toISOString());
  // Beside --json's document, never inside it.
  (json ? io.err : io.out)(`  picture: ${written.file} (${(written.bytes / 1024).toFixed(0)} KiB)`);
}

const status = defineCommand({
  name: "rehearsal status",
  before: STATUS,
  options: { ...common, ...picture },
  after: [
    `${STATE_HELP}.`,
    'Needs root. See docs/rehearsal.md ("The namespaces": --html). Exit codes: 0 whole; 1 not whole or not up;',
    "2 could not run (not root, bad inventory, the page could not be written).",
  ],
  async run(args, io) {
    const { lang } = args.values;
    if (lang !== "fa" && lang !== "en") throw new UsageError(`--lang ${lang}: expected fa or en`, { hint: "see `amadegi rehearsal status --help`" });
    if (!asRoot(io, NETWORK_ROOT, "status")) return ExitCode.CANNOT_RUN;
    const options = where(args.values, io);
    const state = options.stateDir;
    const plan = await planFor(options);
    const result = await rehearsalStatus(plan, layout(state));
    if (args.values.json) io.out(JSON.stringify(result, null, 2));
    else {
      printStatus(io, result);
      const devices = devicesStatus(state);
      if (devices.operators.length > 0)
        io.out(
          `  devices: ${devices.operators.filter((o) => o.running).length}/${devices.operators.length} responders running, ` +
            `${devices.links.filter((l) => l.state === "ok").length}/${devices.links.length} links checking in (amadegi rehearsal devices status)`,
        );
    }
    if (args.values.html !== undefined)
      await drawStatus(io, displayPath(io, args.values.html), options.inventory, plan, result, lang, args.values.json === true);
    return result.whole ? ExitCode.OK : ExitCode.FINDINGS;
  },
});

const down = defineCommand({
  name: "rehearsal down",
  before: DOWN,
  options: common,
  after: [`${STATE_HELP}.`, `Needs root. Exit codes: 0 done; 2 could not run (not root, a tool failed, down left something behind, or busy: ${BUSY}).`],
  async run(args, io) {
    if (!asRoot(io, NETWORK_ROOT, "down")) return ExitCode.CANNOT_RUN;
    const options = where(args.values, io);
    const result = await rehearsalDown(options);
    if (args.values.json) io.out(JSON.stringify(result, null, 2));
    else {
      io.out(
        `rehearsal down in ${(result.elapsedMs / 1000).toFixed(1)}s: ${result.namespaces.length} namespaces, ${result.processes} processes, ` +
          `${result.files.length} files removed (host keys kept in ${layout(options.stateDir).keys})`,
      );
      for (const l of result.leftovers) io.err(`  left behind: ${l}`);
    }
    return result.leftovers.length === 0 ? ExitCode.OK : ExitCode.CANNOT_RUN;
  },
});

const keys = defineCommand({
  name: "rehearsal devices keys",
  before: KEYS,
  options: common,
  after: [`${STATE_HELP}.`, "Exit codes: 0 done; 2 could not run (bad inventory)."],
  async run(args, io) {
    const options: DevicesOptions = where(args.values, io);
    const result = await deviceKeys(options);
    if (args.values.json) io.out(JSON.stringify(result, null, 2));
    else
      io.out(
        `device keys in ${(result.elapsedMs / 1000).toFixed(1)}s: ${result.devices} devices, ${result.created} new, ` +
          `${result.requests} requests remade, ${result.kept} kept (${rehearsalPaths(options.stateDir).devices}/<serial>.key, .csr)`,
      );
    return ExitCode.OK;
  },
});

const start = defineCommand({
  name: "rehearsal devices start",
  before: START,
  options: { ...timing, ...common },
  after: [
    `${STATE_HELP}.`,
    `Needs root. See docs/rehearsal.md. Exit codes: 0 started (or running); 2 could not run (not root, bad inventory, or busy: ${BUSY}).`,
  ],
  async run(args, io) {
    const interval = numberOption("interval", args.values.interval, 1000, { min: 1, max: 86_400 });
    const jitter = numberOption("jitter", args.values.jitter, 1, { min: 0, max: 0.9 });
    const inFlight = numberOption("in-flight", args.values["in-flight"], 1, { min: 1, max: 4096 });
    const timeout = numberOption("timeout", args.values.timeout, 1000, { min: 0.1, max: 600 });
    if (!asRoot(io, DEVICES_ROOT("start"), "devices start")) return ExitCode.CANNOT_RUN;
    const result = await startDevices({
      ...where(args.values, io),
      ...(interval === undefined ? {} : { intervalMs: interval }),
      ...(jitter === undefined ? {} : { jitter }),
      ...(inFlight === undefined ? {} : { maxInFlight: Math.round(inFlight) }),
      ...(timeout === undefined ? {} : { timeoutMs: timeout }),
    });
    if (args.values.json) io.out(JSON.stringify(result, null, 2));
    else {
      const every = `every ${(result.intervalMs / 1000).toFixed(1)}s`;
      io.out(
        `${result.changed ? "devices started" : "devices already running, unchanged"}: ${result.responders.length} responders, ` +
          `${result.links} links of ${result.devices} devices, ${every} (~${Math.round(result.links / (result.intervalMs / 1000))} check-ins/s)`,
      );
      for (const r of result.responders) io.out(`  ${r.operator}: pid ${r.pid} in ${r.ns}, ${r.links} links`);
      if (result.uncertified.length > 0)
        io.err(
          `  ${result.uncertified.length} devices have no issued certificate (e.g. ${result.uncertified.slice(0, 3).join(", ")}): ` +
            `their links do not check in; run the rehearsal stack's up`,
        );
      io.out(`  status: amadegi rehearsal devices status   stop: amadegi rehearsal devices stop (rehearsal down stops them too)`);
    }
    return ExitCode.OK;
  },
});

const stop = defineCommand({
  name: "rehearsal devices stop",
  before: STOP,
  options: common,
  after: [`${STATE_HELP}.`, `Needs root. Exit codes: 0 stopped; 2 could not run (not root, something left behind, or busy: ${BUSY}).`],
  async run(args, io) {
    if (!asRoot(io, DEVICES_ROOT("stop"), "devices stop")) return ExitCode.CANNOT_RUN;
    const options = where(args.values, io);
    const result = await stopDevices(options);
    if (args.values.json) io.out(JSON.stringify(result, null, 2));
    else {
      io.out(`devices stopped: ${result.stopped} responders (their status stays in ${join(options.stateDir, "devices", "run")})`);
      for (const l of result.leftovers) io.err(`  left behind: ${l}`);
    }
    return result.leftovers.length === 0 ? ExitCode.OK : ExitCode.CANNOT_RUN;
  },
});

const devicesStatusCommand = defineCommand({
  name: "rehearsal devices status",
  before: DEVICES_STATUS,
  options: common,
  after: [`${STATE_HELP}.`, "Exit codes: 0 every responder running; 1 a responder not running (or none started); 2 could not run."],
  async run(args, io) {
    const result = devicesStatus(where(args.values, io).stateDir);
    if (args.values.json) io.out(JSON.stringify(result, null, 2));
    else printDevices(io, result);
    return result.running ? ExitCode.OK : ExitCode.FINDINGS;
  },
});

const devices = defineGroup({
  name: "rehearsal devices",
  synopsis: [
    "amadegi rehearsal devices keys|start|stop|status [--inventory DIR] [--state DIR] [--interval S]",
    "                         [--jitter F] [--in-flight N] [--timeout S] [--json]",
  ],
  subcommands: [
    { name: "keys", summary: KEYS, command: keys },
    { name: "start", summary: START, command: start },
    { name: "stop", summary: STOP, command: stop },
    { name: "status", summary: DEVICES_STATUS, command: devicesStatusCommand },
  ],
  after: [
    "Run `amadegi rehearsal devices <action> --help` for its options (--interval, --jitter, --in-flight, --timeout: start's).",
    "Needs root (keys and status do not). See docs/rehearsal.md.",
  ],
});

export const rehearsalCommand = defineGroup({
  name: "rehearsal",
  synopsis: [
    "amadegi rehearsal up|status|down [--inventory DIR] [--state DIR] [--json]",
    "amadegi rehearsal status [--html FILE] [--lang fa|en]",
    "amadegi rehearsal devices keys|start|stop|status [--inventory DIR] [--state DIR] [--interval S]",
    "                         [--jitter F] [--in-flight N] [--timeout S] [--json]",
  ],
  subcommands: [
    { name: "up", summary: UP, command: up },
    { name: "status", summary: STATUS, command: status },
    { name: "down", summary: DOWN, command: down },
    { name: "devices", summary: "the station devices' responders", command: devices },
  ],
  after: [
    "Run `amadegi rehearsal <action> --help` for its options: --inventory DIR, --state DIR (default: <state>/rehearsal),",
    "--json; devices start's --interval, --jitter, --in-flight, --timeout.",
    "",
    `${STATE_HELP}.`,
    "Needs root (devices keys and status do not). See docs/rehearsal.md. Exit codes: 0 done / whole;",
    "1 status: not whole or not up (devices status: a responder not running);",
    "2 could not run (not root, bad inventory, a tool failed, down left something behind, or busy:",
    `${BUSY}).`,
  ],
});
