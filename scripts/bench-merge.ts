// Benchmark: `amadegi merge` at national size. Generates the synthetic national
// inventory (58,640 stations by default), writes synthetic results split into
// 31 province shards and the central shard (scripts/bench/shards.ts: no
// probing), then times `amadegi merge` as a user runs it: a fresh child
// process, the inventory load (coverage needs it) and the CLI's startup
// included. Prints figures; not a test.
//
//   npm run bench:merge [-- --stations 58640 --rounds 3]
import { spawnSync } from "node:child_process";
import { mkdirSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadInventory } from "../src/model/index.ts";
import { writeNational } from "../src/model/synthetic/national.ts";
import { writeShards } from "./bench/shards.ts";
import { median } from "./bench/stats.ts";

const ROOT = join(import.meta.dirname, "..");
const { values } = parseArgs({ options: { stations: { type: "string", default: "58640" }, rounds: { type: "string", default: "3" } } });
const stations = Number(values.stations);
const rounds = Number(values.rounds);

const dir = await mkdtemp(join(tmpdir(), "amadegi-bench-merge-"));
try {
  let t = performance.now();
  await writeNational(dir, { stations, seed: 1 });
  const loaded = await loadInventory(join(dir, "inventory"));
  if (loaded.inventory === undefined) throw new Error("the synthetic inventory did not load");
  const inv = loaded.inventory;
  const provinces = [...new Set(inv.districts.map((d) => d.province))];
  const specs = [
    ...provinces.map((p) => ({ file: join(dir, "shards", `${p}.jsonl`), select: `province=${p}` })),
    { file: join(dir, "shards", "central.jsonl"), select: "server=*" },
  ];
  mkdirSync(join(dir, "shards"));
  const counts = writeShards(inv, specs, { now: new Date() });
  const results = counts.reduce((a, b) => a + b, 0);
  const bytes = specs.reduce((n, s) => n + statSync(s.file).size, 0);
  console.log(
    `setup: ${stations} stations, ${inv.districts.length} districts, ${inv.servers.length} servers; ${provinces.length} province shards + central, ` +
      `${results} results, ${(bytes / 1048576).toFixed(0)} MiB (${((performance.now() - t) / 1000).toFixed(1)} s)`,
  );
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    t = performance.now();
    const r = spawnSync(
      process.execPath,
      [join(ROOT, "bin", "amadegi.js"), "merge", ...specs.map((s) => s.file), "--out", join(dir, "merged.jsonl"), "--inventory", join(dir, "inventory")],
      { encoding: "utf8" },
    );
    times.push(performance.now() - t);
    if (r.status !== 0) throw new Error(`merge exited ${r.status}: ${r.stderr}`);
    if (i === 0) console.log(r.stdout.trim());
  }
  console.log(
    `amadegi merge of ${specs.length} shards (${results} results, ${stations} stations): median ${(median(times) / 1000).toFixed(2)} s over ${rounds} runs ` +
      `(${times.map((x) => (x / 1000).toFixed(2)).join(", ")} s), cold process, inventory load included`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
