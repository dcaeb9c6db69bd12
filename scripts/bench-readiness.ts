// Benchmark: the readiness gate and report at national size. Generates the
// synthetic national inventory (`amadegi generate --stations 58640`), writes
// synthetic results for every server, link and device (2% of links down, 0.5%
// unknown, as a real campaign might), then times `amadegi gate` and
// `amadegi report` as a user runs them: each a fresh child process (cold, the
// CLI's own startup included). The first gate validates the inventory and
// keeps a snapshot; the measured runs are on an unchanged inventory (the
// daily case), and the first run is printed too. Beside them, in the same rounds, the floor of
// issue 20: a cold node process that merely stream-parses the same results file and hashes it
// (scripts/bench/parse-floor.ts). Goals: gate ≤ 1.5 × and report ≤ 3 × that floor (issue 20; a later
// gate of the same results reads their digest, ADR 0011, and of the same milestone their measures, ADR 0016), gate ≤ 2 s and
// report ≤ 5 s (issue 6), report.html ≤ 10 MB, summary.md < 1 MiB. The first gate of new results
// (parsed, digest kept) is printed too. Runs with its own state directory. Not a test: it prints figures.
//
//   npm run bench:readiness [-- --stations 58640 --rounds 3 --keep]
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadInventory } from "../src/model/index.ts";
import { writeNational } from "../src/model/synthetic/national.ts";
import { writeSyntheticResults } from "../src/readiness/synthetic.ts";
import { machineLine } from "./bench/machine.ts";
import { median } from "./bench/stats.ts";

const ROOT = join(import.meta.dirname, "..");
const { values } = parseArgs({
  options: { stations: { type: "string", default: "58640" }, rounds: { type: "string", default: "3" }, keep: { type: "boolean" } },
});
const stations = Number(values.stations);
const rounds = Number(values.rounds);

/**
 * Run the CLI in a fresh process: wall time, and CPU time (user + sys, from the
 * child's own report at exit), which a busy machine inflates less than wall time.
 */
function time(args: string[], cwd: string, script = join(ROOT, "bin", "amadegi.js")): { ms: number; cpuMs: number; code: number | null; out: string } {
  const start = performance.now();
  const probe = "process.on('exit',()=>{const u=process.resourceUsage();process.stderr.write('\\nBENCH-CPU '+(u.userCPUTime+u.systemCPUTime)/1000+'\\n')})";
  const r = spawnSync(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(probe)}`, script, ...args], {
    cwd,
    env: { ...process.env, AMADEGI_STATE_DIR: join(cwd, "state") },
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  const cpu = /BENCH-CPU ([\d.]+)/.exec(r.stderr);
  return { ms: performance.now() - start, cpuMs: Number(cpu?.[1] ?? NaN), code: r.status, out: `${r.stdout}${r.stderr.replace(/\nBENCH-CPU [\d.]+\n/, "")}` };
}

const dir = await mkdtemp(join(tmpdir(), "amadegi-bench-readiness-"));
try {
  let t = performance.now();
  await writeNational(dir, { stations, seed: 1 });
  const loaded = await loadInventory(join(dir, "inventory"));
  const inv = loaded.inventory;
  if (inv === undefined) throw new Error("the generated inventory does not load");
  let n = 0;
  const results = join(dir, "results.jsonl");
  const count = writeSyntheticResults(results, inv, {
    now: new Date(),
    checkinAt: "2027-02-24T00:00:00Z",
    edit: (r) => {
      if (r.link === undefined) return r;
      n++;
      return n % 50 === 0 ? { ...r, status: "down", failure: "timeout", detail: `${r.address}: no answer` } : n % 200 === 7 ? { ...r, status: "unknown" } : r;
    },
  });
  console.log(
    `national inventory: ${inv.stations.length} stations, ${inv.linksById.size} links, ${inv.servers.length} servers; results: ${count} lines, ` +
      `${(statSync(results).size / 1048576).toFixed(1)} MiB (setup ${((performance.now() - t) / 1000).toFixed(1)} s)`,
  );
  const common = ["--inventory", join(dir, "inventory"), "--results", results, "--milestone", "T-1", "--date", "2027-02-24"];
  // The first gate validates the inventory and keeps its snapshot (.amadegi/cache); later runs on an unchanged inventory read it.
  const cold = time(["gate", ...common, "--no-history"], dir);
  if (cold.code === null || cold.code > 1) throw new Error(`gate failed (${cold.code}):\n${cold.out.slice(-2000)}`);
  const gates: number[] = [];
  const gateCpu: number[] = [];
  const gatesWithHistory: number[] = [];
  const reports: number[] = [];
  const reportCpu: number[] = [];
  const floors: number[] = [];
  const firstReads: number[] = [];
  const fromDigest: number[] = [];
  const forget = async (...prefixes: string[]) => {
    for (const name of await readdir(join(dir, "state", "cache"))) if (prefixes.some((p) => name.startsWith(p))) await rm(join(dir, "state", "cache", name));
  };
  let verdict = "";
  for (let i = 0; i < rounds; i++) {
    const f = time([results], dir, join(ROOT, "scripts", "bench", "parse-floor.ts"));
    if (f.code !== 0) throw new Error(`the parse floor failed (${f.code}):\n${f.out.slice(-2000)}`);
    floors.push(f.ms);
    // Results not seen before: no digest and no measures, so the gate parses them and measures (and keeps both).
    await forget("evidence-", "measures-");
    const n = time(["gate", ...common, "--no-history"], dir);
    if (n.code === null || n.code > 1) throw new Error(`gate failed (${n.code}):\n${n.out.slice(-2000)}`);
    firstReads.push(n.ms);
    // Results seen before, measures not kept (another milestone or day on the same results): their digest, measured again.
    await forget("measures-");
    const d = time(["gate", ...common, "--no-history"], dir);
    if (d.code === null || d.code > 1) throw new Error(`gate failed (${d.code}):\n${d.out.slice(-2000)}`);
    fromDigest.push(d.ms);
    const g = time(["gate", ...common, "--no-history"], dir);
    if (g.code === null || g.code > 1) throw new Error(`gate failed (${g.code}):\n${g.out.slice(-2000)}`);
    gates.push(g.ms);
    gateCpu.push(g.cpuMs);
    verdict = g.out.trim().split("\n").at(-1) ?? "";
    // A fresh history each round: recording the campaign's rows is the expensive first time.
    const h = time(["gate", ...common, "--history", join(dir, `history-${i}.sqlite`)], dir);
    gatesWithHistory.push(h.ms);
    t = performance.now();
    const r = time(["report", ...common, "--no-history", "--out", join(dir, "report")], dir);
    if (r.code === null || r.code > 1) throw new Error(`report failed (${r.code}):\n${r.out.slice(-2000)}`);
    reports.push(r.ms);
    reportCpu.push(r.cpuMs);
  }
  const html = statSync(join(dir, "report", "report.html")).size;
  const summary = statSync(join(dir, "report", "summary.md")).size;
  const junit = statSync(join(dir, "report", "junit.xml")).size;
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`verdict: ${verdict}`);
  console.log(`machine: ${machineLine()} (wall times on a busy machine run long; CPU times less so)`);
  const floor = median(floors);
  const ratio = (ms: number, goal: number) => `${(ms / floor).toFixed(2)} × the floor (goal ≤ ${goal}: ${ms / floor <= goal ? "met" : "MISSED"})`;
  console.log(`floor: a cold node process stream-parsing and hashing the results, median of ${rounds}: ${s(floor)}   [${floors.map(s).join(", ")}]`);
  console.log(`gate, first run (validates the inventory, writes its snapshot, parses the results, keeps their digest): ${s(cold.ms)}`);
  console.log(
    `gate on results not seen before (inventory unchanged; parses the results, keeps their digest), median: ${s(median(firstReads))}   ` +
      `[${firstReads.map(s).join(", ")}]   ${ratio(median(firstReads), 1.5)}`,
  );
  console.log(
    `gate on results seen before, another milestone (their digest, measured again: ADR 0011), median: ${s(median(fromDigest))}   ` +
      `[${fromDigest.map(s).join(", ")}]   ${ratio(median(fromDigest), 1.5)}`,
  );
  console.log(
    `gate (cold process, inventory, results and milestone unchanged: the kept measures, ADR 0016; no history), median of ${rounds}: ${s(median(gates))}   ` +
      `[${gates.map(s).join(", ")}]   ${ratio(median(gates), 1.5)}; goal ≤ 2 s: ${median(gates) <= 2000 ? "met" : "MISSED"}; CPU ${s(median(gateCpu))}`,
  );
  console.log(`gate + recording the campaign in a new history, median: ${s(median(gatesWithHistory))}   [${gatesWithHistory.map(s).join(", ")}]`);
  console.log(
    `report (cold process: gate + report.html, summary.md, junit.xml, results.json), median: ${s(median(reports))}   ` +
      `[${reports.map(s).join(", ")}]   ${ratio(median(reports), 3)}; goal ≤ 5 s: ${median(reports) <= 5000 ? "met" : "MISSED"}; CPU ${s(median(reportCpu))}`,
  );
  console.log(`report.html: ${(html / 1048576).toFixed(2)} MiB   goal ≤ 10 MB: ${html <= 10_000_000 ? "met" : "MISSED"}`);
  console.log(
    `summary.md: ${(summary / 1024).toFixed(1)} KiB   goal < 1 MiB: ${summary < 1048576 ? "met" : "MISSED"};  junit.xml: ${(junit / 1048576).toFixed(2)} MiB`,
  );
  if (values.keep === true) console.log(`kept: ${dir}`);
} finally {
  if (values.keep !== true) await rm(dir, { recursive: true, force: true });
}
