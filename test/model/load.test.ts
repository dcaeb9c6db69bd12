// The pipeline as a whole: its order, all findings at once, and the sample
// inventory of the repository.
import { rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hasErrors, loadInventory } from "../../src/model/index.ts";
import { copyFixture, edit, findingsAfter, load, shape, TODAY } from "./fixture.ts";

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
    expect(
      result.inventory?.districtsById
        .get("tehran")
        ?.counties.map((c) => c.id)
        .sort(),
    ).toEqual(["eslamshahr", "pardis", "rey", "shemiranat", "tehran"]);
    expect(result.inventory?.stations.filter((s) => s.district === "tehran").length).toBeGreaterThanOrEqual(1000);
  });

  describe("one file absent hides nothing else (it stops only what depends on it)", () => {
    const FIBRE = { find: "medium: fiber\n        operator: tci\n        pop: EX-1", replace: "medium: fibre\n        operator: tci\n        pop: EX-1" };
    const SCHEMA = { rule: "schema.bad-value", item: "A-1-F", file: D, line: 17, col: 17 };
    // A-2-F, planned, committed for 1405-08-01: overdue on TODAY (1405-09-01); a stage-5 finding.
    const LATE = { find: "committed: 1405-11-01", replace: "committed: 1405-08-01" };
    const OVERDUE = { rule: "lifecycle.overdue", item: "A-2-F", file: D, line: 44, col: 49 };
    const WAIVER =
      "waivers:\n  - { id: W-1, rule: lifecycle.overdue, item: A-2-F, reason: the exchange is rebuilt, approvedBy: APPROVER, until: 1405-10-01 }\n";

    async function inventoryWith(edits: { find: string; replace: string }[], change: (root: string) => Promise<void>) {
      const root = await copyFixture();
      for (const e of edits) await edit(root, D, e.find, e.replace);
      await change(root);
      const result = await load(root);
      return { result, found: result.findings.map((f) => shape(root, f)) };
    }

    it("without the committee file, a district's schema error is still reported", async () => {
      const { result, found } = await inventoryWith([FIBRE], (root) => rm(join(root, "governance/committee.yaml")));
      expect(found).toEqual([{ rule: "input.missing-file", item: "-", file: "governance/committee.yaml", line: 1, col: 1 }, SCHEMA]);
      expect(result.findings[0]?.message).toMatch(/^no committee file .*: waivers' approvers cannot be checked; the rest of the inventory is$/);
    });

    it("without the committee file, references and policy still run, and only the approvers go unchecked", async () => {
      const approver = (id: string) => async (root: string) => writeFile(join(root, "inventory/waivers.yaml"), WAIVER.replace("APPROVER", id));
      // Control: with the committee, an approver who is no member is a finding.
      const control = await inventoryWith([LATE], approver("m-nobody"));
      expect(control.found).toEqual([
        { ...OVERDUE, waived: "W-1" },
        { rule: "reference.unknown", item: "W-1", file: "inventory/waivers.yaml", line: 2, col: 99 },
      ]);
      const { result, found } = await inventoryWith([LATE], async (root) => {
        await approver("m-nobody")(root);
        await rm(join(root, "governance"), { recursive: true });
      });
      expect(found).toEqual([
        { rule: "input.missing-file", item: "-", file: "governance/committee.yaml", line: 1, col: 1 },
        { ...OVERDUE, waived: "W-1" },
      ]);
      expect(hasErrors(result.findings)).toBe(true);
      expect(result.inventory).toBeUndefined();
    });

    it("without operators.yaml: one finding names it, no dangling reference per link, the rest checked", async () => {
      const { result, found } = await inventoryWith([LATE], (root) => rm(join(root, "inventory/operators.yaml")));
      expect(found).toEqual([OVERDUE, { rule: "input.missing-file", item: "-", file: "inventory/operators.yaml", line: 1, col: 1 }]);
      expect(result.findings[1]?.message).toContain("links' operators, points of presence and owners, and redundancy, are not checked");
    });

    it("servers.yaml refused (a link to /dev/zero): no dangling gateway, the rest checked", async () => {
      const { found } = await inventoryWith([LATE], async (root) => {
        await rm(join(root, "inventory/servers.yaml"));
        await symlink("/dev/zero", join(root, "inventory/servers.yaml"));
      });
      expect(found).toEqual([OVERDUE, { rule: "input.symlink", item: "-", file: "inventory/servers.yaml", line: 1, col: 1 }]);
    });

    it("without election.yaml, every other file's syntax and schema findings; nothing across files (its day and policy)", async () => {
      const { found } = await inventoryWith([FIBRE, LATE], (root) => rm(join(root, "inventory/election.yaml")));
      expect(found).toEqual([SCHEMA, { rule: "input.missing-file", item: "-", file: "inventory/election.yaml", line: 1, col: 1 }]);
    });
  });
});
