// npm run bench:stall [-- --runs N] — how long the prober's event loop stalls
// during a real campaign: `amadegi check --stack rehearsal` on the provisioned
// sample rehearsal with its devices checking in, first on a quiet machine,
// then while two busy-loop processes run at the same nice level (no affinity,
// no priority set on any process). The stall is the campaign's own
// perf_hooks.monitorEventLoopDelay histogram (the check's --json report).
//
// The floor, side by side: a Node process that does nothing but measure its
// own event loop the same way, running during each campaign. What it sees is
// what the kernel's scheduler alone imposes; the prober's figure over the
// floor's is what the prober adds. Goals (issue 12): worst stall ≤ 250 ms,
// p99 ≤ 50 ms, with the busy loops.
//
// Root only. If the rehearsal stack is not provisioned, it runs `amadegi demo`
// first (about two and a half minutes). Every packet stays in the rehearsal.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { median } from "./bench/stats.ts";

const REPO = join(import.meta.dirname, "..");
const GOAL = { max: 250, p99: 50 };

interface LoopFigures {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

interface Run {
  readonly condition: string;
  readonly code: number | null;
  readonly valid: boolean;
  readonly invalid: readonly string[];
  readonly prober: LoopFigures;
  readonly floor: LoopFigures;
  readonly starved: number;
  readonly lowest: number;
  readonly counts: Record<string, number>;
  readonly seconds: number;
}

function amadegi(args: readonly string[]): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, [join(REPO, "bin", "amadegi.js"), ...args], { cwd: REPO, stdio: ["ignore", "pipe", "ignore"] });
  let stdout = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout })));
}

/** The floor: a Node process that only measures its own loop, until SIGTERM; then it prints its figures. */
function startFloor(): { stop: () => Promise<LoopFigures> } {
  const code = [
    "const h = require('node:perf_hooks').monitorEventLoopDelay({ resolution: 10 }); h.enable();",
    "const keep = setInterval(() => {}, 1000);",
    "process.on('SIGTERM', () => { h.disable(); clearInterval(keep);",
    // As the prober reports it (selfwatch.ts): the delay beyond the histogram's 10 ms period.
    "  const ms = (ns) => Math.max(0, Math.round((ns / 1e6 - 10) * 10) / 10);",
    "  process.stdout.write(JSON.stringify({ p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) })); });",
  ].join("\n");
  const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  return {
    stop: () =>
      new Promise((resolve) => {
        child.on("close", () => resolve(JSON.parse(out) as LoopFigures));
        child.kill("SIGTERM");
      }),
  };
}

/** Two processes that spin until stopped (and at most `ms`), at the default nice level. */
function busyLoops(ms: number): ChildProcess[] {
  return [0, 1].map(() => spawn(process.execPath, ["-e", `const end = Date.now() + ${ms}; while (Date.now() < end) {}`], { stdio: "ignore" }));
}

async function campaign(condition: string, dir: string, n: number): Promise<Run> {
  const floor = startFloor();
  const started = Date.now();
  const ran = await amadegi(["check", "--stack", "rehearsal", "--json", "--out", join(dir, `${condition}-${n}.jsonl`)]);
  const floorFigures = await floor.stop();
  let report: {
    valid: boolean;
    invalid: string[];
    loopDelay: LoopFigures;
    starvedAttempts: number;
    lowestConcurrency: number;
    summary: { total: Record<string, number> };
  };
  try {
    report = JSON.parse(ran.stdout) as typeof report;
  } catch {
    throw new Error(`amadegi check exited ${ran.code} without a JSON report: ${ran.stdout.slice(-400)}`);
  }
  return {
    condition,
    code: ran.code,
    valid: report.valid,
    invalid: report.invalid,
    prober: report.loopDelay,
    floor: floorFigures,
    starved: report.starvedAttempts,
    lowest: report.lowestConcurrency,
    counts: report.summary.total,
    seconds: (Date.now() - started) / 1000,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: "string", default: "3" } } });
  const runs = Math.max(1, Number(values.runs));
  if (process.getuid?.() !== 0) {
    console.error("bench:stall needs root (the rehearsal's namespaces)");
    process.exitCode = 2;
    return;
  }
  const status = await amadegi(["rehearsal", "status"]);
  if (status.code !== 0 || !existsSync(join(REPO, ".amadegi", "rehearsal", "ca.crt"))) {
    console.log("bench:stall: the rehearsal is not provisioned; running `amadegi demo` first");
    const demo = await amadegi(["demo", "--out", join("reports", "bench-stall-demo")]);
    if (demo.code !== 0 && demo.code !== 1) throw new Error(`amadegi demo exited ${demo.code}: ${demo.stdout.slice(-600)}`);
  }
  const dir = await mkdtemp(join(tmpdir(), "amadegi-bench-stall-"));
  const all: Run[] = [];
  try {
    for (let i = 1; i <= runs; i++) all.push(await campaign("quiet", dir, i));
    for (let i = 1; i <= runs; i++) {
      const loops = busyLoops(180_000);
      try {
        all.push(await campaign("busy", dir, i));
      } finally {
        for (const l of loops) l.kill("SIGKILL");
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log("condition  valid  prober p50/p99/max ms   floor p50/p99/max ms   starved  lowest in flight  unknown  down  time");
  for (const r of all) {
    const f = (x: LoopFigures) => `${x.p50}/${x.p99}/${x.max}`.padEnd(22);
    console.log(
      `${r.condition.padEnd(10)} ${String(r.valid).padEnd(6)} ${f(r.prober)} ${f(r.floor)} ` +
        `${String(r.starved).padEnd(8)} ${String(r.lowest).padEnd(17)} ` +
        `${String(r.counts.unknown ?? 0).padEnd(8)} ${String(r.counts.down ?? 0).padEnd(5)} ${r.seconds.toFixed(1)} s`,
    );
    for (const why of r.invalid) console.log(`           INVALID: ${why}`);
  }
  for (const condition of ["quiet", "busy"]) {
    const rs = all.filter((r) => r.condition === condition);
    const worstMax = Math.max(...rs.map((r) => r.prober.max));
    const worstP99 = Math.max(...rs.map((r) => r.prober.p99));
    const floorMax = median(rs.map((r) => r.floor.max));
    const floorP99 = median(rs.map((r) => r.floor.p99));
    console.log(
      `${condition}: worst stall ${worstMax} ms (goal ≤ ${GOAL.max}; ${(worstMax / GOAL.max).toFixed(2)}× the goal), ` +
        `worst p99 ${worstP99} ms (goal ≤ ${GOAL.p99}; ${(worstP99 / GOAL.p99).toFixed(2)}×); ` +
        `the floor's median max ${floorMax} ms, p99 ${floorP99} ms ` +
        `(prober/floor: ${(median(rs.map((r) => r.prober.max)) / Math.max(1, floorMax)).toFixed(2)}× max, ` +
        `${(median(rs.map((r) => r.prober.p99)) / Math.max(1, floorP99)).toFixed(2)}× p99); ` +
        `${rs.filter((r) => !r.valid).length} of ${rs.length} campaigns invalid`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(`bench:stall: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 2;
});
