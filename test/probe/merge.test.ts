import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeShards, type ShardSpec } from "../../scripts/bench/shards.ts";
import { main } from "../../src/cli/main.ts";
import { type Inventory, loadInventory } from "../../src/model/index.ts";
import { generateNational } from "../../src/model/synthetic/national.ts";
import { runCampaign } from "../../src/probe/campaign/index.ts";
import { mergeResults } from "../../src/probe/merge.ts";
import type { CampaignHeader } from "../../src/probe/results.ts";
import { readResults } from "../../src/probe/results.ts";
import { buildTargets, parseSelect, provincesOf } from "../../src/probe/targets.ts";
import type { Target } from "../../src/probe/types.ts";
import { errorLines } from "../../src/lib/errors.ts";

// A small synthetic national inventory (31 provinces, 33 districts, 60
// stations; tehran has two districts) written as real files, and synthetic
// shard results split by --select exactly as `amadegi check --select` splits
// its targets. Nothing is probed.

let root: string;
let inventory: Inventory;
const now = new Date("2027-02-20T08:00:00Z");
const REST = "province!=tehran,server!=*";

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "amadegi-merge-"));
  for (const [path, text] of generateNational({ stations: 60, seed: 1, districts: 33 })) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
  const loaded = await loadInventory(join(root, "inventory"));
  if (loaded.inventory === undefined) throw new Error("the synthetic inventory did not load");
  inventory = loaded.inventory;
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let n = 0;
/** Shard files in a fresh directory, named by their key. */
async function shards(specs: Record<string, Omit<ShardSpec, "file">>): Promise<{ dir: string; files: Record<string, string> }> {
  const dir = join(root, `case-${n++}`);
  await mkdir(dir);
  const files = Object.fromEntries(Object.keys(specs).map((k) => [k, join(dir, `${k}.jsonl`)]));
  writeShards(
    inventory,
    Object.entries(specs).map(([k, spec]) => ({ ...spec, file: files[k] ?? "", id: spec.id ?? `${k}-${n}` })),
    { now },
  );
  return { dir, files };
}

async function lines(file: string): Promise<string[]> {
  return (await readFile(file, "utf8")).split("\n").filter((l) => l !== "");
}

/** Results without where they were observed from (each shard has its own prober), sorted. */
async function resultSet(file: string): Promise<string[]> {
  const out: string[] = [];
  await readResults(file, (r) => {
    out.push(JSON.stringify(Object.entries(r).filter(([k]) => k !== "from")));
  });
  return out.sort();
}

async function refusal(files: string[], out: string): Promise<string> {
  const error = await mergeResults({ shards: files, out, inventory }).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(error?.name).toBe("ProbeError");
  await expect(readFile(out)).rejects.toThrow(/ENOENT/);
  expect((await readdir(dirname(out))).filter((f) => f.includes(".tmp"))).toEqual([]);
  // The message and each problem, a line each, as the CLI prints them (errorLines, less the hint).
  return errorLines(error)
    .slice(0, -1)
    .join("\n")
    .replace(/^ProbeError: /, "");
}

describe("shard selections", () => {
  it("province selects through the inventory's districts; server=* the central servers; server!=* the stations", () => {
    const provinces = provincesOf(inventory);
    const link = {
      key: "k",
      check: "link-icmp",
      kind: "icmp",
      address: "10.0.0.1",
      params: {},
      station: "P01D002-0001",
      district: "tehran-002",
    } as const satisfies Target;
    const server = { key: "s", check: "server-icmp", kind: "icmp", address: "10.0.0.2", params: {}, server: "gw-tehran-a01" } as const satisfies Target;
    expect(parseSelect("province=tehran", provinces)(link)).toBe(true);
    expect(parseSelect("province=qom|fars", provinces)(link)).toBe(false);
    expect(parseSelect("server=*", provinces)(server)).toBe(true);
    expect(parseSelect("server=*", provinces)(link)).toBe(false);
    expect(parseSelect(REST, provinces)(link)).toBe(false);
    expect(parseSelect("server!=*", provinces)(link)).toBe(true);
    expect(() => parseSelect("province=tehran")).toThrow(/selecting by province needs the inventory's districts/);
  });

  it("a campaign records its selection in the results header", async () => {
    const out = join(root, "select-header.jsonl");
    const target: Target = { key: "t/1", check: "t", kind: "tcp", address: "127.0.0.1", port: 1, params: {}, district: "tehran-001" };
    await runCampaign({
      stack: "test",
      from: "unit",
      targets: [target],
      checks: new Map([["t", { conditions: [], timeoutMs: 200, retries: 0 }]]),
      probes: { tcp: { kind: "tcp", probe: async () => ({ ok: true, timings: { total: 1 }, values: {} }) } },
      guard: () => {},
      deadlineMs: 2000,
      maxRate: 1000,
      concurrency: 4,
      evalContext: { now: Date.now(), electionEnd: Date.now() },
      out,
      select: "province=tehran",
    });
    const header = JSON.parse((await lines(out))[0] ?? "{}") as CampaignHeader;
    expect(header).toMatchObject({ type: "campaign", version: 1, select: "province=tehran", targets: 1 });
  });
});

describe("mergeResults", () => {
  it("province shards plus the central shard merge into the unsharded campaign's results", async () => {
    const provinces = [...new Set(inventory.districts.map((d) => d.province))];
    const { dir, files } = await shards({
      north: { select: `province=${provinces.slice(0, 16).join("|")}` },
      south: { select: `province=${provinces.slice(16).join("|")}` },
      central: { select: "server=*" },
      all: {},
    });
    const out = join(dir, "merged.jsonl");
    const report = await mergeResults({ shards: [files.north ?? "", files.south ?? "", files.central ?? ""], out, inventory });
    expect(report).toMatchObject({ valid: true, invalid: [], interrupted: false, stations: 60, servers: inventory.servers.length });
    const merged = await resultSet(out);
    expect(merged.length).toBeGreaterThan(300);
    expect(merged).toEqual(await resultSet(files.all ?? ""));
    const summary = await readResults(out);
    const all = await readResults(files.all ?? "");
    expect(summary.footer?.counts).toEqual(all.footer?.counts);
    expect(summary.footer).toMatchObject({ type: "end", valid: true, interrupted: false, id: report.id });
    const header = summary.header as CampaignHeader;
    expect(header.select).toBeUndefined();
    expect(header.shards?.map((s) => s.select)).toEqual([
      `province=${provinces.slice(0, 16).join("|")}`,
      `province=${provinces.slice(16).join("|")}`,
      "server=*",
    ]);
    expect(header.targets).toBe(merged.length);
    // Every line keeps its shard's prober.
    expect(new Set((await lines(out)).slice(1, -1).map((l) => (JSON.parse(l) as { from: string }).from))).toEqual(
      new Set(["runner-0", "runner-1", "runner-2"]),
    );
    // The same shards in another order are the same campaign.
    const again = await mergeResults({ shards: [files.central ?? "", files.south ?? "", files.north ?? ""], out: join(dir, "again.jsonl"), inventory });
    expect(again.id).toBe(report.id);
  });

  it("refuses a missing shard, naming the province, its districts and stations", async () => {
    const { dir, files } = await shards({ rest: { select: REST }, central: { select: "server=*" } });
    const message = await refusal([files.rest ?? "", files.central ?? ""], join(dir, "merged.jsonl"));
    expect(message).toBe(
      "cannot merge: 1 problem(s), nothing written:\n  - missing shard: no shard covers province tehran (2 districts: tehran-001, tehran-002; 7 stations)",
    );
  });

  it("refuses a missing central shard and a missing district", async () => {
    const { dir, files } = await shards({ rest: { select: REST }, t1: { select: "district=tehran-001" } });
    const message = await refusal([files.rest ?? "", files.t1 ?? ""], join(dir, "merged.jsonl"));
    expect(message.split("\n").slice(1)).toEqual([
      "  - missing shard: no shard covers district tehran-002 (all 3 stations: P01D002-0001, P01D002-0002, P01D002-0003)",
      `  - missing shard: no shard covers ${inventory.servers.length} central servers ` +
        `gw-tehran-a01, gw-tehran-b01, gw-razavi-khorasan-a01, gw-razavi-khorasan-b01, gw-isfahan-a01 … and ${inventory.servers.length - 5} more ` +
        `(the central shard runs with --select server=*)`,
    ]);
  });

  it("refuses a duplicated shard: the same file twice, or a copy of it", async () => {
    const { dir, files } = await shards({
      rest: { select: REST, id: "campaign-rest" },
      tehran: { select: "province=tehran" },
      central: { select: "server=*" },
    });
    const copy = join(dir, "rest-copy.jsonl");
    await copyFile(files.rest ?? "", copy);
    const all = [files.rest ?? "", files.tehran ?? "", files.central ?? ""];
    expect(await refusal([...all, files.rest ?? ""], join(dir, "m1.jsonl"))).toBe(
      `cannot merge: 1 problem(s), nothing written:\n  - duplicated shard: ${files.rest} is named twice`,
    );
    expect(await refusal([...all, copy], join(dir, "m2.jsonl"))).toBe(
      `cannot merge: 1 problem(s), nothing written:\n  - duplicated shard: ${copy} is campaign campaign-rest, the same as ${files.rest}`,
    );
  });

  it("refuses overlapping shards, naming both files and the district and stations both cover", async () => {
    const { dir, files } = await shards({
      rest: { select: REST },
      tehran: { select: "province=tehran" },
      t2: { select: "district=tehran-002" },
      central: { select: "server=*" },
    });
    const message = await refusal([files.rest ?? "", files.tehran ?? "", files.t2 ?? "", files.central ?? ""], join(dir, "merged.jsonl"));
    expect(message).toBe(
      `cannot merge: 1 problem(s), nothing written:\n  - shards ${files.tehran} (province=tehran) and ${files.t2} (district=tehran-002) overlap: ` +
        `both cover district tehran-002 (all 3 stations: P01D002-0001, P01D002-0002, P01D002-0003)`,
    );
  });

  it("refuses a shard selected by something other than whole stations, and results outside a shard's selection", async () => {
    const { dir, files } = await shards({
      rest: { select: REST },
      tehran: { select: "province=tehran" },
      mci: { select: "operator=mci" },
      central: { select: "server=*" },
    });
    const message = await refusal([files.rest ?? "", files.tehran ?? "", files.mci ?? "", files.central ?? ""], join(dir, "m1.jsonl"));
    expect(message).toBe(
      `cannot merge: 1 problem(s), nothing written:\n  - ${files.mci} was selected by operator=mci: operator covers parts of stations; ` +
        `a shard selects whole stations by province, district or station, or the central servers by server=*`,
    );
    // A file whose header claims district tehran-001 but holds all of tehran.
    const liar = join(dir, "liar.jsonl");
    const text = (await readFile(files.tehran ?? "", "utf8"))
      .replace('"select":"province=tehran"', '"select":"district=tehran-001"')
      .replace(/"id":"tehran-\d+"/g, '"id":"liar"');
    await writeFile(liar, text);
    const { files: t2 } = await shards({ t2: { select: "district=tehran-002" } });
    const outside = await refusal([files.rest ?? "", liar, t2.t2 ?? "", files.central ?? ""], join(dir, "m2.jsonl"));
    expect(outside).toBe(
      `cannot merge: 1 problem(s), nothing written:\n  - shard ${liar} holds results outside its selection district=tehran-001: ` +
        `district tehran-002 (all 3 stations: P01D002-0001, P01D002-0002, P01D002-0003), covered by ${t2.t2} (district=tehran-002)`,
    );
  });

  it("keeps validity: one invalid shard, or one interrupted, makes the merged campaign invalid", async () => {
    const { dir, files } = await shards({
      rest: { select: REST },
      tehran: { select: "province=tehran", valid: false },
      central: { select: "server=*", valid: "none" },
    });
    const out = join(dir, "merged.jsonl");
    const report = await mergeResults({ shards: [files.rest ?? "", files.tehran ?? "", files.central ?? ""], out, inventory });
    expect(report.valid).toBe(false);
    expect(report.interrupted).toBe(true);
    expect(report.invalid).toEqual([
      `shard ${files.tehran} (province=tehran): the prober's event loop lagged 900 ms (starved)`,
      `shard ${files.central} (server=*): no end record: the campaign was interrupted or its prober died`,
    ]);
    const { footer } = await readResults(out);
    expect(footer).toMatchObject({ valid: false, interrupted: true, invalid: report.invalid });
  });

  it("a damaged line in a shard makes the merge invalid, and is not copied", async () => {
    const { dir, files } = await shards({ rest: { select: REST }, tehran: { select: "province=tehran" }, central: { select: "server=*" } });
    const text = await readFile(files.tehran ?? "", "utf8");
    const broken = text.split("\n");
    broken.splice(2, 0, '{"type":"result","key":');
    await writeFile(files.tehran ?? "", broken.join("\n"));
    const out = join(dir, "merged.jsonl");
    const report = await mergeResults({ shards: [files.rest ?? "", files.tehran ?? "", files.central ?? ""], out, inventory });
    expect(report.invalid).toEqual([`shard ${files.tehran} (province=tehran): 1 damaged line(s), first at line 3`]);
    expect((await readResults(out)).damaged).toEqual([]);
  });
});

describe("amadegi merge", () => {
  function capture() {
    const out: string[] = [];
    const err: string[] = [];
    return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), cwd: root, env: process.env }, out, err };
  }

  it("exits 0 for a valid merge, 1 for an invalid one, 2 when it refuses", async () => {
    const { dir, files } = await shards({ rest: { select: REST }, tehran: { select: "province=tehran" }, central: { select: "server=*" } });
    const inv = ["--inventory", join(root, "inventory")];
    const ok = capture();
    expect(await main(["merge", files.rest ?? "", files.tehran ?? "", files.central ?? "", "--out", join(dir, "m.jsonl"), ...inv], ok.io)).toBe(0);
    expect(ok.out.join("\n")).toMatch(
      /^merged 3 shards \(60 stations, \d+ servers, each covered once\) → .*m\.jsonl: campaign [0-9a-f-]{36}, \d+ results\n {2}up \d+ · degraded 0/,
    );
    const bad = await shards({ rest: { select: REST }, tehran: { select: "province=tehran", valid: false }, central: { select: "server=*" } });
    const invalid = capture();
    expect(
      await main(["merge", bad.files.rest ?? "", bad.files.tehran ?? "", bad.files.central ?? "", "--out", join(bad.dir, "m.jsonl"), ...inv], invalid.io),
    ).toBe(1);
    expect(invalid.err.join("\n")).toContain("INVALID: shard");
    const refused = capture();
    expect(await main(["merge", files.rest ?? "", files.central ?? "", "--out", join(dir, "m2.jsonl"), ...inv], refused.io)).toBe(2);
    expect(refused.err.join("\n")).toMatch(/^ProbeError: cannot merge: 1 problem\(s\), nothing written:\n {2}- missing shard: no shard covers province tehran/);
    const usage = capture();
    expect(await main(["merge", files.rest ?? ""], usage.io)).toBe(2);
    expect(usage.err.join("\n")).toContain("merge needs --out FILE");
  });

  it("the merged file is what the results readers and the target builder expect", async () => {
    // Sanity: buildTargets and parseSelect agree with the shard coverage on a real catalog.
    const { loadCatalog } = await import("../../src/probe/catalog/load.ts");
    const catalog = loadCatalog(join(import.meta.dirname, "..", "..", "checks"), { inventory }).catalog;
    if (catalog === undefined) throw new Error("catalog");
    const provinces = provincesOf(inventory);
    const all = buildTargets(inventory, catalog).targets.length;
    const parts = [REST, "province=tehran", "server=*"].map((s) => buildTargets(inventory, catalog, parseSelect(s, provinces)).targets.length);
    expect(parts.reduce((a, b) => a + b, 0)).toBe(all);
  });
});
