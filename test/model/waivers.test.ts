// Waivers: a live waiver of a waivable rule accepts the matching finding;
// expired, unwaivable and unused waivers are findings themselves.
import { describe, expect, it } from "vitest";
import { hasErrors } from "../../src/model/index.ts";
import { findingsAfter } from "./fixture.ts";

const D = "inventory/districts/alpha.yaml";
const W = "inventory/waivers.yaml";
const blindSpot = { file: D, find: "signalDbm: -80", replace: "signalDbm: -117" };
const waiver = (rule: string, item: string, until: string) => ({
  file: W,
  find: "waivers: []",
  replace: `waivers:\n  - id: W-1\n    rule: ${rule}\n    item: ${item}\n    reason: accepted for the test\n    approvedBy: m-one\n    until: ${until}\n`,
});

describe("waivers", () => {
  it("a live waiver accepts the finding: shown, waived, not failing", async () => {
    const { found, result } = await findingsAfter([blindSpot, waiver("redundancy.fixed-diversity", "A-1", "1405-12-06")]);
    expect(found).toContainEqual({ rule: "redundancy.fixed-diversity", item: "A-1", file: D, line: 16, col: 7, waived: "W-1" });
    expect(hasErrors(result.findings)).toBe(false);
  });

  it("counts until its last day inclusive", async () => {
    const { result } = await findingsAfter([blindSpot, waiver("redundancy.fixed-diversity", "A-1", "2026-11-22")]);
    expect(hasErrors(result.findings)).toBe(false);
  });

  it("an expired waiver no longer counts, and says so", async () => {
    const { found, result } = await findingsAfter([blindSpot, waiver("redundancy.fixed-diversity", "A-1", "2026-11-21")]);
    expect(found).toContainEqual({ rule: "redundancy.fixed-diversity", item: "A-1", file: D, line: 16, col: 7 });
    expect(found).toContainEqual({ rule: "waiver.expired", item: "W-1", file: W, line: 7, col: 12 });
    expect(hasErrors(result.findings)).toBe(true);
  });

  it("a waiver for a rule that cannot be waived is an error", async () => {
    const { found } = await findingsAfter([waiver("security.host-key-missing", "dns-a", "1405-12-06")]);
    expect(found).toEqual([{ rule: "waiver.not-waivable", item: "W-1", file: W, line: 3, col: 11 }]);
  });

  it("a waiver that accepts nothing is reported as unused", async () => {
    const { found } = await findingsAfter([waiver("lifecycle.overdue", "A-2-F", "1405-12-06")]);
    expect(found).toEqual([{ rule: "waiver.unused", item: "W-1", file: W, line: 4, col: 11 }]);
  });

  it("a drift waiver is never unused in validate's eyes (amadegi drift judges it), but still expires", async () => {
    const live = await findingsAfter([waiver("drift.changed-on-server", "dns-a", "1405-12-06")]);
    expect(live.found).toEqual([]);
    const expired = await findingsAfter([waiver("drift.changed-on-server", "dns-a", "2026-11-21")]);
    expect(expired.found).toEqual([{ rule: "waiver.expired", item: "W-1", file: W, line: 7, col: 12 }]);
  });

  it("matches the item the finding names: a waiver for the station does not cover its link", async () => {
    const { found } = await findingsAfter([blindSpot, waiver("redundancy.blind-spot", "A-1", "1405-12-06")]);
    expect(found.find((f) => f.rule === "redundancy.blind-spot")?.waived).toBeUndefined();
    expect(found).toContainEqual({ rule: "waiver.unused", item: "W-1", file: W, line: 4, col: 11 });
  });
});
