// Capacity: stations per gateway, failover load, secondary on another site.
import { describe, expect, it } from "vitest";
import { type Edit, type Expected, findingsAfter } from "../fixture.ts";

const D = "inventory/districts/alpha.yaml";
const S = "inventory/servers.yaml";

const cases: readonly { name: string; edits: readonly Edit[]; expect: readonly Expected[]; says?: string }[] = [
  {
    name: "more primaries than capacity",
    edits: [{ file: S, find: "    capacity: { stations: 10 }\n  - id: gw-b", replace: "    capacity: { stations: 1 }\n  - id: gw-b" }],
    expect: [{ rule: "capacity.gateway-overload", item: "gw-a", file: S, line: 10, col: 27 }],
    says: "gateway gw-a is the primary of 2 stations; its capacity is 1",
  },
  {
    name: "within capacity, but not when the other gateway fails",
    edits: [{ file: S, find: "    capacity: { stations: 10 }\n  - id: dns-a", replace: "    capacity: { stations: 2 }\n  - id: dns-a" }],
    expect: [{ rule: "capacity.failover-overload", item: "gw-b", file: S, line: 16, col: 27 }],
    says: "gateway gw-b would serve 3 stations if gw-a failed; its capacity is 2",
  },
  {
    name: "a secondary gateway on the primary's site",
    edits: [{ file: S, find: "    site: DC-B\n", replace: "    site: DC-A\n" }],
    expect: [
      { rule: "capacity.same-site", item: "A-1", file: D, line: 13, col: 43 },
      { rule: "capacity.same-site", item: "A-2", file: D, line: 36, col: 43 },
      { rule: "capacity.same-site", item: "A-3", file: D, line: 57, col: 43 },
    ],
  },
];

describe("capacity", () => {
  it.each(cases)("$name", async ({ edits, expect: expected, says }) => {
    const { found, result } = await findingsAfter(edits);
    expect(found).toEqual(expected);
    if (says !== undefined) expect(result.findings.map((f) => f.message).join("\n")).toContain(says);
  });
});
