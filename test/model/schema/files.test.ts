// Stage 3, the per-file schema: each kind of bad value gets its own finding,
// at the position of the key or value, naming the item.
import { describe, expect, it } from "vitest";
import { type Edit, type Expected, findingsAfter } from "../fixture.ts";

const D = "inventory/districts/alpha.yaml";
const S = "inventory/servers.yaml";

interface Case {
  readonly name: string;
  readonly edits: readonly Edit[];
  readonly expect: readonly Expected[];
  /** Parts of the first finding's message and hint that must be there. */
  readonly says?: readonly string[];
  readonly never?: string;
}

const cases: readonly Case[] = [
  {
    name: "a typo in a field name: unknown field with a suggestion, and the field it meant is missing",
    edits: [{ file: D, find: "    kind: fixed\n    setting: urban", replace: "    knid: fixed\n    setting: urban" }],
    expect: [
      { rule: "schema.missing-field", item: "A-1", file: D, line: 7, col: 5 },
      { rule: "schema.unknown-field", item: "A-1", file: D, line: 9, col: 5 },
    ],
    says: ['missing field "kind"'],
  },
  {
    name: "a list where a mapping is expected",
    edits: [{ file: D, find: "location: { lat: 35.5, lon: 51.5 }", replace: "location: [35.5, 51.5]" }],
    expect: [{ rule: "schema.wrong-type", item: "A-1", file: D, line: 11, col: 15 }],
    says: ["expected a mapping", "found a list"],
  },
  {
    name: "quoted text where a number is expected",
    edits: [{ file: D, find: "lat: 35.5,", replace: 'lat: "35.5",' }],
    expect: [{ rule: "schema.wrong-type", item: "A-1", file: D, line: 11, col: 22 }],
  },
  {
    name: "a number out of range (lat and lon swapped)",
    edits: [{ file: D, find: "{ lat: 35.5, lon: 51.5 }", replace: "{ lat: 51.5, lon: 35.5 }" }],
    expect: [
      { rule: "schema.bad-value", item: "A-1", file: D, line: 11, col: 22 },
      { rule: "schema.bad-value", item: "A-1", file: D, line: 11, col: 33 },
    ],
    says: ["51.5 is outside 24…40"],
  },
  {
    name: "a value outside its set, with a suggestion",
    edits: [
      {
        file: D,
        find: "        medium: fiber\n        operator: tci\n        pop: EX-1",
        replace: "        medium: fibre\n        operator: tci\n        pop: EX-1",
      },
    ],
    expect: [{ rule: "schema.bad-value", item: "A-1-F", file: D, line: 17, col: 17 }],
    says: ['"fibre" is not one of fiber, copper, mobile, satellite, radio (did you mean "fiber"?)'],
  },
  {
    name: "an id in Persian digits",
    edits: [{ file: D, find: "  - id: A-2\n", replace: "  - id: A-۲\n" }],
    expect: [{ rule: "schema.bad-id", item: "A-۲", file: D, line: 30, col: 9 }],
    says: ['write "A-2"'],
  },
  {
    name: "an ISO date that is not a day",
    edits: [{ file: D, find: "committed: 1405-11-01", replace: "committed: 2027-02-30" }],
    expect: [{ rule: "schema.bad-date", item: "A-2-F", file: D, line: 44, col: 49 }],
    says: ["not a day of the Gregorian calendar"],
  },
  {
    name: "a Jalali date that is not a day",
    edits: [{ file: D, find: "committed: 1405-11-01", replace: "committed: 1405-13-01" }],
    expect: [{ rule: "schema.bad-date", item: "A-2-F", file: D, line: 44, col: 49 }],
    says: ["not a day of the Jalali calendar"],
  },
  {
    name: "an address with an octet over 255",
    edits: [{ file: D, find: "address: 10.1.0.1", replace: "address: 10.1.0.256" }],
    expect: [{ rule: "schema.bad-address", item: "A-1-F", file: D, line: 21, col: 18 }],
  },
  {
    name: "an address with a leading zero (octal to some tools)",
    edits: [{ file: D, find: "address: 10.1.0.1", replace: "address: 10.01.0.1" }],
    expect: [{ rule: "schema.bad-address", item: "A-1-F", file: D, line: 21, col: 18 }],
  },
  {
    name: "a CIDR with host bits set",
    edits: [{ file: "inventory/operators.yaml", find: "100.64.0.0/25", replace: "100.64.0.1/25" }],
    expect: [{ rule: "schema.bad-address", item: "mci", file: "inventory/operators.yaml", line: 13, col: 14 }],
    says: ["did you mean 100.64.0.0/25?"],
  },
  {
    name: "a missing field",
    edits: [{ file: D, find: "    siteOwner: mosque\n", replace: "" }],
    expect: [{ rule: "schema.missing-field", item: "A-2", file: D, line: 30, col: 5 }],
    says: ['missing field "siteOwner"', "education | municipality"],
  },
  {
    name: "a field with no value points at its key",
    edits: [{ file: D, find: "    name: دبستان دوم\n", replace: "    name:\n" }],
    expect: [{ rule: "schema.missing-field", item: "A-2", file: D, line: 31, col: 5 }],
  },
  {
    name: "a boolean where text is expected",
    edits: [{ file: D, find: "    name: دبستان دوم\n", replace: "    name: true\n" }],
    expect: [{ rule: "schema.wrong-type", item: "A-2", file: D, line: 31, col: 11 }],
    says: ["quote it if you mean the text"],
  },
  {
    name: "an unknown time zone",
    edits: [{ file: "inventory/election.yaml", find: "Asia/Tehran", replace: "Asia/Tehrn" }],
    expect: [{ rule: "schema.bad-time-zone", item: "test-1405", file: "inventory/election.yaml", line: 5, col: 13 }],
  },
  {
    name: "a host key whose body does not match its type",
    edits: [{ file: S, find: "    ssh: { hostKey: ssh-ed25519 ", replace: "    ssh: { hostKey: ssh-rsa " }],
    expect: [{ rule: "schema.bad-key", item: "dns-a", file: S, line: 21, col: 21 }],
  },
  {
    name: "a device fingerprint that is not SHA256",
    edits: [{ file: D, find: '"SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"', replace: '"MD5:12:34"' }],
    expect: [{ rule: "schema.bad-key", item: "A-1", file: D, line: 14, col: 41 }],
  },
  {
    name: "a key twice in one mapping",
    edits: [{ file: D, find: "    setting: urban\n", replace: "    kind: fixed\n    setting: urban\n" }],
    expect: [{ rule: "yaml.duplicate-key", item: "A-1", file: D, line: 10, col: 5 }],
  },
  {
    name: "a field named like a secret is a secret, and its value is never shown",
    edits: [{ file: S, find: "  - id: dns-a\n", replace: "  - id: dns-a\n    password: hunter2\n" }],
    expect: [{ rule: "security.secret", item: "dns-a", file: S, line: 18, col: 5 }],
    never: "hunter2",
  },
  {
    name: "a waiver for a rule that does not exist, with a suggestion",
    edits: [
      {
        file: "inventory/waivers.yaml",
        find: "waivers: []",
        replace: "waivers:\n  - { id: W-1, rule: redundancy.fixed-diversty, item: A-1, reason: test, approvedBy: m-one, until: 1405-12-06 }",
      },
    ],
    expect: [{ rule: "schema.bad-value", item: "W-1", file: "inventory/waivers.yaml", line: 2, col: 22 }],
    says: ['did you mean "redundancy.fixed-diversity"?'],
  },
];

describe("per-file schema", () => {
  it.each(cases)("$name", async ({ edits, expect: expected, says, never }) => {
    const { found, result } = await findingsAfter(edits);
    expect(found).toEqual(expected);
    expect(result.inventory).toBeUndefined(); // stage 3 errors stop the pipeline
    const first = result.findings[0];
    for (const text of says ?? []) expect(`${first?.message} ${first?.hint}`).toContain(text);
    if (never !== undefined) expect(JSON.stringify(result.findings)).not.toContain(never);
  });

  it("accepts Jalali dates in Persian digits and keeps them as ISO", async () => {
    const { found, result } = await findingsAfter([{ file: D, find: "committed: 1405-11-01", replace: "committed: ۱۴۰۵/۱۱/۰۱" }]);
    expect(found).toEqual([]);
    expect(result.inventory?.linksById.get("A-2-F")?.link.lifecycle.committed).toBe("2027-01-21");
  });

  it("keeps text as written where YAML would read a number (a serial with a leading zero)", async () => {
    const { found, result } = await findingsAfter([{ file: D, find: "serial: S-1,", replace: "serial: 0123," }]);
    expect(found).toEqual([]);
    expect(result.inventory?.stationsById.get("A-1")?.device.serial).toBe("0123");
  });

  it("fills defaults: ssh user and port, policy, spares and ups", async () => {
    const { result } = await findingsAfter([]);
    const inv = result.inventory;
    expect(inv?.serversById.get("dns-a")?.ssh).toEqual({ user: "amadegi", port: 22, hostKey: expect.stringMatching(/^ssh-ed25519 AAAA/) });
    expect(inv?.stationsById.get("A-1")?.device).toMatchObject({ spares: 0, ups: false });
    expect(inv?.election.policy.blindSpotDbm).toBe(-110);
  });
});
