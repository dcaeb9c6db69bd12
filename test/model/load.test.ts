// The pipeline as a whole: its order, all findings at once, and the sample
// inventory of the repository.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hasErrors, loadInventory } from "../../src/model/index.ts";
import { findingsAfter, TODAY } from "./fixture.ts";

const D = "inventory/districts/alpha.yaml";
const REPO = join(import.meta.dirname, "..", "..");

describe("loadInventory", () => {
  it("loads the minimal fixture with no finding and typed, indexed data", async () => {
    const { found, result } = await findingsAfter([]);
    expect(found).toEqual([]);
    const inv = result.inventory;
    expect(inv?.stations.map((s) => `${s.district}/${s.county}/${s.id}`)).toEqual(["alpha/alpha/A-1", "alpha/alpha/A-2", "alpha/alpha/A-3"]);
    expect(inv?.linksById.get("A-3-M2")?.station.id).toBe("A-3");
    expect(inv?.popsById.get("TW-MCI-1")).toMatchObject({ operator: "mci", backhaul: "AG-MCI" });
    expect(inv?.districts[0]?.counties[0]?.stations).toHaveLength(3);
    expect(result.sources.locate(inv?.stations[1]?.origin ?? { file: "", node: 0 }, "name")).toMatchObject({ line: 31, col: 11 });
  });

  it("reports every schema finding of every file at once, and stops before references", async () => {
    const { found, result } = await findingsAfter([
      { file: D, find: "medium: fiber\n        operator: tci\n        pop: EX-1", replace: "medium: fibre\n        operator: tci\n        pop: EX-1" },
      { file: "inventory/servers.yaml", find: "address: 10.0.0.3", replace: "address: 10.0.0.300" },
      // This reference error would show only once the schema errors are fixed:
      { file: D, find: "pop: EX-2\n", replace: "pop: EX-9\n" },
    ]);
    expect(found.map((f) => `${f.file}:${f.line}:${f.col} ${f.rule}`)).toEqual([
      "inventory/districts/alpha.yaml:17:17 schema.bad-value",
      "inventory/servers.yaml:19:14 schema.bad-address",
    ]);
    expect(result.inventory).toBeUndefined();
  });

  it("passes the repository's sample inventory, its deliberate deficiencies warnings or waived", async () => {
    const result = await loadInventory(join(REPO, "inventory"), { today: TODAY });
    expect(hasErrors(result.findings)).toBe(false);
    const byRule = (rule: string) => result.findings.filter((f) => f.rule === rule).map((f) => (f.waived === undefined ? f.item : `${f.item} (${f.waived})`));
    expect(byRule("redundancy.fixed-diversity")).toEqual(["PKD-0031 (W-001)", "PKD-0047 (W-002)"]);
    expect(byRule("redundancy.blind-spot")).toEqual(["PKD-0031-M"]);
    expect(byRule("lifecycle.overdue")).toEqual(["PKD-0088-F"]);
    expect(byRule("waiver.expired")).toEqual(["W-004"]);
    expect(byRule("redundancy.mobile-diversity")).toEqual(["PKD-0262"]);
    expect(byRule("capacity.same-site")).toEqual(["PRD-0012 (W-003)"]);
    expect(byRule("uniqueness.station-name")).toEqual(["THR-0078"]);
    expect(result.inventory?.stations.filter((s) => s.district === "pakdasht").length).toBeGreaterThanOrEqual(200);
    expect(result.inventory?.districtsById.get("tehran")?.counties.map((c) => c.id).sort()).toEqual(["eslamshahr", "pardis", "rey", "shemiranat", "tehran"]);
    expect(result.inventory?.stations.filter((s) => s.district === "tehran").length).toBeGreaterThanOrEqual(1000);
  });
});
