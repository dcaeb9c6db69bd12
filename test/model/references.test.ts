// Stage 4, references and uniqueness across files: one table row per rule and
// kind of reference, each asserting the exact findings and their positions.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { copyFixture, type Edit, type Expected, findingsAfter, load, shape } from "./fixture.ts";

const D = "inventory/districts/alpha.yaml";
const S = "inventory/servers.yaml";
const O = "inventory/operators.yaml";
const W = "inventory/waivers.yaml";

interface Case {
  readonly name: string;
  readonly edits: readonly Edit[];
  readonly expect: readonly Expected[];
  readonly says?: string;
}

const cases: readonly Case[] = [
  {
    name: "a link names an operator that does not exist",
    edits: [
      {
        file: D,
        find: "        operator: mci\n        pop: TW-MCI-1\n        address",
        replace: "        operator: mcii\n        pop: TW-MCI-1\n        address",
      },
    ],
    expect: [{ rule: "reference.unknown", item: "A-1", file: D, line: 25, col: 19 }],
    says: 'link A-1-M names operator "mcii" — no such operator (did you mean "mci"?)',
  },
  {
    name: "a link depends on a point of presence that does not exist",
    edits: [{ file: D, find: "pop: EX-1\n", replace: "pop: EX-9\n" }],
    expect: [{ rule: "reference.unknown", item: "A-1", file: D, line: 19, col: 14 }],
    says: '(did you mean "EX-1"?)',
  },
  {
    name: "a fiber link on a mobile operator's tower: wrong operator, and no diversity left",
    edits: [{ file: D, find: "pop: EX-1\n", replace: "pop: TW-MCI-1\n" }],
    expect: [
      { rule: "redundancy.fixed-diversity", item: "A-1", file: D, line: 16, col: 7 },
      { rule: "reference.pop-operator", item: "A-1", file: D, line: 19, col: 14 },
    ],
    says: "A-1-F and A-1-M both depend on TW-MCI-1",
  },
  {
    name: "a gateway that does not exist",
    edits: [{ file: D, find: "{ primary: gw-b, secondary: gw-a }", replace: "{ primary: gw-c, secondary: gw-a }" }],
    expect: [{ rule: "reference.unknown", item: "A-2", file: D, line: 36, col: 26 }],
  },
  {
    name: "a gateway that is not a gateway",
    edits: [{ file: D, find: "{ primary: gw-b, secondary: gw-a }", replace: "{ primary: gw-b, secondary: dns-a }" }],
    expect: [{ rule: "reference.not-a-gateway", item: "A-2", file: D, line: 36, col: 43 }],
  },
  {
    name: "a server at a site that does not exist",
    edits: [{ file: S, find: "    site: DC-A\n    ssh: { hostKey", replace: "    site: DC-C\n    ssh: { hostKey" }],
    expect: [{ rule: "reference.unknown", item: "dns-a", file: S, line: 20, col: 11 }],
    says: '(did you mean "DC-A"?)',
  },
  {
    name: "a backhaul that does not exist",
    edits: [{ file: O, find: "backhaul: AG-MCI", replace: "backhaul: AG-MC" }],
    expect: [{ rule: "reference.unknown", item: "TW-MCI-1", file: O, line: 16, col: 48 }],
  },
  {
    name: "a backhaul loop is reported at each pop on it",
    edits: [{ file: O, find: "{ id: AG-MCI, kind: exchange }", replace: "{ id: AG-MCI, kind: exchange, backhaul: TW-MCI-1 }" }],
    expect: [
      { rule: "reference.pop-cycle", item: "AG-MCI", file: O, line: 15, col: 49 },
      { rule: "reference.pop-cycle", item: "TW-MCI-1", file: O, line: 16, col: 48 },
    ],
  },
  {
    name: "a link owned by nobody known",
    edits: [{ file: D, find: "committed: 1405-11-01, owner: tci", replace: "committed: 1405-11-01, owner: municipalty" }],
    expect: [{ rule: "reference.unknown", item: "A-2", file: D, line: 44, col: 68 }],
    says: '(did you mean "municipality"?)',
  },
  {
    name: "a station id used twice",
    edits: [{ file: D, find: "  - id: A-2\n", replace: "  - id: A-1\n" }],
    expect: [{ rule: "uniqueness.id", item: "A-1", file: D, line: 30, col: 9 }],
    says: "already used at",
  },
  {
    name: "a link id used twice, in another case",
    edits: [{ file: D, find: "id: A-2-F\n", replace: "id: a-1-f\n" }],
    expect: [{ rule: "uniqueness.id", item: "A-2", file: D, line: 39, col: 13 }],
  },
  {
    name: "two links on one address",
    edits: [{ file: D, find: "        circuit: C-2\n", replace: "        circuit: C-2\n        address: 10.1.0.1\n" }],
    expect: [{ rule: "uniqueness.address", item: "A-2", file: D, line: 44, col: 18 }],
    says: "alpha.yaml:21:18",
  },
  {
    name: "a link on a server's address",
    edits: [{ file: S, find: "address: 10.0.0.3", replace: "address: 10.1.0.1" }],
    expect: [{ rule: "uniqueness.address", item: "A-1", file: D, line: 21, col: 18 }],
    says: "servers.yaml:19:14",
  },
  {
    name: "a circuit used twice by one operator",
    edits: [{ file: D, find: "circuit: C-2", replace: "circuit: c-1" }],
    expect: [{ rule: "uniqueness.circuit", item: "A-2", file: D, line: 43, col: 18 }],
  },
  {
    name: "a device serial used twice",
    edits: [{ file: D, find: "serial: S-2", replace: "serial: s-1" }],
    expect: [{ rule: "uniqueness.device-serial", item: "A-2", file: D, line: 37, col: 23 }],
  },
  {
    name: "a device key fingerprint used twice",
    edits: [{ file: D, find: "SHA256:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", replace: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }],
    expect: [{ rule: "uniqueness.device-key", item: "A-2", file: D, line: 37, col: 41 }],
  },
  {
    name: "two station names equal once Arabic ي and ك are folded",
    edits: [{ file: D, find: "name: دبستان دوم", replace: "name: دبستان  يكم" }],
    expect: [{ rule: "uniqueness.station-name", item: "A-2", file: D, line: 31, col: 11 }],
  },
  {
    name: "two operator names equal once diacritics and ZWNJ are dropped",
    edits: [{ file: O, find: "name: ایرانسل", replace: "name: همراهِ\u200c اول" }],
    expect: [{ rule: "uniqueness.name", item: "irancell", file: O, line: 18, col: 11 }],
  },
  {
    name: "a waiver approved by a stranger, about nothing",
    edits: [
      {
        file: W,
        find: "waivers: []",
        replace: "waivers:\n  - { id: W-1, rule: redundancy.fixed-diversity, item: A-9, reason: test, approvedBy: m-three, until: 1405-12-06 }",
      },
    ],
    expect: [
      { rule: "reference.unknown", item: "W-1", file: W, line: 2, col: 56 },
      { rule: "waiver.unused", item: "W-1", file: W, line: 2, col: 56 },
      { rule: "reference.unknown", item: "W-1", file: W, line: 2, col: 87 },
    ],
  },
];

describe("references and uniqueness", () => {
  it.each(cases)("$name", async ({ edits, expect: expected, says }) => {
    const { found, result } = await findingsAfter(edits);
    expect(found).toEqual(expected);
    if (says !== undefined) expect(result.findings.map((f) => f.message).join("\n")).toContain(says);
  });

  it("a second server with the same host key (a cloned machine)", async () => {
    const root = await copyFixture();
    const path = join(root, S);
    const lines = (await readFile(path, "utf8")).split("\n");
    lines[14] = lines[8] ?? ""; // gw-b's ssh line becomes gw-a's
    await writeFile(path, lines.join("\n"));
    const found = (await load(root)).findings.map((f) => shape(root, f));
    expect(found).toEqual([{ rule: "uniqueness.ssh-key", item: "gw-b", file: S, line: 15, col: 46 }]);
  });

  it("a gateway without a declared capacity", async () => {
    const root = await copyFixture();
    const path = join(root, S);
    const lines = (await readFile(path, "utf8")).split("\n");
    lines.splice(15, 1); // gw-b's capacity line
    await writeFile(path, lines.join("\n"));
    const found = (await load(root)).findings.map((f) => shape(root, f));
    expect(found).toEqual([{ rule: "schema.missing-field", item: "gw-b", file: S, line: 11, col: 5 }]);
  });

  it("county files of one district must agree on its name and province, and not repeat a county", async () => {
    const root = await copyFixture();
    const base = await readFile(join(root, D), "utf8");
    const header = base.slice(0, base.indexOf("stations:"));
    const station = [
      "stations:",
      "  - id: B-1",
      "    name: شعبه بتا",
      "    kind: mobile",
      "    setting: rural",
      "    location: { lat: 35.1, lon: 51.1 }",
      "    siteOwner: governorate",
      "    gateways: { primary: gw-a, secondary: gw-b }",
      '    device: { serial: S-9, fingerprint: "SHA256:DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD" }',
      "    links:",
      "      - { id: B-1-M, medium: mobile, operator: mci, pop: TW-MCI-1, survey: { signalDbm: -80 }, lifecycle: { state: live, owner: mci } }",
      "      - { id: B-1-M2, medium: mobile, operator: irancell, pop: TW-MTN-1, survey: { signalDbm: -80 }, lifecycle: { state: live, owner: irancell } }",
      "",
    ].join("\n");
    const other = header
      .replace("name: الف\n", "name: بتا\n")
      .replace("province: tehran", "province: alborz")
      .replace("county: { id: alpha, name: الف }", "county: { id: beta, name: بتا }");
    await writeFile(join(root, "inventory/districts/beta.yaml"), other + station);
    await writeFile(join(root, "inventory/districts/gamma.yaml"), header + station.replaceAll("B-1", "C-1").replace("S-9", "S-10").replaceAll("DDDD", "EEEE"));
    const found = (await load(root)).findings.map((f) => shape(root, f));
    expect(found).toEqual([
      { rule: "reference.district-mismatch", item: "alpha", file: "inventory/districts/beta.yaml", line: 3, col: 9 },
      { rule: "reference.district-mismatch", item: "alpha", file: "inventory/districts/beta.yaml", line: 4, col: 13 },
      { rule: "uniqueness.id", item: "alpha", file: "inventory/districts/gamma.yaml", line: 5, col: 11 },
    ]);
  });
});
