// The synthetic national inventory: deterministic for a seed, realistic in
// shape, and valid but for a sprinkling of warnings.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeFileAtomic } from "../../../src/lib/fs.ts";
import { hasErrors, loadInventory } from "../../../src/model/index.ts";
import { generateNational } from "../../../src/model/synthetic/national.ts";

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe("generateNational", () => {
  it("writes the same files for the same seed, other files for another", () => {
    const a = generateNational({ stations: 500, seed: 7 });
    const b = generateNational({ stations: 500, seed: 7 });
    const c = generateNational({ stations: 500, seed: 8 });
    expect([...a]).toEqual([...b]);
    expect(a.get("inventory/districts/tehran-001.yaml")).not.toBe(c.get("inventory/districts/tehran-001.yaml"));
  });

  it("spreads stations over 31 provinces and about one district per 49 stations", () => {
    const files = generateNational({ stations: 4_900, seed: 1 });
    const districts = [...files.keys()].filter((p) => p.startsWith("inventory/districts/"));
    expect(districts).toHaveLength(100);
    const provinces = new Set(districts.map((p) => p.replace(/^inventory\/districts\/(.+)-\d{3}\.yaml$/, "$1")));
    expect(provinces.size).toBe(31);
  });

  it("a smaller country: only the first provinces and data centres, valid, the whole country unchanged by the option's absence", async () => {
    const small = generateNational({ stations: 3_000, seed: 3, provinces: 2, sites: 2 });
    const districts = [...small.keys()].filter((p) => p.startsWith("inventory/districts/"));
    expect(new Set(districts.map((p) => p.replace(/^inventory\/districts\/(.+)-\d{3}\.yaml$/, "$1"))).size).toBe(2);
    const dir = await mkdtemp(join(tmpdir(), "amadegi-national-small-"));
    dirs.push(dir);
    for (const [path, text] of small) await writeFileAtomic(join(dir, path), text);
    const result = await loadInventory(join(dir, "inventory"), { today: "2026-11-22" });
    expect(result.findings.filter((f) => f.severity === "error")).toEqual([]);
    const servers = result.inventory?.servers ?? [];
    expect(result.inventory?.stations).toHaveLength(3_000);
    // Two data centres, one server of each of the 8 central roles in each; gateways in pairs across them.
    expect(servers.filter((s) => !s.roles.includes("gateway"))).toHaveLength(16);
    expect(new Set(servers.map((s) => s.site))).toEqual(new Set(["DC-TEH-1", "DC-TEH-2"]));
    expect(servers.filter((s) => s.roles.includes("gateway")).length % 2).toBe(0);
    expect(servers.length).toBeLessThan(40);
    // Without the options, the country is whole (all 31 provinces, 6 data centres).
    expect([...generateNational({ stations: 500, seed: 7, provinces: 31, sites: 6 })]).toEqual([...generateNational({ stations: 500, seed: 7 })]);
  });

  it("passes validate with warnings only, 2–3 links per station", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-national-"));
    dirs.push(dir);
    for (const [path, text] of generateNational({ stations: 3_000, seed: 3 })) await writeFileAtomic(join(dir, path), text);
    const result = await loadInventory(join(dir, "inventory"), { today: "2026-11-22" });
    expect(result.findings.filter((f) => f.severity === "error")).toEqual([]);
    expect(hasErrors(result.findings)).toBe(false);
    const inv = result.inventory;
    expect(inv?.stations).toHaveLength(3_000);
    const links = inv?.stations.map((s) => s.links.length) ?? [];
    expect(Math.min(...links)).toBeGreaterThanOrEqual(1);
    expect(links.reduce((a, b) => a + b, 0) / links.length).toBeGreaterThan(2);
    expect(Math.max(...links)).toBeLessThanOrEqual(3);
    const rules = new Set(result.findings.map((f) => f.rule));
    expect([...rules].every((r) => r.startsWith("redundancy.") || r.startsWith("lifecycle."))).toBe(true);
    expect(rules.size).toBeGreaterThan(0); // a realistic inventory has something to find
  });
});
