// Security rules on the model: every server's SSH host key pinned.
import { describe, expect, it } from "vitest";
import { findingsAfter } from "../fixture.ts";

const S = "inventory/servers.yaml";
const E = "inventory/election.yaml";
const D = "inventory/districts/alpha.yaml";

describe("security", () => {
  it("a server without a pinned host key is an error that no waiver can accept", async () => {
    const { found, result } = await findingsAfter([{ file: S, find: / {4}ssh: \{ hostKey: [^\n]*\n$/, replace: "    ssh: { user: amadegi }\n" }]);
    expect(found).toEqual([{ rule: "security.host-key-missing", item: "dns-a", file: S, line: 21, col: 10 }]);
    expect(result.findings[0]).toMatchObject({ severity: "error", waivable: false });
    expect(result.findings[0]?.hint).toContain("ssh-keyscan -t ed25519 10.0.0.3");
  });

  // Issue 13: the ranges DNS and NTP answer are the committee's to decide (election.yaml, theirs
  // by CODEOWNERS); operators.yaml and districts/ are edited by operators' staff and technicians.
  it("an operator's egress outside the committee's service ranges is an error at the range, no waiver can accept it", async () => {
    const { found, result } = await findingsAfter([
      { file: "inventory/operators.yaml", find: "egress: [100.64.0.0/25]", replace: "egress: [100.64.0.0/25, 8.8.8.0/24]" },
    ]);
    expect(found).toEqual([{ rule: "security.range-outside-policy", item: "mci", file: "inventory/operators.yaml", line: 13, col: 29 }]);
    expect(result.findings[0]).toMatchObject({ severity: "error", waivable: false });
    expect(result.findings[0]?.message).toBe(
      "operator mci: egress 8.8.8.0/24 is outside the committee's policy.serviceRanges (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10); " +
        "the central services would answer it",
    );
  });

  it("a link address whose /24 is outside the service ranges is an error at the address", async () => {
    const { found } = await findingsAfter([{ file: D, find: "address: 10.1.0.1", replace: "address: 8.8.8.8" }]);
    expect(found).toEqual([{ rule: "security.range-outside-policy", item: expect.any(String), file: D, line: 21, col: 18 }]);
  });

  it("follows the committee: a range it widens to is accepted, a range it narrows away is not", async () => {
    const ranges = (list: string) => ({ file: E, find: "  blindSpotDbm: -110", replace: `  blindSpotDbm: -110\n  serviceRanges: [${list}]` });
    const widened = await findingsAfter([
      ranges("10.0.0.0/8, 192.0.2.0/24"),
      { file: "inventory/operators.yaml", find: "egress: [100.64.0.0/25]", replace: "egress: [192.0.2.0/24]" },
    ]);
    expect(widened.found).toEqual([]);
    const narrowed = await findingsAfter([ranges("10.0.0.0/8")]);
    expect(narrowed.found.map((f) => [f.rule, f.item])).toEqual([["security.range-outside-policy", "mci"]]);
  });

  // Issue 14, item 6: a range that becomes an allow rule is never as wide as the internet.
  it.each([
    [
      "an operator's egress of the whole internet",
      "inventory/operators.yaml",
      "egress: [100.64.0.0/25]",
      "egress: [0.0.0.0/0]",
      13,
      "0.0.0.0/0 is wider than /16: an operator's carrier-NAT pool toward the election network",
    ],
    ["an operator's egress of a /8", "inventory/operators.yaml", "egress: [100.64.0.0/25]", "egress: [100.0.0.0/8]", 13, "100.0.0.0/8 is wider than /16"],
    [
      "the committee's service range of the whole internet",
      E,
      "  blindSpotDbm: -110",
      "  blindSpotDbm: -110\n  serviceRanges: [10.0.0.0/8, 0.0.0.0/0]",
      8,
      "0.0.0.0/0 is wider than /8: a range the central services answer is part of the election's own address space, never the internet",
    ],
  ])("refuses %s where it is written", async (_name, file, find, replace, line, message) => {
    const { found, result } = await findingsAfter([{ file, find, replace }]);
    expect(found.map((f) => [f.rule, f.file, f.line])).toEqual([["schema.bad-value", file, line]]);
    expect(result.findings[0]?.message).toContain(message);
  });
});
