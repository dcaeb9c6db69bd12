// npm run bench:scale — the whole pipeline at growing size (issue 20). Each step is an inventory:
// the sample (Pakdasht and Tehran) or `amadegi generate --stations N`; each is brought up in the
// rehearsal and taken through every stage, each stage a process of its own, timed, with its peak
// memory and the counts that drive its cost:
//
//   validate (beside a bare js-yaml load of the same files) → rehearsal up → device keys → stack up
//   → up with no change → preview → devices start and the first check-in over every link (at a
//   fixed 150 check-ins per second in every step) → check → devices stop → drift → gate and report (beside a cold
//   stream-parse of the same results file) → the devices started again, quiet (a check-in per link a day), and check
//   → destroy → rehearsal down
//
// Counts per stage: SSH logins the rehearsal's sshd accepted (connections: a shared one, ADR 0020, carries many sessions), processes forked on the machine
// (/proc/stat), the CPU seconds the monitors' Prometheus and exporters spent meanwhile, and the kernel's own threads
// (kdamond, ksoftirqd, kworkers: scripts/bench/machine.ts), checkpoint
// writes (each a new temporary file the backend renames into place) and its bytes, the engine's
// resources, the campaign's targets, the devices' check-ins, the machine's busy share while the
// devices checked in (what the check after it will not get), and when the three checks that held each
// check's end ended (its report's spans). Then one table per step and the growth table: each
// stage's time factor between consecutive steps against its work factor (stations, links or
// servers × roles, as the stage's cost is driven); a stage growing more than 1.25 × its work factor
// is marked. A measurement, not a test: it asserts only that each stage did
// its job. Root only; its own namespaces (amadegi-r-s<pid>-…), state, Pulumi backend and stack
// (stacks/Pulumi.scale-<pid>.yaml, removed after): every packet stays inside them.
//
//   npm run bench:scale [-- --steps sample,10000,58640] [--json FILE] [--deadline 300s]
//   npm run bench:scale -- --tables FILE    (the tables again, from a run's --json)
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, watch, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadInventory } from "../src/model/index.ts";
import { waitForFirstCheckins } from "../src/rehearsal/responders.ts";
import { cpuMsSince, kernelThread, machineLine, processTicks } from "./bench/machine.ts";
import { type ChildUsage, usageHook } from "./bench/usage.ts";
import { writeRehearsalStack } from "../src/rehearsal/stackfile.ts";

const REPO = join(import.meta.dirname, "..");
const CLI = join(REPO, "bin", "amadegi.js");
const { values } = parseArgs({
  options: {
    steps: { type: "string", default: "sample,10000,58640" },
    json: { type: "string" },
    deadline: { type: "string", default: "300s" },
    rate: { type: "string", default: "150" },
    milestone: { type: "string", default: "T-7" },
    tables: { type: "string" },
  },
});
const STEPS = (values.steps ?? "").split(",").filter((s) => s !== "");
/** Each link's check-in interval while the devices are quiet: once a day. */
const QUIET_INTERVAL_S = 86_400;
const RATE = Number(values.rate);

/** How long the engine said the devices' issuance took (`election-devices created (1m5s)`), in seconds; nothing when it did not run. */
function deviceIssuance(engineOutput: string): Record<string, number> {
  const took = /election-devices created \((?:(\d+)m)?(\d+(?:\.\d+)?)s\)/.exec(engineOutput);
  return took === null ? {} : { devicesS: Number(took[1] ?? 0) * 60 + Number(took[2]) };
}

/** What drives a stage's cost: the work factor its growth is judged against. */
type Driver = "stations" | "links" | "server-roles" | "resources";
const STAGES: readonly { readonly name: string; readonly driver: Driver }[] = [
  { name: "validate", driver: "stations" },
  { name: "rehearsal up", driver: "links" },
  { name: "device keys", driver: "stations" },
  { name: "stack up", driver: "resources" },
  { name: "up, no change", driver: "resources" },
  { name: "preview", driver: "resources" },
  { name: "devices start", driver: "links" },
  { name: "first check-in", driver: "links" },
  { name: "check", driver: "links" },
  { name: "check, devices quiet", driver: "links" },
  { name: "devices stop", driver: "links" },
  { name: "drift", driver: "server-roles" },
  { name: "gate", driver: "links" },
  { name: "report", driver: "links" },
  { name: "destroy", driver: "resources" },
  { name: "rehearsal down", driver: "links" },
];

interface Stage {
  readonly name: string;
  readonly ms: number;
  /** The stage's own process (user + system). */
  readonly cpuMs: number;
  /** Every process on the machine while the stage ran: the engine, sshd and nginx it drives included. */
  readonly machineCpuMs: number;
  /** The stage's own process's peak RSS. */
  readonly rssMiB: number;
  readonly code: number | null;
  /** The counts that drive its cost, by name. */
  readonly counts: Record<string, number>;
  readonly note: string;
}

interface Step {
  readonly step: string;
  readonly stations: number;
  readonly links: number;
  readonly servers: number;
  readonly serverRoles: number;
  resources: number;
  readonly stages: Stage[];
  /** Floors measured beside the stages: bare js-yaml load, a cold stream-parse of the results. */
  readonly floors: Record<string, { ms: number; cpuMs: number }>;
  rehearsalMiB: number;
}

const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** A child node process that reports its own CPU time and peak RSS at exit; its stdout. */
function measured(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ ms: number; cpuMs: number; rssMiB: number; code: number | null; out: string; err: string; why: string }> {
  const usageFile = join(tmpdir(), `amadegi-scale-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
  const started = performance.now();
  const child = spawn(process.execPath, ["--import", usageHook(usageFile), ...args], {
    cwd: REPO,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (err = err.length > 4_000_000 ? err : err + c.toString()));
  return new Promise((resolve) => {
    child.on("close", (code) => {
      const ms = performance.now() - started;
      let usage: ChildUsage = { userCPUTime: Number.NaN, systemCPUTime: 0, peakKiB: Number.NaN };
      try {
        usage = JSON.parse(readFileSync(usageFile, "utf8")) as typeof usage;
      } catch {
        // no usage: the child died before its exit hook
      }
      void rm(usageFile, { force: true });
      resolve({
        ms,
        cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
        rssMiB: usage.peakKiB / 1024,
        code,
        // stdout whole whatever the exit: an invalid campaign (exit 2) prints its report there too, and is a figure.
        out,
        why: code === 0 || code === 1 ? out : `${err}\n${out.slice(-1000)}`,
        err,
      });
    });
  });
}

/** Processes forked on this machine since boot (/proc/stat). */
function forks(): number {
  return Number(/^processes (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))?.[1] ?? Number.NaN);
}

/** SSH logins the rehearsal's servers accepted so far (each server's sshd.log). */
function sshSessions(state: string): number {
  const servers = join(state, "servers");
  if (!existsSync(servers)) return 0;
  let n = 0;
  for (const server of readdirSync(servers)) {
    const log = join(servers, server, "sshd.log");
    if (existsSync(log)) n += readFileSync(log, "utf8").split("Accepted publickey").length - 1;
  }
  return n;
}

/** CPU time spent on this machine since boot, every process (user + nice + system), ms: the engine, sshd and nginx included. */
function machineCpuMs(): number {
  const fields = (/^cpu\s+(.*)$/m.exec(readFileSync("/proc/stat", "utf8"))?.[1] ?? "").split(/\s+/).map(Number);
  const ticks = (fields[0] ?? 0) + (fields[1] ?? 0) + (fields[2] ?? 0);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/**
 * The monitors' processes (Prometheus, blackbox_exporter, node_exporter: every command named `prometheus*`):
 * each monitor probes every link (docs/monitoring.md, "The rehearsal's cost"), so their share of the
 * machine is what the other stages wait on.
 */
const monitor = (name: string): boolean => name.startsWith("prometheus");

/** Memory in use on the machine (MemTotal − MemAvailable), MiB. */
function memoryInUseMiB(): number {
  const info = readFileSync("/proc/meminfo", "utf8");
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(info)?.[1] ?? Number.NaN);
  return (kb("MemTotal") - kb("MemAvailable")) / 1024;
}

/**
 * Counts the writes of the stack's checkpoint while a stage runs: the file backend writes each
 * version to a fresh `<stack>.json.<random>.tmp` and renames it into place, so each new temporary
 * name inotify reports is one write of the whole checkpoint.
 */
function checkpointWatch(backend: string, stack: string): { stop: () => number } {
  const seen = new Set<string>();
  if (!existsSync(backend)) return { stop: () => 0 };
  const watcher = watch(backend, { recursive: true }, (_event, file) => {
    if (file !== null && file.includes(`${stack}.json.`) && file.endsWith(".tmp")) seen.add(file);
  });
  return {
    stop: () => {
      watcher.close();
      return seen.size;
    },
  };
}

function checkpointBytes(backend: string, stack: string): number {
  const dir = join(backend, ".pulumi", "stacks");
  if (!existsSync(dir)) return 0;
  for (const project of readdirSync(dir)) {
    const file = join(dir, project, `${stack}.json`);
    if (existsSync(file)) return statSync(file).size;
  }
  return 0;
}

async function runStep(step: string, work: string): Promise<Step> {
  // A step is `sample`, `N` (stations over the whole country) or `N:P:S` (N stations in the first P provinces,
  // with S data centres: a smaller country, whose central servers do not dwarf the step).
  const [stations, provinces, sites] = step.split(":");
  const name = step.replaceAll(":", "-");
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  const prefix = `amadegi-r-s${process.pid % 10000}${step === "sample" ? "s" : step.length}-`;
  const stack = `scale-${process.pid}-${name}`;
  const stackFile = join(REPO, "stacks", `Pulumi.${stack}.yaml`);
  const state = join(dir, "rehearsal");
  const engine = join(dir, "engine");
  const backend = join(engine, "pulumi");
  await mkdir(backend, { recursive: true, mode: 0o700 });
  await writeFile(join(engine, "passphrase"), "bench passphrase\n", { mode: 0o600 });
  const env = { ...process.env, AMADEGI_STATE_DIR: engine, PULUMI_CONFIG_PASSPHRASE_FILE: join(engine, "passphrase"), NO_COLOR: "1" };

  let inventory = join(REPO, "inventory");
  if (step !== "sample") {
    const shape = [...(provinces === undefined ? [] : ["--provinces", provinces]), ...(sites === undefined ? [] : ["--sites", sites])];
    const made = await measured([CLI, "generate", "--stations", stations ?? step, ...shape, "--out", dir, "--seed", "1"], env);
    if (made.code !== 0) throw new Error(`generate --stations ${step} failed: ${made.why.slice(-1500)}`);
    inventory = join(dir, "inventory");
  }
  const inv = (await loadInventory(inventory)).inventory;
  if (inv === undefined) throw new Error(`the ${step} inventory does not load`);
  const links = inv.stations.reduce((n, st) => n + st.links.length, 0);
  const result: Step = {
    step,
    stations: inv.stations.length,
    links,
    servers: inv.servers.length,
    serverRoles: inv.servers.reduce((n, sv) => n + sv.roles.length, 0),
    resources: 0,
    stages: [],
    floors: {},
    rehearsalMiB: 0,
  };
  console.log(`step ${step}: ${result.stations} stations, ${links} links, ${result.servers} servers (${result.serverRoles} roles)`);

  const stage = async (
    stageName: string,
    args: readonly string[],
    ok: readonly number[],
    count: (out: string, err: string) => Record<string, number> = () => ({}),
  ) => {
    const f0 = forks();
    const ssh0 = sshSessions(state);
    const cpu0 = machineCpuMs();
    const monitors0 = processTicks(monitor);
    const kernel0 = processTicks(kernelThread);
    const watcher = checkpointWatch(backend, stack);
    const ran = await measured(args, env);
    const writes = watcher.stop();
    const machineMs = machineCpuMs() - cpu0;
    if (ran.code === null || !ok.includes(ran.code)) {
      // The whole output is kept where the work directory's removal cannot take it.
      const kept = join(tmpdir(), `amadegi-bench-scale-${process.pid}-${name}-${stageName.replace(/\W+/g, "-")}.log`);
      writeFileSync(kept, ran.why);
      // So are the step's results files (a campaign that failed says why in them, result by result).
      for (const f of readdirSync(dir)) if (f.endsWith(".jsonl")) copyFileSync(join(dir, f), kept.replace(/\.log$/, `-${f}`));
      throw new Error(
        `${step}: ${stageName} exited ${ran.code} (its whole output: ${kept}, results beside it): ${ran.why.slice(0, 1500)} … ${ran.why.slice(-800)}`,
      );
    }
    const code = ran.code;
    const counts = {
      exit: code,
      forks: forks() - f0,
      ssh: Math.max(0, sshSessions(state) - ssh0),
      checkpointWrites: writes,
      checkpointKiB: checkpointBytes(backend, stack) / 1024,
      monitorCpuS: cpuMsSince(monitors0, monitor) / 1000,
      kernelCpuS: cpuMsSince(kernel0, kernelThread) / 1000,
      ...count(ran.out, ran.err),
    };
    const done: Stage = { name: stageName, ms: ran.ms, cpuMs: ran.cpuMs, machineCpuMs: machineMs, rssMiB: ran.rssMiB, code: ran.code, counts, note: "" };
    result.stages.push(done);
    console.log(
      `  ${stageName.padEnd(20)} ${s(ran.ms).padStart(9)}  cpu ${s(ran.cpuMs).padStart(8)} (machine ${s(machineMs).padStart(8)})  ` +
        `peak ${ran.rssMiB.toFixed(0).padStart(5)} MiB  ${JSON.stringify(counts)}`,
    );
    return ran.out;
  };

  const before = memoryInUseMiB();
  try {
    await stage("validate", [CLI, "validate", "--inventory", inventory], [0, 1]);
    const bare = await measured([join(REPO, "scripts", "bench-inventory.ts"), "--child", "bare", inventory], env);
    result.floors["bare js-yaml load"] = { ms: bare.ms, cpuMs: bare.cpuMs };
    const upOut = await stage(
      "rehearsal up",
      [join(REPO, "scripts", "bench", "rehearsal-stage.ts"), "up", "--inventory", inventory, "--state", state, "--prefix", prefix],
      [0],
      (out) => {
        const f = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as Record<string, number>;
        return { namespaces: f.namespaces ?? 0, veths: f.veths ?? 0, answering: f.answering ?? 0 };
      },
    );
    if (!upOut.includes('"whole":true')) throw new Error(`${step}: the rehearsal is not whole: ${upOut}`);
    await stage("device keys", [CLI, "rehearsal", "devices", "keys", "--state", state, "--inventory", inventory], [0]);
    await writeRehearsalStack({ stacksDir: join(REPO, "stacks"), stack, stateDir: state, prefix, inventory });
    const resources = (out: string): Record<string, number> => {
      const changes = (JSON.parse(out) as { changes: Record<string, number> }).changes;
      return {
        resources: Object.values(changes).reduce((a, b) => a + b, 0),
        changed: Object.entries(changes).reduce((n, [op, k]) => (op === "same" ? n : n + k), 0),
      };
    };
    // The devices' certificates are signed inside stack up, by one resource whose work grows with the stations (ADR 0019).
    await stage("stack up", [CLI, "up", "--stack", stack, "--yes", "--json"], [0], (out, err) => ({ ...resources(out), ...deviceIssuance(err) }));
    result.resources = result.stages.at(-1)?.counts.resources ?? 0;
    await stage("up, no change", [CLI, "up", "--stack", stack, "--yes", "--json"], [0], resources);
    await stage("preview", [CLI, "preview", "--stack", stack, "--expect-no-changes", "--json"], [0]);
    // A fixed rate in every step: each link checks in every links / RATE seconds (at least 15 s).
    const interval = Math.max(15, Math.ceil(links / RATE));
    await stage("devices start", [CLI, "rehearsal", "devices", "start", "--state", state, "--inventory", inventory, "--interval", String(interval)], [0]);
    const waited = performance.now();
    const f0 = forks();
    const cpu0 = machineCpuMs();
    const monitors0 = processTicks(monitor);
    const kernel0 = processTicks(kernelThread);
    const first = await waitForFirstCheckins(state, Math.max(600_000, interval * 3_000));
    const ok = first.links.filter((l) => l.state === "ok").length;
    const waitedMs = performance.now() - waited;
    const rehearsalCpuMs = machineCpuMs() - cpu0;
    // The machine's busy share while nothing but the rehearsal ran: what the check that follows does
    // not get. At national size on a machine that the simulation alone keeps 79 % busy, the check was
    // starved and invalid (ADR 0022's last amendment).
    const busyPct = Math.round((1000 * rehearsalCpuMs) / (waitedMs * availableParallelism())) / 10;
    result.stages.push({
      name: "first check-in",
      ms: waitedMs,
      cpuMs: Number.NaN,
      machineCpuMs: rehearsalCpuMs,
      rssMiB: Number.NaN,
      code: first.complete ? 0 : 1,
      counts: {
        forks: forks() - f0,
        links: first.links.length,
        ok,
        interval,
        monitorCpuS: cpuMsSince(monitors0, monitor) / 1000,
        kernelCpuS: cpuMsSince(kernel0, kernelThread) / 1000,
        busyPct,
      },
      note: first.complete ? "" : "not every link checked in",
    });
    result.rehearsalMiB = memoryInUseMiB() - before;
    console.log(
      `  first check-in       ${s(waitedMs).padStart(9)}  ${ok}/${first.links.length} links ok, every ${interval} s; ` +
        `rehearsal ${result.rehearsalMiB.toFixed(0)} MiB; the machine ${busyPct} % busy (${availableParallelism()} CPUs)`,
    );
    const results = join(dir, "results.jsonl");
    /** A campaign's counts: its targets, whether it was valid, what it could not judge and the attempts it did not judge (starved). */
    const campaign = (out: string): Record<string, number> => {
      const r = JSON.parse(out) as {
        targets: number;
        valid: boolean;
        starvedAttempts?: number;
        summary?: { total?: { unknown?: number } };
        spans?: { check: string; lastS: number }[];
      };
      // When the three checks that held the campaign's end ended (s after its start): which lane a slow check waited for.
      const ends = Object.fromEntries((r.spans ?? []).slice(0, 3).map((span) => [`${span.check}EndS`, span.lastS]));
      return {
        targets: r.targets,
        valid: r.valid ? 1 : 0,
        unknown: r.summary?.total?.unknown ?? Number.NaN,
        starvedAttempts: r.starvedAttempts ?? Number.NaN,
        ...ends,
      };
    };
    // `check` reads the stack's amadegi:inventory unless told, as drift does: the step's own, named all the same.
    // An invalid campaign (exit 2, a starved prober) is a figure too ("valid": 0): the stages after it
    // are still measured on its results. A check that could not run at all prints no campaign, and
    // the count below fails the step.
    await stage(
      "check",
      [CLI, "check", "--stack", stack, "--inventory", inventory, "--deadline", values.deadline ?? "300s", "--out", results, "--json"],
      [0, 1, 2],
      campaign,
    );
    // The devices stop before the rest is timed: 150 mutual-TLS check-ins a second hold most of a core.
    await stage("devices stop", [CLI, "rehearsal", "devices", "stop", "--state", state], [0]);
    // Its parts, each with its own driver: the inventory and its rendering grow with the stations, the facts with the servers.
    await stage("drift", [CLI, "drift", "--stack", stack, "--results", results, "--no-history", "--json"], [0, 1], (out) => {
      const t = (JSON.parse(out) as { timings?: Record<string, number> }).timings ?? {};
      return Object.fromEntries(Object.entries(t).map(([part, ms]) => [part.replace(/Ms$/, "S"), ms / 1000]));
    });
    const judged = ["--inventory", inventory, "--results", results, "--milestone", values.milestone ?? "T-7", "--no-history", "--no-cache"];
    const floor = await measured([join(REPO, "scripts", "bench", "parse-floor.ts"), results], env);
    result.floors["stream-parse of the results"] = { ms: floor.ms, cpuMs: floor.cpuMs };
    // Exit 2 (cannot judge) is a verdict here too: a campaign with too many unknowns (a starved prober) is judged as fast.
    await stage("gate", [CLI, "gate", ...judged], [0, 1, 2], () => ({ resultsMiB: statSync(results).size / 1048576 }));
    await stage("report", [CLI, "report", ...judged, "--out", join(dir, "report")], [0, 1, 2], () => ({
      htmlKiB: statSync(join(dir, "report", "report.html")).size / 1024,
    }));
    // The design the national check's goal needs (issue 20): the devices' simulation off the prober's cores, as the
    // devices are in the field. Its stand-in on one machine: the devices keep answering on every link (ICMP, their
    // routers' port) and keep the records of their first check-in, but check in once a day per link (1.5 a second
    // at national size) instead of 150 a second. Measured last, so that it changes nothing measured above.
    await stage(
      "devices start, quiet",
      [CLI, "rehearsal", "devices", "start", "--state", state, "--inventory", inventory, "--interval", String(QUIET_INTERVAL_S)],
      [0],
    );
    await stage(
      "check, devices quiet",
      [CLI, "check", "--stack", stack, "--inventory", inventory, "--deadline", values.deadline ?? "300s", "--out", join(dir, "quiet.jsonl"), "--json"],
      [0, 1, 2],
      campaign,
    );
    await measured([CLI, "rehearsal", "devices", "stop", "--state", state], env);
    await stage("destroy", [CLI, "destroy", "--stack", stack, "--yes"], [0]);
    await stage("rehearsal down", [join(REPO, "scripts", "bench", "rehearsal-stage.ts"), "down", "--state", state, "--prefix", prefix], [0]);
  } finally {
    await measured([join(REPO, "scripts", "bench", "rehearsal-stage.ts"), "down", "--state", state, "--prefix", prefix], env).catch(() => undefined);
    await rm(stackFile, { force: true });
  }
  return result;
}

function workOf(step: Step, driver: Driver): number {
  return driver === "stations" ? step.stations : driver === "links" ? step.links : driver === "server-roles" ? step.serverRoles : step.resources;
}

function tables(steps: readonly Step[]): void {
  console.log(`\nmachine: ${machineLine()}`);
  for (const st of steps) {
    const floor = st.floors["stream-parse of the results"];
    const yaml = st.floors["bare js-yaml load"];
    const by = (name: string) => st.stages.find((x) => x.name === name);
    const busy = by("first check-in")?.counts.busyPct;
    console.log(
      `\n${st.step}: ${st.stations} stations, ${st.links} links, ${st.servers} servers, ${st.resources} resources; ` +
        `rehearsal memory ${st.rehearsalMiB.toFixed(0)} MiB` +
        (busy === undefined ? "" : `; the machine ${busy} % busy while the devices checked in, before the check`),
    );
    if (yaml !== undefined)
      console.log(
        `  validate ${s(by("validate")?.ms ?? NaN)} / bare js-yaml ${s(yaml.ms)} = ${((by("validate")?.ms ?? NaN) / yaml.ms).toFixed(2)} × (goal ≤ 1.2)`,
      );
    if (floor !== undefined)
      for (const [name, goal] of [
        ["gate", 1.5],
        ["report", 3],
      ] as const)
        console.log(
          `  ${name} ${s(by(name)?.ms ?? NaN)} / stream-parse ${s(floor.ms)} = ${((by(name)?.ms ?? NaN) / floor.ms).toFixed(2)} × ` +
            `(--no-cache: a campaign's first ${name} on a fresh machine; the goal, ≤ ${goal} ×, is for a ${name} with its caches: npm run bench:readiness)`,
        );
  }
  for (let i = 1; i < steps.length; i++) {
    const [a, b] = [steps[i - 1] as Step, steps[i] as Step];
    console.log(`\ngrowth ${a.step} → ${b.step} (a stage growing more than 1.25 × its work factor is marked ✗)`);
    console.log(`  ${"stage".padEnd(20)} ${"time ×".padStart(8)} ${"work ×".padStart(8)}  driver`);
    for (const def of STAGES) {
      const [x, y] = [a.stages.find((t) => t.name === def.name), b.stages.find((t) => t.name === def.name)];
      if (x === undefined || y === undefined) continue;
      const time = y.ms / x.ms;
      const work = workOf(b, def.driver) / workOf(a, def.driver);
      const mark = time > 1.25 * work ? "✗" : "✓";
      console.log(`  ${def.name.padEnd(20)} ${time.toFixed(2).padStart(8)} ${work.toFixed(2).padStart(8)}  ${def.driver} ${mark}`);
    }
    byParts(a, b);
  }
}

/**
 * A stage whose measured parts have drivers of their own, judged by them: each part's growth against
 * its own driver's work factor (what the parts do not cover, against the stage's driver), each within
 * 1.25 ×. The single-driver row above stays as it is; this says which part breaks the stage's design
 * where one driver is too coarse (drift renders files that list the stations, and reads the
 * servers' facts). The parts must run one after another: a part that overlaps the rest cannot be
 * taken from the stage's time. So `stack up` has none since the devices' signing runs beside the
 * gateways (ADR 0021); its `devicesS` is still counted and shown.
 */
const PARTS: Readonly<Record<string, readonly { readonly part: string; readonly driver: Driver }[]>> = {
  drift: [
    { part: "inventoryS", driver: "stations" },
    { part: "renderS", driver: "stations" },
    { part: "outputsS", driver: "resources" },
    { part: "factsS", driver: "server-roles" },
    { part: "evidenceS", driver: "links" },
    { part: "compareS", driver: "links" },
  ],
};

const MIN_PART_S = 0.25;

function byParts(a: Step, b: Step): void {
  for (const [name, parts] of Object.entries(PARTS)) {
    const [x, y] = [a.stages.find((t) => t.name === name), b.stages.find((t) => t.name === name)];
    if (x === undefined || y === undefined) continue;
    const driver = STAGES.find((d) => d.name === name)?.driver ?? "resources";
    const known = parts.filter((p) => Number.isFinite(x.counts[p.part]) && Number.isFinite(y.counts[p.part]));
    if (known.length === 0) continue;
    // What the parts do not cover is judged by the stage's own driver.
    const rest = (t: Stage) => t.ms / 1000 - known.reduce((n, p) => n + (t.counts[p.part] ?? 0), 0);
    const rows = [
      ...known.map((p) => ({ part: p.part, driver: p.driver, x: x.counts[p.part] ?? 0, y: y.counts[p.part] ?? 0 })),
      { part: "the rest", driver, x: rest(x), y: rest(y) },
    ];
    const judged = rows.map((r) => {
      const work = workOf(b, r.driver) / workOf(a, r.driver);
      // A part shorter than MIN_PART_S in the smaller step is shown, not judged: its growth is the clock's noise.
      return { ...r, work, time: r.y / r.x, over: r.x >= MIN_PART_S && r.y / r.x > 1.25 * work, small: r.x < MIN_PART_S };
    });
    const expected = judged.reduce((n, r) => n + r.x * r.work, 0);
    // Each part within 1.25 × its own driver: a part that grew less than its driver does not excuse one that grew more.
    const over = judged.filter((r) => r.over);
    console.log(
      `  ${`${name}, by its parts`.padEnd(20)} ${over.length === 0 ? "✓" : `✗ (${over.map((r) => r.part).join(", ")})`}; ` +
        `measured ${(y.ms / 1000).toFixed(2)} s, ${expected.toFixed(2)} s if each part grew as its driver`,
    );
    for (const r of judged) {
      console.log(
        `    ${r.part.padEnd(18)} ${r.x.toFixed(2).padStart(7)} → ${r.y.toFixed(2).padStart(7)} s  ` +
          `${r.time.toFixed(2).padStart(6)} / ${r.work.toFixed(2)} ${r.driver} ${r.small ? "(too short to judge)" : r.over ? "✗" : "✓"}`,
      );
    }
  }
}

async function main(): Promise<void> {
  // Only the tables again, from a run's --json: a table's judgement can be read again without running anything.
  if (values.tables !== undefined) {
    tables(JSON.parse(readFileSync(values.tables, "utf8")) as Step[]);
    return;
  }
  if (process.getuid?.() !== 0) {
    console.error("bench:scale needs root (network namespaces, nftables, sshd)");
    process.exitCode = 2;
    return;
  }
  const work = await mkdtemp(join(tmpdir(), "amadegi-bench-scale-"));
  const steps: Step[] = [];
  try {
    for (const step of STEPS) steps.push(await runStep(step, work));
  } finally {
    tables(steps);
    if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify(steps, null, 2)}\n`);
    await rm(work, { recursive: true, force: true });
  }
}

await main();
