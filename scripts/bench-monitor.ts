// npm run bench:monitor [-- --hosts 1500 --interval 15 --warmup 40 --window 60 --privileged]
//
// What a monitor pays to ping its links — the cost that grows with the network in the rehearsal
// (ADR 0013): the way amadegi's monitors do it (the link prober: one fping round for every host,
// three rounds a scrape, served by node_exporter's textfile collector, one scrape) beside the way
// they did (Prometheus scraping blackbox_exporter's icmp module, one target per host) and
// prometheus-smokeping-prober (one process pinging every host, one scrape), each alone, the same
// hosts with the labels a rehearsal link carries. Every ping goes to
// the loopback of a network namespace this script makes and always deletes (amadegi-b-mon-<pid>).
// CPU is read from /proc/<pid>/stat over the window, after a warm-up, and each setup's answers are
// checked (every host answered) before its figures count. smokeping_prober runs unprivileged (ICMP
// datagram sockets, the namespace's ping_group_range opened); `--privileged` adds its raw-socket
// mode, which takes far more. smokeping_prober is not part of amadegi's toolchain: without it, its
// rows say how to install it. Each setup's private memory (USS) is read at the window's end: the
// rehearsal holds every monitor on one machine (ADR 0013). Root only. Not a test: it prints figures.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { LINK_ROUNDS_PER_SCRAPE } from "../src/model/alerting.ts";
import { openMetricsLabelValue } from "../src/lib/encode.ts";
import { LINK_PROBER_ASSET } from "../src/model/render/index.ts";
import { Leftovers } from "./bench/children.ts";

const { values } = parseArgs({
  options: {
    hosts: { type: "string", default: "1500" },
    interval: { type: "string", default: "15" },
    warmup: { type: "string", default: "40" },
    window: { type: "string", default: "60" },
    privileged: { type: "boolean", default: false },
  },
});
const HOSTS = Number(values.hosts);
const INTERVAL = Number(values.interval);
const WARMUP = Number(values.warmup);
const WINDOW = Number(values.window);
const NS = `amadegi-b-mon-${process.pid}`;
const PORTS = { prometheus: 19090, blackbox: 19115, smokeping: 19374, linkExporter: 19119 };
const TICKS_PER_S = 100; // USER_HZ

const leftovers = new Leftovers();
const children = leftovers.children;

const inNs = (argv: string[]): string[] => ["ip", "netns", "exec", NS, ...argv];
const sleep = (s: number) => new Promise((resolve) => setTimeout(resolve, s * 1000));

function has(binary: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${binary}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Start a program inside the namespace (`ip netns exec` execs it: the child's pid is the program's). */
function start(argv: string[], log: string, session = false): ChildProcess {
  // `session`: a process group of its own (setsid), as the link prober must have: stopped, it ends its group.
  const child = spawn(inNs(argv)[0] ?? "", inNs(argv).slice(1), { stdio: ["ignore", "ignore", "ignore"], detached: session });
  child.once("exit", (code) => {
    if (code !== null && code !== 0 && code !== 143) process.stderr.write(`${log} exited ${code}\n`);
  });
  children.push(child);
  return child;
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** utime + stime; with `children`, also what its waited-for children spent (the link prober's fping, awk and cut). */
function cpuTicks(pid: number, children = false): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]) + (children ? Number(fields[13]) + Number(fields[14]) : 0);
}

/**
 * The labels a link carries in the rehearsal (src/model/monitoring.ts's labelsOf): every setup's hosts
 * carry them, since a series' cost grows with its labels.
 */
function linkLabels(i: number): Record<string, string> {
  const station = `PKD-${String(i).padStart(5, "0")}`;
  return {
    check: "link-icmp",
    kind: "icmp",
    scope: "link",
    stack: "rehearsal",
    station,
    link: `${station}-${i % 2 === 0 ? "F" : "M"}`,
    district: "pakdasht",
    province: "tehran",
    operator: i % 2 === 0 ? "tci" : "mci",
    medium: i % 2 === 0 ? "fiber" : "mobile",
    pop: `EX-PKD-${String(i % 40).padStart(2, "0")}`,
    owner: "network-team",
    gateway: "gw-teh1-01",
    station_kind: "fixed",
    oncall: "Reza Ahmadi",
    oncall_phone: "+989121234567",
  };
}

/** A process's private memory (USS: what it alone holds, shared libraries left out), MiB. */
function privateMiB(pid: number): number {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? NaN);
  return (kib("Private_Clean") + kib("Private_Dirty")) / 1024;
}

/** One number from the namespace's Prometheus (an instant query); NaN when it has none. */
function query(expr: string): number {
  const out = execFileSync(
    "ip",
    inNs(["curl", "-s", "--get", "--data-urlencode", `query=${expr}`, `http://127.0.0.1:${PORTS.prometheus}/api/v1/query`]).slice(1),
    { encoding: "utf8" },
  );
  const parsed = JSON.parse(out) as { data?: { result?: { value?: [number, string] }[] } };
  return Number(parsed.data?.result?.[0]?.value?.[1] ?? NaN);
}

interface Row {
  readonly what: string;
  readonly cores: readonly { readonly name: string; readonly cores: number; readonly mib: number }[];
  readonly answered: number;
}

/** Run one setup: warm up, read CPU over the window, then check that every host answered. */
async function measure(what: string, processes: { name: string; child: ChildProcess; children?: boolean }[], answered: () => number): Promise<Row> {
  await sleep(WARMUP);
  for (const p of processes) if (p.child.exitCode !== null || p.child.pid === undefined) throw new Error(`${what}: ${p.name} is not running`);
  const before = processes.map((p) => cpuTicks(p.child.pid ?? 0, p.children));
  await sleep(WINDOW);
  const cores = processes.map((p, i) => ({
    name: p.name,
    cores: (cpuTicks(p.child.pid ?? 0, p.children) - (before[i] ?? 0)) / TICKS_PER_S / WINDOW,
    mib: privateMiB(p.child.pid ?? 0),
  }));
  const row = { what, cores, answered: answered() };
  for (const p of processes) await stop(p.child);
  return row;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("root only (it makes a network namespace)");
  for (const binary of ["prometheus", "prometheus-blackbox-exporter", "prometheus-node-exporter", "fping", "curl"])
    if (!has(binary)) throw new Error(`${binary} is not installed (npm run setup)`);
  const work = await mkdtemp(join(tmpdir(), "amadegi-bench-monitor-"));
  try {
    execFileSync("ip", ["netns", "add", NS]);
    leftovers.madeNetns(NS);
    execFileSync("ip", inNs(["ip", "link", "set", "lo", "up"]).slice(1));
    // ICMP datagram sockets for any group, in this namespace only (smokeping_prober unprivileged).
    execFileSync("ip", inNs(["sysctl", "-q", "-w", "net.ipv4.ping_group_range=0 2147483647"]).slice(1));
    const hosts = Array.from({ length: HOSTS }, (_, i) => `127.60.${Math.floor(i / 250)}.${(i % 250) + 1}`);
    const global = `global: { scrape_interval: ${INTERVAL}s, scrape_timeout: ${Math.min(10, INTERVAL)}s }\n`;
    await writeFile(join(work, "targets.json"), JSON.stringify(hosts.map((h, i) => ({ targets: [h], labels: linkLabels(i) }))));
    // The link prober's targets, as src/model/monitoring.ts writes them: address, tab, labels.
    const proberLine = (h: string, i: number) =>
      `${h}\t${Object.entries(linkLabels(i))
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => `${k}="${openMetricsLabelValue(v)}"`)
        .join(",")}\n`;
    await writeFile(join(work, "links.tsv"), hosts.map(proberLine).join(""));
    await mkdir(join(work, "textfiles"));
    await writeFile(join(work, "blackbox.yml"), "modules:\n  icmp: { prober: icmp, timeout: 2s, icmp: { preferred_ip_protocol: ip4 } }\n");
    await writeFile(
      join(work, "prometheus-blackbox.yml"),
      global +
        "scrape_configs:\n  - job_name: link-icmp\n    metrics_path: /probe\n    params: { module: [icmp] }\n" +
        `    file_sd_configs: [ { files: [${join(work, "targets.json")}] } ]\n    relabel_configs:\n` +
        "      - { source_labels: [__address__], target_label: __param_target }\n" +
        "      - { source_labels: [__param_target], target_label: instance }\n" +
        `      - { target_label: __address__, replacement: 127.0.0.1:${PORTS.blackbox} }\n`,
    );
    await writeFile(
      join(work, "prometheus-smokeping.yml"),
      `${global}scrape_configs:\n  - job_name: smokeping\n    static_configs: [ { targets: [127.0.0.1:${PORTS.smokeping}] } ]\n`,
    );
    await writeFile(
      join(work, "prometheus-prober.yml"),
      `${global}scrape_configs:\n  - job_name: link-icmp\n    honor_labels: true\n` +
        `    static_configs: [ { targets: [127.0.0.1:${PORTS.linkExporter}] } ]\n`,
    );
    const smokepingConfig = (protocol: "udp" | "icmp") =>
      `targets:\n- hosts:\n${hosts.map((h) => `  - ${h}\n`).join("")}  interval: ${INTERVAL}s\n  network: ip4\n  protocol: ${protocol}\n`;
    await writeFile(join(work, "smokeping-udp.yml"), smokepingConfig("udp"));
    await writeFile(join(work, "smokeping-icmp.yml"), smokepingConfig("icmp"));
    const prometheus = (config: string, data: string) =>
      start(
        ["prometheus", `--config.file=${join(work, config)}`, `--storage.tsdb.path=${join(work, data)}`, `--web.listen-address=127.0.0.1:${PORTS.prometheus}`],
        "prometheus",
      );

    const rows: Row[] = [];
    const bb = start(
      ["prometheus-blackbox-exporter", `--config.file=${join(work, "blackbox.yml")}`, `--web.listen-address=127.0.0.1:${PORTS.blackbox}`],
      "blackbox_exporter",
    );
    const pa = prometheus("prometheus-blackbox.yml", "data-blackbox");
    rows.push(
      await measure(
        "before: Prometheus + blackbox_exporter icmp, a target per host",
        [
          { name: "blackbox_exporter", child: bb },
          { name: "prometheus", child: pa },
        ],
        () => query("sum(probe_success)"),
      ),
    );

    // The monitors' way since ADR 0013's "The links' prober": one fping round for every host, LINK_ROUNDS_PER_SCRAPE a scrape.
    const period = Math.max(1, Math.floor(INTERVAL / LINK_ROUNDS_PER_SCRAPE));
    const prober = start(["sh", LINK_PROBER_ASSET, join(work, "links.tsv"), join(work, "textfiles"), String(period), "2000", "1"], "link prober", true);
    const ne = start(
      [
        "prometheus-node-exporter",
        "--collector.disable-defaults",
        "--collector.textfile",
        `--collector.textfile.directory=${join(work, "textfiles")}`,
        "--web.disable-exporter-metrics",
        `--web.listen-address=127.0.0.1:${PORTS.linkExporter}`,
      ],
      "node_exporter",
    );
    const pp = prometheus("prometheus-prober.yml", "data-prober");
    rows.push(
      await measure(
        `amadegi's monitors: Prometheus + the link prober (fping, a round every ${period} s) + node_exporter's textfile collector`,
        [
          { name: "link prober (fping, awk)", child: prober, children: true },
          { name: "node_exporter", child: ne },
          { name: "prometheus", child: pp },
        ],
        () => query("sum(probe_success)"),
      ),
    );

    const smokeping = has("prometheus-smokeping-prober");
    const modes: ("udp" | "icmp")[] = values.privileged === true ? ["udp", "icmp"] : ["udp"];
    if (smokeping) {
      for (const mode of modes) {
        const sp = start(
          [
            "prometheus-smokeping-prober",
            `--config.file=${join(work, `smokeping-${mode}.yml`)}`,
            `--web.listen-address=127.0.0.1:${PORTS.smokeping}`,
            ...(mode === "icmp" ? ["--privileged"] : []),
          ],
          "smokeping_prober",
        );
        const pb = prometheus("prometheus-smokeping.yml", `data-smokeping-${mode}`);
        rows.push(
          await measure(
            `Prometheus + smokeping_prober (${mode === "udp" ? "unprivileged" : "raw sockets"})`,
            [
              { name: "smokeping_prober", child: sp },
              { name: "prometheus", child: pb },
            ],
            () => query("count(smokeping_response_duration_seconds_count > 0)"),
          ),
        );
      }
    }

    const pingsPerS = HOSTS / INTERVAL;
    const total = (r: Row) => r.cores.reduce((sum, c) => sum + c.cores, 0);
    const memory = (r: Row) => r.cores.reduce((sum, c) => sum + c.mib, 0);
    const base = rows[0] === undefined ? NaN : total(rows[0]);
    const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
    const out = [
      `bench:monitor — ${new Date().toISOString()}: ${HOSTS} hosts, each pinged once every ${INTERVAL} s (${pingsPerS.toFixed(0)} pings/s), ` +
        `CPU over ${WINDOW} s after ${WARMUP} s, private memory (USS) at the window's end, inside namespace amadegi-b-mon-<pid>`,
      "",
      line(["what", "answered", "cores (by process)", "cores", "CPU ms per host a scrape", "× blackbox's", "MiB (by process)", "KiB per host"]),
      line(["---", "---:", "---", "---:", "---:", "---:", "---", "---:"]),
      ...rows.map((r) =>
        line([
          r.what,
          `${r.answered} of ${HOSTS}`,
          r.cores.map((c) => `${c.name} ${c.cores.toFixed(3)}`).join(", "),
          total(r).toFixed(3),
          ((total(r) * 1000) / pingsPerS).toFixed(2),
          (total(r) / base).toFixed(2),
          r.cores.map((c) => `${c.name} ${c.mib.toFixed(0)}`).join(", "),
          ((memory(r) * 1024) / HOSTS).toFixed(0),
        ]),
      ),
    ];
    if (!smokeping) out.push("", "smokeping_prober is not installed (apt-get install prometheus-smokeping-prober): its rows are left out");
    const short = rows.filter((r) => r.answered !== HOSTS);
    if (short.length > 0) out.push("", `NOT VALID: ${short.map((r) => r.what).join("; ")} did not hear from every host`);
    process.stdout.write(`${out.join("\n")}\n`);
    if (short.length > 0) process.exitCode = 1;
  } finally {
    leftovers.cleanup();
    await rm(work, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench:monitor failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
  leftovers.cleanup();
}
