// Benchmark: `amadegi validate` on a synthetic national inventory against
// merely js-yaml-loading the same files. Each measurement is a fresh child
// process (cold: no JIT warm-up, nothing cached in the process) on the same
// files; the rounds alternate the order. Prints wall time, CPU time (user +
// sys) and peak RSS of each, and the ratios. Goal: validate ≤ 1.2 × bare parse
// (issue 20; issue 3's was 1.5 ×). Not a test: it prints figures.
//
//   npm run bench:inventory [-- --stations 58640 --rounds 3 --keep]
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type ChildUsage, usageHook } from "./bench/usage.ts";
import { median } from "./bench/stats.ts";

const ROOT = join(import.meta.dirname, "..");
const SELF = join(import.meta.dirname, "bench-inventory.ts");

interface Usage {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly rssMiB: number;
  readonly code: number | null;
}

/** Every file validate reads, in the same order. */
function inventoryFiles(dir: string): string[] {
  const districts = readdirSync(join(dir, "districts"))
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => join(dir, "districts", f));
  return [...["election", "operators", "servers", "waivers"].map((f) => join(dir, `${f}.yaml`)), ...districts, join(dir, "..", "governance", "committee.yaml")];
}

// Child modes -----------------------------------------------------------------

async function child(mode: string, dir: string): Promise<void> {
  if (mode === "bare") {
    const { load } = await import("js-yaml");
    const kept: unknown[] = []; // keep the data, as any real consumer would
    for (const file of inventoryFiles(dir)) kept.push(load(readFileSync(file, "utf8")));
    process.stdout.write(`${kept.length} documents\n`);
  } else if (mode === "model") {
    const { loadInventory } = await import("../src/model/index.ts");
    const result = await loadInventory(dir);
    process.stdout.write(`${result.findings.length} findings\n`);
  }
}

// Parent ----------------------------------------------------------------------

/** Run a child that writes its own CPU time and peak memory at exit (bench/usage.ts). */
function measure(args: string[]): Promise<Usage> {
  return new Promise((resolve, reject) => {
    const usageFile = join(tmpdir(), `amadegi-bench-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
    const started = process.hrtime.bigint();
    const proc = spawn(process.execPath, ["--import", usageHook(usageFile), ...args], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "inherit"],
    });
    proc.on("error", reject);
    proc.on("exit", (code) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      try {
        const usage = JSON.parse(readFileSync(usageFile, "utf8")) as ChildUsage;
        resolve({ wallMs, cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000, rssMiB: usage.peakKiB / 1024, code });
      } catch (error) {
        reject(error);
      } finally {
        void rm(usageFile, { force: true });
      }
    });
  });
}

async function bench(): Promise<void> {
  const { values } = parseArgs({
    options: {
      stations: { type: "string", default: "58640" },
      rounds: { type: "string", default: "3" },
      seed: { type: "string", default: "1" },
      keep: { type: "boolean", default: false },
    },
  });
  const out = await mkdtemp(join(tmpdir(), "amadegi-bench-"));
  const inventory = join(out, "inventory");
  try {
    const gen = await measure(["bin/amadegi.js", "generate", "--stations", values.stations, "--seed", values.seed, "--out", out]);
    if (gen.code !== 0) throw new Error("generate failed");
    const files = inventoryFiles(inventory);
    const bytes = files.reduce((sum, f) => sum + readFileSync(f).length, 0);
    console.log(
      `inventory: ${values.stations} stations, ${files.length} files, ${(bytes / 1048576).toFixed(1)} MiB ` +
        `(generated in ${(gen.wallMs / 1000).toFixed(1)} s), node ${process.version}`,
    );
    const runs: Record<string, Usage[]> = { "bare js-yaml load": [], "amadegi validate": [], "loadInventory only": [] };
    const commands: Record<string, string[]> = {
      "bare js-yaml load": [SELF, "--child", "bare", inventory],
      "amadegi validate": ["bin/amadegi.js", "validate", "--inventory", inventory],
      "loadInventory only": [SELF, "--child", "model", inventory],
    };
    const names = Object.keys(commands);
    for (let round = 0; round < Number(values.rounds); round++) {
      const order = round % 2 === 0 ? names : [...names].reverse();
      for (const name of order) {
        const usage = await measure(commands[name] ?? []);
        if (name === "bare js-yaml load" && usage.code !== 0) throw new Error(`${name} failed`);
        if (name !== "bare js-yaml load" && (usage.code ?? 2) > 1) throw new Error(`${name} could not run (exit ${usage.code})`);
        runs[name]?.push(usage);
      }
    }
    const row = (name: string) => {
      const r = runs[name] ?? [];
      return { wall: median(r.map((u) => u.wallMs)), cpu: median(r.map((u) => u.cpuMs)), rss: median(r.map((u) => u.rssMiB)) };
    };
    const base = row("bare js-yaml load");
    console.log(`median of ${values.rounds} cold runs each:`);
    console.log(
      `${"".padEnd(20)} ${"wall s".padStart(8)} ${"cpu s".padStart(8)} ${"peak RSS MiB".padStart(13)} ${"wall ×".padStart(7)} ${"cpu ×".padStart(7)}`,
    );
    for (const name of names) {
      const r = row(name);
      console.log(
        `${name.padEnd(20)} ${(r.wall / 1000).toFixed(2).padStart(8)} ${(r.cpu / 1000).toFixed(2).padStart(8)} ${r.rss.toFixed(0).padStart(13)} ` +
          `${(r.wall / base.wall).toFixed(2).padStart(7)} ${(r.cpu / base.cpu).toFixed(2).padStart(7)}`,
      );
    }
    const v = row("amadegi validate");
    const met = v.wall / base.wall <= 1.2 ? "met" : "MISSED";
    console.log(
      `ratio validate / bare parse: ${(v.wall / base.wall).toFixed(2)} (wall), ${(v.cpu / base.cpu).toFixed(2)} (cpu); goal ≤ 1.2 (issue 20): ${met}`,
    );
    if (values.keep) console.log(`kept ${out}`);
  } finally {
    if (!values.keep) await rm(out, { recursive: true, force: true });
  }
}

const childAt = process.argv.indexOf("--child");
if (childAt >= 0) await child(process.argv[childAt + 1] ?? "", process.argv[childAt + 2] ?? "");
else await bench();
