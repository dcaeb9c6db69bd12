// npm run bench:checks — the checks engine side by side with the standard
// tools, in one cold run. Every packet goes to loopback (127.0.0.0/8: one
// address per endpoint) or, for the national campaign, into a network
// namespace this script makes and always deletes (amadegi-b-nat-<pid>).
// Targets run pinned to core 1 (taskset); the prober and the driver to core 0.
// Each pair (amadegi and its peer) runs --rounds times (default 3), alternating;
// the ratios are medians against issue 20's goals. The national campaign runs once.
//
//   npm run bench:checks [-- --rounds 3]
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { Agent, get } from "node:http";
import { tmpdir } from "node:os";
import { connect, createSecureContext } from "node:tls";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseAllow } from "../src/probe/allow.ts";
import { type CheckPlan, runCampaign } from "../src/probe/campaign/index.ts";
import { parseCondition } from "../src/probe/catalog/condition.ts";
import { icmpProbe } from "../src/probe/probes/icmp.ts";
import { createProbes } from "../src/probe/probes/index.ts";
import type { ProbeKind, Target } from "../src/probe/types.ts";
import { writeNational } from "../src/model/synthetic/national.ts";
import { Leftovers } from "./bench/children.ts";
import { machineLine } from "./bench/machine.ts";
import { median, medianBy } from "./bench/stats.ts";

const HOSTS = { tcp: 10_000, http: 6000, https: 2000, icmp: 10_000 };
const CONCURRENCY = 128;
const ICMP_RATE = 20_000;
const NATIONAL_STATIONS = 58_640;
const HOSTNAME = "bench.amadegi.test";
const PORTS = { tcp: 9000, http: 8080, https: 8443 };
const BLACKBOX = "127.0.0.1:19115";
const NS = `amadegi-b-nat-${process.pid}`;
const REPO = join(import.meta.dirname, "..");

const { values } = parseArgs({ options: { rounds: { type: "string", default: "3" } } });
const ROUNDS = Math.max(1, Number(values.rounds) || 3);
/** Issue 20's goals: HTTP ≥ 2 ×, TCP ≥ 3 ×, HTTPS ≥ 1.2 × blackbox_exporter's probes/s; ICMP ≤ 0.5 × bare fping's time. */
const GOALS = { tcp: 3, http: 2, https: 1.2, icmp: 0.5 } as const;

/** The round whose wall time is the median (stats.ts's rule). */
function medianRow(rows: readonly Row[]): Row {
  const row = medianBy(rows, (r) => r.wallMs);
  if (row === undefined) throw new Error("no rounds");
  return row;
}

let work = "";
const leftovers = new Leftovers();
const children = leftovers.children;

function addresses(block: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `127.${block}.${Math.floor(i / 250)}.${(i % 250) + 1}`);
}

async function start(argv: string[], ready?: RegExp): Promise<ChildProcess> {
  const child = spawn(argv[0] ?? "", argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  if (ready === undefined) return child;
  await new Promise<void>((resolve, reject) => {
    let seen = "";
    const onData = (b: Buffer) => {
      seen += b.toString();
      if (ready.test(seen)) resolve();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${argv.join(" ")} exited ${code}: ${seen.slice(-500)}`)));
    setTimeout(() => reject(new Error(`${argv.join(" ")} not ready after 30s: ${seen.slice(-500)}`)), 30_000);
  });
  return child;
}

function cpuOf(pid: number): number {
  const stat = execFileSync("cat", [`/proc/${pid}/stat`], { encoding: "utf8" });
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) / 100) * 1000; // ms (USER_HZ 100)
}

function conditions(kind: ProbeKind, list: string[]): CheckPlan {
  return {
    conditions: list.map((c) => {
      const p = parseCondition(c, kind);
      if (!p.ok) throw new Error(p.error.message);
      return p.condition;
    }),
    timeoutMs: 5000,
    retries: 0,
  };
}

interface Row {
  readonly what: string;
  readonly n: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly driverCpuMs?: number;
  readonly ok: number;
}

async function engine(kind: "tcp" | "http" | "https", hosts: string[], caFile: string): Promise<Row> {
  const allow = parseAllow(["127.0.0.0/8"], "bench");
  const probes = createProbes({ allow, tls: { caFile } });
  const probeKind = kind === "https" ? "http" : kind;
  const targets: Target[] = hosts.map((address, i) => ({
    key: `bench-${kind}/${i}`,
    check: `bench-${kind}`,
    kind: probeKind,
    address,
    port: PORTS[kind],
    hostname: HOSTNAME,
    params: kind === "https" ? { scheme: "https" } : {},
  }));
  const plan = kind === "tcp" ? conditions("tcp", []) : conditions("http", ["[STATUS] == 200", '[BODY] contains "ok"']);
  const cpu = process.cpuUsage();
  const started = performance.now();
  const report = await runCampaign({
    stack: "bench",
    from: "bench",
    targets,
    checks: new Map([[`bench-${kind}`, plan]]),
    probes,
    guard: () => {},
    deadlineMs: 300_000,
    maxRate: 1_000_000,
    concurrency: CONCURRENCY,
    evalContext: { now: Date.now(), electionEnd: Date.now() },
    out: join(work, `engine-${kind}.jsonl`),
    lagLimitMs: 5000,
  });
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { what: `${kind.toUpperCase()} amadegi`, n: hosts.length, wallMs, cpuMs: (used.user + used.system) / 1000, ok: report.summary.total.up };
}

/**
 * The floor of any HTTPS prober written for node: bare tls.connect (one shared
 * context, OpenSSL verifying chain and name, no session offered) and one
 * HTTP/1.1 GET written by hand, the answer read to its end and checked for 200
 * and "ok" — no campaign, no undici, no results. What node and its OpenSSL
 * spend on the handshake is most of amadegi's HTTPS cost: the row shows how
 * much of the rest is ours (undici, the campaign, the results).
 */
async function httpsFloor(hosts: string[], caFile: string): Promise<Row> {
  const secureContext = createSecureContext({ ca: await readFile(caFile) });
  const request = `GET / HTTP/1.1\r\nhost: ${HOSTNAME}\r\nuser-agent: amadegi-bench\r\nconnection: close\r\n\r\n`;
  const one = (host: string): Promise<boolean> =>
    new Promise((resolve) => {
      const socket = connect({ host, port: PORTS.https, servername: HOSTNAME, secureContext, ALPNProtocols: ["http/1.1"] });
      const chunks: Buffer[] = [];
      socket.setTimeout(5000, () => socket.destroy());
      socket.once("secureConnect", () => socket.end(request));
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      socket.once("error", () => resolve(false));
      socket.once("close", () => {
        const text = Buffer.concat(chunks).toString("latin1");
        resolve(/^HTTP\/1\.1 200 /.test(text) && text.includes("ok"));
      });
    });
  const cpu = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  let ok = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < hosts.length; i = next++) if (await one(hosts[i] ?? "")) ok++;
    }),
  );
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { what: "HTTPS node floor (bare tls.connect + GET)", n: hosts.length, wallMs, cpuMs: (used.user + used.system) / 1000, ok };
}

async function blackbox(kind: "tcp" | "http" | "https", hosts: string[], pid: number): Promise<Row> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const module = kind;
  const url = (h: string) => {
    const target = kind === "tcp" ? `${h}:${PORTS.tcp}` : `${kind}://${h}:${PORTS[kind]}/`;
    return `http://${BLACKBOX}/probe?module=${module}&target=${encodeURIComponent(target)}`;
  };
  let next = 0;
  let ok = 0;
  const cpuBefore = cpuOf(pid);
  const driver = process.cpuUsage();
  const started = performance.now();
  const worker = async () => {
    while (next < hosts.length) {
      const h = hosts[next++] ?? "";
      const body = await new Promise<string>((resolve, reject) => {
        get(url(h), { agent }, (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (text += c));
          res.on("end", () => resolve(text));
        }).on("error", reject);
      });
      if (/^probe_success 1$/m.test(body)) ok++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(driver);
  agent.destroy();
  return {
    what: `${kind.toUpperCase()} blackbox_exporter`,
    n: hosts.length,
    wallMs,
    cpuMs: cpuOf(pid) - cpuBefore,
    driverCpuMs: (used.user + used.system) / 1000,
    ok,
  };
}

async function icmpEngine(hosts: string[]): Promise<Row> {
  const allow = parseAllow(["127.0.0.0/8"], "bench");
  const targets: Target[] = hosts.map((address, i) => ({ key: `bench-icmp/${i}`, check: "bench-icmp", kind: "icmp", address, params: { count: 3 } }));
  const started = performance.now();
  const cpu = process.cpuUsage();
  const report = await runCampaign({
    stack: "bench",
    from: "bench",
    targets,
    checks: new Map([["bench-icmp", { ...conditions("icmp", ["[LOSS] <= 0%"]), timeoutMs: 500 }]]),
    probes: { icmp: (tuning) => icmpProbe({ allow, icmp: { count: tuning.count, intervalMs: tuning.intervalMs } }) },
    guard: () => {},
    deadlineMs: 300_000,
    maxRate: ICMP_RATE,
    concurrency: CONCURRENCY,
    evalContext: { now: Date.now(), electionEnd: Date.now() },
    out: join(work, "engine-icmp.jsonl"),
    lagLimitMs: 5000,
  });
  const used = process.cpuUsage(cpu);
  return {
    what: "ICMP amadegi (fping batches)",
    n: hosts.length,
    wallMs: performance.now() - started,
    cpuMs: (used.user + used.system) / 1000,
    ok: report.summary.total.up,
  };
}

async function icmpBare(hosts: string[]): Promise<Row> {
  const interval = 1000 / (ICMP_RATE * 3);
  const started = performance.now();
  const child = spawn("fping", ["-q", "-4", "-C", "3", "-p", "100", "-i", String(interval), "-t", "500", "-r", "0", "-B", "1", "-f", "-"], {
    stdio: ["pipe", "ignore", "pipe"],
  });
  let text = "";
  child.stderr.setEncoding("utf8").on("data", (c: string) => (text += c));
  child.stdin.on("error", () => undefined);
  child.stdin.end(`${hosts.join("\n")}\n`);
  await new Promise((r) => child.once("exit", r));
  const wallMs = performance.now() - started;
  const ok = text.split("\n").filter((l) => / : [\d.]+ [\d.]+ [\d.]+$/.test(l)).length;
  return { what: "ICMP bare fping", n: hosts.length, wallMs, cpuMs: Number.NaN, ok };
}

async function national(): Promise<{
  wallMs: number;
  campaignMs: number;
  targets: number;
  maxRssMb: number;
  counts: Record<string, number>;
  valid: boolean;
  invalid: string[];
}> {
  const dir = join(work, "national");
  await writeNational(dir, { stations: NATIONAL_STATIONS, seed: 1 });
  await mkdir(join(dir, "stacks"), { recursive: true });
  await writeFile(
    join(dir, "stacks", "Pulumi.bench.yaml"),
    "config:\n  amadegi:probe:\n    allow: [10.0.0.0/8]\n    maxRate: 20000\n    concurrency: 512\n    from: bench-namespace\n",
  );
  await mkdir(join(dir, "checks"), { recursive: true });
  await writeFile(
    join(dir, "checks", "national.yaml"),
    [
      "checks:",
      "  - id: link-icmp",
      "    probe: icmp",
      "    select: { objects: links }",
      "    timeout: 1s",
      "    params: { count: 3 }",
      "    conditions: ['[LOSS] <= 5%', '[RTT] < 150ms']",
      "  - id: link-tcp",
      "    probe: tcp",
      "    select: { objects: links }",
      "    port: 22",
      "    timeout: 2s",
      "    dependsOn: [link-icmp]",
      "",
    ].join("\n"),
  );
  // The namespace answers every 10.x address itself; it has no other route, so nothing leaves it.
  execFileSync("ip", ["netns", "add", NS]);
  leftovers.madeNetns(NS);
  execFileSync("ip", ["-n", NS, "link", "set", "lo", "up"]);
  execFileSync("ip", ["-n", NS, "route", "add", "local", "10.0.0.0/8", "dev", "lo"]);
  const listener = await start(
    ["ip", "netns", "exec", NS, "taskset", "-c", "1", process.execPath, join(REPO, "scripts/bench/targets.ts"), "--addresses", "0.0.0.0", "--tcp", "22"],
    /ready/,
  );
  const worker = spawn(
    "ip",
    [
      "netns",
      "exec",
      NS,
      "taskset",
      "-c",
      "0",
      process.execPath,
      join(REPO, "scripts/bench/national.ts"),
      "--stacks",
      join(dir, "stacks"),
      "--inventory",
      join(dir, "inventory"),
      "--checks",
      join(dir, "checks"),
      "--out",
      join(work, "national.jsonl"),
      "--deadline",
      "120000",
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  children.push(worker);
  let out = "";
  worker.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
  const code = await new Promise((r) => worker.once("exit", r));
  listener.kill("SIGTERM");
  leftovers.deleteNetns();
  if (code !== 0) throw new Error(`national worker exited ${String(code)}`);
  return JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as Awaited<ReturnType<typeof national>>;
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "-";
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench:checks needs root (network namespaces, fping at sub-millisecond intervals)");
  work = await mkdtemp(join(tmpdir(), "amadegi-bench-checks-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      join(work, "ca.key"),
      "-out",
      join(work, "ca.pem"),
      "-days",
      "30",
      "-subj",
      "/CN=amadegi bench CA",
    ],
    { stdio: "ignore" },
  );
  execFileSync(
    "openssl",
    [
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      join(work, "server.key"),
      "-out",
      join(work, "server.csr"),
      "-subj",
      `/CN=${HOSTNAME}`,
    ],
    { stdio: "ignore" },
  );
  await writeFile(join(work, "san.ext"), `subjectAltName=DNS:${HOSTNAME}\n`);
  execFileSync(
    "openssl",
    [
      "x509",
      "-req",
      "-in",
      join(work, "server.csr"),
      "-CA",
      join(work, "ca.pem"),
      "-CAkey",
      join(work, "ca.key"),
      "-CAcreateserial",
      "-out",
      join(work, "server.pem"),
      "-days",
      "30",
      "-extfile",
      join(work, "san.ext"),
    ],
    { stdio: "ignore" },
  );
  const hosts = { tcp: addresses(21, HOSTS.tcp), http: addresses(22, HOSTS.http), https: addresses(23, HOSTS.https), icmp: addresses(24, HOSTS.icmp) };
  const target = (args: string[]) => start(["taskset", "-c", "1", process.execPath, join(REPO, "scripts/bench/targets.ts"), ...args], /ready/);
  await target(["--block", "21", "--count", String(HOSTS.tcp), "--tcp", String(PORTS.tcp)]);
  await target(["--block", "22", "--count", String(HOSTS.http), "--http", String(PORTS.http)]);
  await target([
    "--block",
    "23",
    "--count",
    String(HOSTS.https),
    "--https",
    String(PORTS.https),
    "--cert",
    join(work, "server.pem"),
    "--key",
    join(work, "server.key"),
  ]);
  const config = [
    "modules:",
    "  tcp: { prober: tcp, timeout: 5s, tcp: { preferred_ip_protocol: ip4 } }",
    '  http: { prober: http, timeout: 5s, http: { valid_status_codes: [200], fail_if_body_not_matches_regexp: ["ok"], preferred_ip_protocol: ip4 } }',
    `  https: { prober: http, timeout: 5s, http: { valid_status_codes: [200], fail_if_body_not_matches_regexp: ["ok"], preferred_ip_protocol: ip4, ` +
      `tls_config: { ca_file: ${join(work, "ca.pem")}, server_name: ${HOSTNAME} } } }`,
    "",
  ].join("\n");
  await writeFile(join(work, "blackbox.yml"), config);
  const bb = await start(
    ["taskset", "-c", "0", "prometheus-blackbox-exporter", `--config.file=${join(work, "blackbox.yml")}`, `--web.listen-address=${BLACKBOX}`],
    /Listening on|msg="Listening/,
  );
  const rows: Row[] = [];
  const ratios: string[] = [];
  // Each pair (amadegi, then its peer) run ROUNDS times, alternating; the table shows each side's median round, the
  // ratio is the median of the rounds' own ratios (a pair shares the machine's state of the moment).
  const list = (xs: number[]) => xs.map((x) => fmt(x, 2)).join(", ");
  for (const kind of ["tcp", "http", "https"] as const) {
    const ours: Row[] = [];
    const theirs: Row[] = [];
    const floors: Row[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      ours.push(await engine(kind, hosts[kind], join(work, "ca.pem")));
      if (kind === "https") floors.push(await httpsFloor(hosts[kind], join(work, "ca.pem")));
      theirs.push(await blackbox(kind, hosts[kind], bb.pid ?? 0));
    }
    const a = medianRow(ours);
    const b = medianRow(theirs);
    rows.push(a, ...(floors.length > 0 ? [medianRow(floors)] : []), b);
    const speeds = ours.map((o, i) => (theirs[i]?.wallMs ?? NaN) / o.wallMs);
    const speed = median(speeds);
    const goal = GOALS[kind];
    ratios.push(
      `${kind.toUpperCase()}: amadegi ${fmt(speed, 2)}× blackbox_exporter's probes/s, median of ${ROUNDS} [${list(speeds)}] ` +
        `(goal ≥ ${goal}×: ${speed >= goal ? "met" : "NOT met"}); ` +
        `CPU/probe ${fmt(a.cpuMs / a.n, 3)} ms vs ${fmt(b.cpuMs / b.n, 3)} ms (+ driver ${fmt((b.driverCpuMs ?? 0) / b.n, 3)} ms)`,
    );
    if (floors.length > 0) {
      const ceiling = median(floors.map((f, i) => (theirs[i]?.wallMs ?? NaN) / f.wallMs));
      const share = median(floors.map((f, i) => f.wallMs / (ours[i]?.wallMs ?? NaN)));
      const f = medianRow(floors);
      ratios.push(
        `HTTPS floor: a bare node tls.connect + GET (node's defaults, its own identity check) makes ${fmt(ceiling, 2)}× ` +
          `blackbox_exporter's probes/s; amadegi runs at ${fmt(share * 100)}% of that floor's rate; floor CPU/probe ${fmt(f.cpuMs / f.n, 3)} ms`,
      );
    }
  }
  bb.kill("SIGTERM");
  const icmpOurs: Row[] = [];
  const icmpBares: Row[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    icmpOurs.push(await icmpEngine(hosts.icmp));
    icmpBares.push(await icmpBare(hosts.icmp));
  }
  rows.push(medianRow(icmpOurs), medianRow(icmpBares));
  const icmpRatios = icmpOurs.map((o, i) => o.wallMs / (icmpBares[i]?.wallMs ?? NaN));
  const icmpRatio = median(icmpRatios);
  ratios.push(
    `ICMP: amadegi takes ${fmt(icmpRatio, 2)}× bare fping's time on the same ${HOSTS.icmp} hosts, median of ${ROUNDS} [${list(icmpRatios)}] ` +
      `(goal ≤ ${GOALS.icmp}×: ${icmpRatio <= GOALS.icmp ? "met" : "NOT met"})`,
  );
  for (const c of children) if (c.exitCode === null && c !== bb) c.kill("SIGTERM");

  const nat = await national();

  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const out: string[] = [];
  out.push(
    `bench:checks — ${new Date().toISOString()}, node ${process.version}, concurrency ${CONCURRENCY}, ${ROUNDS} rounds (median shown), ` +
      `targets pinned to core 1, prober/driver to core 0, cold`,
  );
  out.push(`machine: ${machineLine()}`);
  out.push("");
  out.push(line(["what", "targets", "ok", "wall s", "probes/s", "prober CPU ms/probe", "driver CPU ms/probe"]));
  out.push(line(["---", "---:", "---:", "---:", "---:", "---:", "---:"]));
  for (const r of rows)
    out.push(
      line([
        r.what,
        String(r.n),
        String(r.ok),
        fmt(r.wallMs / 1000, 2),
        fmt(r.n / (r.wallMs / 1000)),
        fmt(r.cpuMs / r.n, 3),
        r.driverCpuMs === undefined ? "" : fmt(r.driverCpuMs / r.n, 3),
      ]),
    );
  out.push("");
  for (const r of ratios) out.push(`- ${r}`);
  out.push(
    `- national (${NATIONAL_STATIONS} stations, ${nat.targets} link targets, ICMP + TCP, ` +
      `inside namespace ${NS.replace(String(process.pid), "<pid>")}): ` +
      `campaign ${fmt(nat.campaignMs / 1000, 1)} s, with inventory + catalog load ${fmt(nat.wallMs / 1000, 1)} s ` +
      `(goal ≤ 60 s: ${nat.wallMs <= 60_000 ? "met" : "NOT met"}); peak RSS ${fmt(nat.maxRssMb)} MiB; ${JSON.stringify(nat.counts)}; ` +
      `valid ${String(nat.valid)}${nat.invalid.length > 0 ? ` (${nat.invalid.join("; ")})` : ""}`,
  );
  process.stdout.write(`${out.join("\n")}\n`);
  await writeFile(join(REPO, "reports", "bench-checks.md"), `${out.join("\n")}\n`).catch(() => undefined);
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench:checks failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
} finally {
  leftovers.cleanup();
  if (work !== "") await rm(work, { recursive: true, force: true });
}
