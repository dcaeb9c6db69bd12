// The campaign's counters (Tally) and its per-check spans (Spans): what a campaign reports beside its results.
import { describe, expect, it } from "vitest";
import { formatSpan, Spans, Tally, troubled } from "../../src/probe/summary.ts";

describe("Spans", () => {
  it("keeps each check's first and last result time and its count, the last to end first", () => {
    const spans = new Spans();
    // Out of order, as lanes side by side settle them.
    for (const [check, ms] of [
      ["link-icmp", 10_700],
      ["link-tcp", 45_100],
      ["link-icmp", 44_249],
      ["server-ssh", 84_000],
      ["link-tcp", 80_640],
      ["link-icmp", 12_000],
      ["server-ssh", 45_900],
    ] as const)
      spans.add(check, ms);
    expect(spans.list()).toEqual([
      { check: "server-ssh", firstS: 45.9, lastS: 84, results: 2 },
      { check: "link-tcp", firstS: 45.1, lastS: 80.6, results: 2 },
      { check: "link-icmp", firstS: 10.7, lastS: 44.2, results: 3 },
    ]);
  });

  it("a check of one result is a span of one instant; none is an empty list", () => {
    const spans = new Spans();
    expect(spans.list()).toEqual([]);
    spans.add("server-icmp", 3);
    expect(spans.list()).toEqual([{ check: "server-icmp", firstS: 0, lastS: 0, results: 1 }]);
  });

  it("is shown as the check, its first and last second, and its count", () => {
    expect(formatSpan({ check: "link-tcp", firstS: 40.7, lastS: 73.2, results: 133_019 })).toBe("link-tcp 40.7–73.2 s (133019)");
    expect(formatSpan({ check: "server-icmp", firstS: 0, lastS: 0, results: 312 })).toBe("server-icmp 0.0–0.0 s (312)");
  });
});

describe("Tally", () => {
  it("counts per status overall and per group; troubled lists the groups not all up, worst first", () => {
    const tally = new Tally();
    const r = (status: "up" | "down" | "unknown", district: string) => ({ status, district, operator: "tci", medium: "fiber", check: "link-tcp" });
    for (const x of [r("up", "d1"), r("down", "d2"), r("down", "d2"), r("unknown", "d3"), r("up", "d3")]) tally.add(x);
    expect(tally.done).toBe(5);
    const summary = tally.summary();
    expect(summary.total).toMatchObject({ up: 2, down: 2, unknown: 1 });
    expect(troubled(summary.byDistrict).map(([name]) => name)).toEqual(["d2", "d3"]);
  });
});
