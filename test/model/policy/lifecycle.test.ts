// Lifecycle: a link past its committed date and not live is overdue, with its
// owner; "today" is injected, so the same file is on time one day and late the next.
import { describe, expect, it } from "vitest";
import { findingsAfter } from "../fixture.ts";

const D = "inventory/districts/alpha.yaml";

describe("lifecycle", () => {
  it.each([
    { today: "2027-01-21", found: [] }, // the committed day itself: not late yet
    { today: "2027-01-22", found: [{ rule: "lifecycle.overdue", item: "A-2-F", file: D, line: 44, col: 49 }] },
  ])("A-2-F committed for 1405-11-01 (2027-01-21), checked on $today", async ({ today, found: expected }) => {
    const { found, result } = await findingsAfter([], today);
    expect(found).toEqual(expected);
    if (expected.length > 0) {
      expect(result.findings[0]?.message).toBe(
        "link A-2-F (fiber, tci) at station A-2 was committed for 1405-11-01 (2027-01-21) and is still planned, 1 day late; owner: tci",
      );
    }
  });

  it("a live link is never overdue", async () => {
    const { found } = await findingsAfter(
      [{ file: D, find: "state: planned, committed: 1405-11-01", replace: "state: live, committed: 1405-11-01" }],
      "2027-03-01",
    );
    expect(found).toEqual([]);
  });

  it("a link committed after election day", async () => {
    const { found, result } = await findingsAfter([{ file: D, find: "committed: 1405-11-01", replace: "committed: 1405-12-20" }]);
    expect(found).toEqual([{ rule: "lifecycle.after-election", item: "A-2-F", file: D, line: 44, col: 49 }]);
    expect(result.findings[0]?.severity).toBe("warning");
  });

  it("defaults today to the current date in the election's time zone", async () => {
    const { result } = await findingsAfter([]);
    expect(result.inventory?.today).toBe("2026-11-22"); // injected by the helper
    const { loadInventory } = await import("../../../src/model/index.ts");
    const { todayIn } = await import("../../../src/model/dates.ts");
    const { copyFixture } = await import("../fixture.ts");
    const root = await copyFixture();
    const fresh = await loadInventory(`${root}/inventory`);
    expect(fresh.inventory?.today).toBe(todayIn("Asia/Tehran"));
  });
});
