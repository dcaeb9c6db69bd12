import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatFinding, type Inventory, loadInventory } from "../../../src/model/index.ts";
import { loadCatalog } from "../../../src/probe/catalog/load.ts";
import { repoRoot } from "../../../src/toolchain/paths.ts";

let inventory: Inventory;
const dirs: string[] = [];

beforeAll(async () => {
  const loaded = await loadInventory(join(repoRoot, "test/probe/fixtures/inventory"));
  if (loaded.inventory === undefined) throw new Error("fixture inventory did not load");
  inventory = loaded.inventory;
});
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function catalogOf(text: string, withInventory = true) {
  const dir = await mkdtemp(join(tmpdir(), "amadegi-catalog-"));
  dirs.push(dir);
  await writeFile(join(dir, "a.yaml"), text);
  const result = loadCatalog(dir, withInventory ? { inventory } : {});
  return { ...result, lines: result.findings.map((f) => formatFinding(f).replace(`${dir}/`, "")) };
}

describe("the repository's catalog", () => {
  it("loads with no finding against the fixture inventory", () => {
    const result = loadCatalog(join(repoRoot, "checks"), { inventory });
    expect(result.findings.map(formatFinding)).toEqual([]);
    expect(result.catalog?.checks.map((c) => c.id)).toContain("link-icmp");
    expect(result.catalog?.operatorRates.get("mci")).toBe(2000);
  });
});

const head = "checks:\n  - id: c1\n";
const bad: [string, string, RegExp][] = [
  [
    "unknown field with a suggestion",
    `${head}    probe: tcp\n    port: 22\n    select: { objects: links }\n    conditons: []\n`,
    /^a\.yaml:6:5 error schema\.unknown-field c1: unknown field "conditons" \(did you mean "conditions"\?\)/,
  ],
  [
    "unknown probe kind",
    `${head}    probe: htp\n    select: { objects: servers }\n`,
    /^a\.yaml:3:12 error schema\.bad-value c1: "htp" is not one of .* \(did you mean "http"\?\)/,
  ],
  [
    "unknown placeholder at its column",
    `${head}    probe: tcp\n    port: 22\n    select: { objects: links }\n    conditions:\n      - "[RTTT] < 150ms"\n`,
    /^a\.yaml:7:11 error schema\.bad-value c1: condition "\[RTTT\] < 150ms": unknown placeholder \[RTTT\] \(did you mean \[RTT\]\?\)/,
  ],
  [
    "placeholder the kind cannot produce",
    `${head}    probe: tcp\n    port: 22\n    select: { objects: links }\n    conditions: ["[STATUS] == 200"]\n`,
    /^a\.yaml:6:20 error .*\[STATUS\] is not measured by a tcp probe/,
  ],
  [
    "bad unit in a plain scalar",
    `${head}    probe: icmp\n    select: { objects: links }\n    conditions:\n      - '[RTT] < 150mss'\n`,
    /^a\.yaml:6:21 error .*unknown unit "mss" \(did you mean "ms"\?\)/,
  ],
  ["unknown operator", `${head}    probe: icmp\n    select: { objects: links }\n    conditions:\n      - [LOSS] => 5%\n`, /yaml\.syntax|=>/],
  [
    "select field for another object",
    `${head}    probe: icmp\n    select: { objects: links, roles: [gateway] }\n`,
    /^a\.yaml:4:31 error schema\.unknown-field c1: select field "roles" does not apply to links/,
  ],
  [
    "probe kind on the wrong objects",
    `${head}    probe: ssh\n    select: { objects: links }\n`,
    /^a\.yaml:4:24 error schema\.bad-value c1: a ssh probe cannot be aimed at links/,
  ],
  ["tcp without a port", `${head}    probe: tcp\n    select: { objects: servers }\n`, /^a\.yaml:2:5 error schema\.missing-field c1: a tcp check needs a port/],
  [
    "unknown parameter",
    `${head}    probe: http\n    select: { objects: servers }\n    params: { schme: https }\n`,
    /^a\.yaml:5:15 error schema\.unknown-field c1: unknown http parameter "schme" \(did you mean "scheme"\?\)/,
  ],
  [
    "bad parameter value",
    `${head}    probe: http\n    select: { objects: servers }\n    params: { scheme: htps }\n`,
    /schema\.bad-value c1: http parameter scheme: "htps" is not one of http, https \(did you mean "https"\?\)/,
  ],
  [
    "missing required parameter",
    `${head}    probe: dns\n    select: { objects: servers }\n`,
    /schema\.missing-field c1: a dns check needs the parameter "name"/,
  ],
  [
    "certificate condition on plain http",
    `${head}    probe: http\n    select: { objects: servers }\n    conditions: ["[CERTIFICATE_EXPIRATION] > election+14d"]\n`,
    /needs HTTPS/,
  ],
  [
    "unknown dependency",
    `${head}    probe: icmp\n    select: { objects: servers }\n    dependsOn: [c2]\n`,
    /reference\.unknown c1: dependsOn names check "c2": no such check/,
  ],
  [
    "a dependency cycle",
    `${head}    probe: icmp\n    select: { objects: servers }\n    dependsOn: [c2]\n` +
      `  - id: c2\n    probe: icmp\n    select: { objects: servers }\n    dependsOn: [c1]\n`,
    /dependsOn forms a cycle: c1 → c2 → c1/,
  ],
  [
    "duplicate id",
    `${head}    probe: icmp\n    select: { objects: servers }\n  - id: C1\n    probe: icmp\n    select: { objects: servers }\n`,
    /^a\.yaml:5:9 error uniqueness\.id C1: check id "C1" is used twice \(first at .*a\.yaml:2:9/,
  ],
  [
    "near-miss operator name in select",
    `${head}    probe: icmp\n    select: { objects: links, operators: [mcii] }\n`,
    /reference\.unknown c1: select names operator "mcii": no such operator in the inventory \(did you mean "mci"\?\)/,
  ],
  [
    "near-miss operator in limits",
    "limits:\n  operators: { tcci: 100 }\nchecks: []\n",
    /^a\.yaml:2:16 error reference\.unknown tcci: limits name operator "tcci"/,
  ],
  ["bad timeout", `${head}    probe: icmp\n    select: { objects: servers }\n    timeout: 2 seconds\n`, /"2 seconds" is not a duration/],
  ["a secret in a comment", `# password: hunter2\n${head}    probe: icmp\n    select: { objects: servers }\n`, /security\.secret/],
];

describe("catalog findings, with file:line:col", () => {
  it.each(bad)("%s", async (_, text, expected) => {
    const result = await catalogOf(text);
    expect(result.catalog).toBeUndefined();
    expect(result.lines.join("\n")).toMatch(expected);
  });

  it("a name absent from the inventory and not close to one is not an error (one catalog, many inventories)", async () => {
    const result = await catalogOf(
      `limits:\n  operators: { rightel: 100 }\n${head}    probe: icmp\n    select: { objects: links, districts: [isfahan-001] }\n`,
    );
    expect(result.lines).toEqual([]);
    expect(result.catalog?.operatorRates.get("rightel")).toBe(100);
  });

  it("reports every finding of a file at once", async () => {
    const result = await catalogOf(
      `${head}    probe: tcp\n    port: 22\n    select: { objects: links }\n    conditions: ["[RTTT] < 1ms", "[RTT] =< 1ms", "[RTT] < 1mss"]\n`,
    );
    expect(result.findings).toHaveLength(3);
  });

  it("reads only regular files: a link to /dev/zero and a directory named x.yaml are refused, naming each, never read", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-catalog-"));
    dirs.push(dir);
    await writeFile(join(dir, "a.yaml"), `${head}    probe: icmp\n    select: { objects: servers }\n`);
    await symlink("/dev/zero", join(dir, "x.yaml"));
    await mkdir(join(dir, "y.yaml"));
    const result = loadCatalog(dir, { inventory });
    expect(result.catalog).toBeUndefined();
    expect(result.findings.map((f) => `${f.file.replace(`${dir}/`, "")} ${f.rule}: ${f.message.replace(`${dir}/`, "")}`)).toEqual([
      "x.yaml input.symlink: x.yaml is a symbolic link; links are not followed and it is not read (its checks are not loaded)",
      "y.yaml input.not-a-file: y.yaml is a directory, not a regular file; it is not read (its checks are not loaded)",
    ]);
  });

  it("checks values, not spelling: a right-to-left override spelt as an escape is refused at the scalar", async () => {
    const result = await catalogOf(`${head}    name: "icmp \\u202Eup"\n    probe: icmp\n    select: { objects: servers }\n`);
    expect(result.lines).toEqual([
      expect.stringMatching(/^a\.yaml:3:11 error security\.bidi-control -: bidirectional control character U\+202E, written as an escape/),
    ]);
  });

  it("quotes at most a short excerpt of a long offending value", async () => {
    const long = "x".repeat(5000);
    const result = await catalogOf(`limits:\n  operators: { ${long}: -1 }\nchecks: []\n`);
    expect(result.lines).toHaveLength(1);
    expect(result.lines[0]?.length).toBeLessThan(300);
  });

  it("an empty catalog directory cannot run", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-catalog-"));
    dirs.push(dir);
    expect(() => loadCatalog(dir)).toThrow(/no checks in/);
  });
});
