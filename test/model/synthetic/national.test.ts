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
