// Redundancy: fixed stations need two diverse counting links, mobile stations
// one (and should have two operators); blind spots do not count.
import { describe, expect, it } from "vitest";
import { type Edit, type Expected, findingsAfter } from "../fixture.ts";

const D = "inventory/districts/alpha.yaml";
const O = "inventory/operators.yaml";

const cases: readonly { name: string; edits: readonly Edit[]; expect: readonly Expected[]; says?: string }[] = [
  {
    name: "a blind spot is reported and does not count, leaving the fixed station without diversity",
    edits: [{ file: D, find: "signalDbm: -80", replace: "signalDbm: -117" }],
    expect: [
      { rule: "redundancy.fixed-diversity", item: "A-1", file: D, line: 16, col: 7 },
      { rule: "redundancy.blind-spot", item: "A-1-M", file: D, line: 28, col: 30 },
    ],
    says: "fixed station A-1 has no two diverse links: 1 counting link",
  },
  {
    name: "exactly at the threshold is not a blind spot",
    edits: [{ file: D, find: "signalDbm: -80", replace: "signalDbm: -110" }],
    expect: [],
  },
  {
    name: "the threshold comes from the election's policy",
    edits: [{ file: "inventory/election.yaml", find: "blindSpotDbm: -110", replace: "blindSpotDbm: -82" }],
    expect: [
      { rule: "redundancy.blind-spot", item: "A-2-M", file: D, line: 49, col: 30 },
      { rule: "redundancy.fixed-diversity", item: "A-2", file: D, line: 39, col: 7 },
      { rule: "redundancy.blind-spot", item: "A-3-M", file: D, line: 64, col: 30 },
      { rule: "redundancy.blind-spot", item: "A-3-M2", file: D, line: 70, col: 30 },
      { rule: "redundancy.mobile-none", item: "A-3", file: D, line: 60, col: 7 },
    ].sort((a, b) => a.line - b.line),
  },
  {
    name: "two links of one operator are not diverse",
    edits: [
      {
        file: D,
        find: "        operator: irancell\n        pop: TW-MTN-1\n        survey: { signalDbm: -90 }",
        replace: "        operator: tci\n        pop: EX-1\n        survey: { signalDbm: -90 }",
      },
    ],
    expect: [{ rule: "redundancy.fixed-diversity", item: "A-2", file: D, line: 39, col: 7 }],
    says: "A-2-F and A-2-M are both tci",
  },
  {
    name: "two operators meeting at one exchange through a backhaul are not diverse",
    edits: [{ file: O, find: "{ id: TW-MTN-1, kind: tower }", replace: "{ id: TW-MTN-1, kind: tower, backhaul: EX-2 }" }],
    expect: [{ rule: "redundancy.fixed-diversity", item: "A-2", file: D, line: 39, col: 7 }],
    says: "A-2-F and A-2-M both depend on EX-2",
  },
  {
    name: "a retired link does not count",
    edits: [{ file: D, find: "{ state: planned, committed: 1405-11-01, owner: tci }", replace: "{ state: retired, owner: tci }" }],
    expect: [{ rule: "redundancy.fixed-diversity", item: "A-2", file: D, line: 39, col: 7 }],
  },
  {
    name: "a mobile station on one operator only",
    edits: [
      {
        file: D,
        find: "        operator: irancell\n        pop: TW-MTN-1\n        survey: { signalDbm: -95 }",
        replace: "        operator: mci\n        pop: TW-MCI-1\n        survey: { signalDbm: -95 }",
      },
    ],
    expect: [{ rule: "redundancy.mobile-diversity", item: "A-3", file: D, line: 60, col: 7 }],
  },
  {
    name: "a mobile link without a survey counts, unproven",
    edits: [{ file: D, find: "        survey: { signalDbm: -95 }\n", replace: "" }],
    expect: [{ rule: "redundancy.unsurveyed", item: "A-3-M2", file: D, line: 66, col: 9 }],
  },
];

describe("redundancy", () => {
  it.each(cases)("$name", async ({ edits, expect: expected, says }) => {
    const { found, result } = await findingsAfter(edits);
    expect(found).toEqual(expected);
    expect(result.inventory).toBeDefined();
    if (says !== undefined) expect(result.findings.map((f) => f.message).join("\n")).toContain(says);
  });
});
