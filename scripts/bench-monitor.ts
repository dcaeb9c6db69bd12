// npm run bench:monitor [-- --hosts 1500 --interval 15 --warmup 40 --window 60 --privileged]
//
// What a monitor pays to ping its links, per ping — the cost that grows with the network in the
// rehearsal (ADR 0013): the way amadegi's monitors do it (Prometheus scraping blackbox_exporter's
// icmp module, one probe per link per scrape) beside prometheus-smokeping-prober (one process
// pinging every host, one scrape), each alone, the same hosts at the same rate. Every ping goes to
// the loopback of a network namespace this script makes and always deletes (amadegi-b-mon-<pid>).
// CPU is read from /proc/<pid>/stat over the window, after a warm-up, and each setup's answers are
// checked (every host answered) before its figures count. smokeping_prober runs unprivileged (ICMP
// datagram sockets, the namespace's ping_group_range opened); `--privileged` adds its raw-socket
// mode, which takes far more. smokeping_prober is not part of amadegi's toolchain: without it, its
// rows say how to install it. Each setup's private memory (USS) is read at the window's end: the
// rehearsal holds every monitor on one machine (ADR 0013). Root only. Not a test: it prints figures.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
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
const PORTS = { prometheus: 19090, blackbox: 19115, smokeping: 19374 };
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
function start(argv: string[], log: string): ChildProcess {
  const child = spawn(inNs(argv)[0] ?? "", inNs(argv).slice(1), { stdio: ["ignore", "ignore", "ignore"] });
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

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
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
async function measure(what: string, processes: { name: string; child: ChildProcess }[], answered: () => number): Promise<Row> {
  await sleep(WARMUP);
  for (const p of processes) if (p.child.exitCode !== null || p.child.pid === undefined) throw new Error(`${what}: ${p.name} is not running`);
  const before = processes.map((p) => cpuTicks(p.child.pid ?? 0));
  await sleep(WINDOW);
  const cores = processes.map((p, i) => ({
    name: p.name,
    cores: (cpuTicks(p.child.pid ?? 0) - (before[i] ?? 0)) / TICKS_PER_S / WINDOW,
    mib: privateMiB(p.child.pid ?? 0),
  }));
  const row = { what, cores, answered: answered() };
  for (const p of processes) await stop(p.child);
  return row;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("root only (it makes a network namespace)");
  for (const binary of ["prometheus", "prometheus-blackbox-exporter", "curl"]) if (!has(binary)) throw new Error(`${binary} is not installed (npm run setup)`);
  const work = await mkdtemp(join(tmpdir(), "amadegi-bench-monitor-"));
  try {
    execFileSync("ip", ["netns", "add", NS]);
    leftovers.madeNetns(NS);
    execFileSync("ip", inNs(["ip", "link", "set", "lo", "up"]).slice(1));
    // ICMP datagram sockets for any group, in this namespace only (smokeping_prober unprivileged).
    execFileSync("ip", inNs(["sysctl", "-q", "-w", "net.ipv4.ping_group_range=0 2147483647"]).slice(1));
    const hosts = Array.from({ length: HOSTS }, (_, i) => `127.60.${Math.floor(i / 250)}.${(i % 250) + 1}`);
    const global = `global: { scrape_interval: ${INTERVAL}s, scrape_timeout: ${Math.min(10, INTERVAL)}s }\n`;
    await writeFile(join(work, "targets.json"), JSON.stringify([{ targets: hosts, labels: { check: "link-icmp" } }]));
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
        "amadegi's monitors: Prometheus + blackbox_exporter icmp",
        [
          { name: "blackbox_exporter", child: bb },
          { name: "prometheus", child: pa },
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
      line(["what", "answered", "cores (by process)", "cores", "CPU ms per ping", "× amadegi's way", "MiB (by process)", "KiB per host"]),
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
