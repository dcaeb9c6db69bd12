// The one schema of a stack's settings: every amadegi: key read once, with
// positions, each key's findings named by the key; paths to state resolved
// against the state directory; the same check over Pulumi's config object.
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { statePaths } from "../../src/lib/state.ts";
import { formatFinding } from "../../src/model/finding.ts";
import { checkStackSettings, mappingKeys, readStackSettingsFile, requireSettings, stackSettingsSchema } from "../../src/model/stackfile.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-stackfile-model-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function read(text: string, stateDir = "/s") {
  const file = join(dir, "Pulumi.t.yaml");
  await writeFile(file, text);
  const result = readStackSettingsFile(file, { stateDir });
  return { ...result, lines: result.findings.map((f) => formatFinding(f).replace(`${dir}/`, "")) };
}

const FULL = [
  "config:",
  "  amadegi:environment: staging",
  "  amadegi:inventory: inv",
  "  aws:region: x",
  "  amadegi:probe:",
  "    allow: [10.1.0.0/16]",
  "    netns: ns",
  "    pins: r/pins.yaml",
  "    ca: r/ca.crt",
  "  amadegi:pki:",
  "    caFile: /abs/ca.crt",
  "  amadegi:devices:",
  "    requests: r/devices",
  "    issued: r/devices/issued",
  "  amadegi:ssh:",
  "    identityFile: keys/id",
  "",
].join("\n");

describe("a stack's settings, one schema", () => {
  it("reads every key once, leaves other namespaces alone, resolves paths to state against the state directory", async () => {
    const r = await read(FULL);
    expect(r.findings).toEqual([]);
    expect(r.settings).toEqual({
      "amadegi:environment": "staging",
      "amadegi:inventory": "inv",
      "amadegi:probe": { allow: ["10.1.0.0/16"], maxRate: 20000, concurrency: 1024, netns: "ns", pins: "/s/r/pins.yaml", ca: "/s/r/ca.crt" },
      "amadegi:pki": { caFile: "/abs/ca.crt" },
      "amadegi:devices": { requests: "/s/r/devices", issued: "/s/r/devices/issued" },
      // Not state: read as written (the program resolves it against the repository root).
      "amadegi:ssh": { identityFile: "keys/id" },
    });
    expect([...r.written.keys()]).toEqual(["amadegi:environment", "amadegi:inventory", "amadegi:probe", "amadegi:pki", "amadegi:devices", "amadegi:ssh"]);
  });

  it("the schema names every key the programs read", () => {
    expect(stackSettingsSchema("/s").fields.map(([name]) => name)).toEqual([
      "amadegi:environment",
      "amadegi:inventory",
      "amadegi:probe",
      "amadegi:pki",
      "amadegi:devices",
      "amadegi:alerting",
      "amadegi:ssh",
      "amadegi:engine",
    ]);
    expect([...mappingKeys()].sort()).toEqual(["amadegi:alerting", "amadegi:devices", "amadegi:engine", "amadegi:pki", "amadegi:probe", "amadegi:ssh"]);
  });

  it("the tracked rehearsal stack names exactly the rehearsal's files of the state directory, wherever it is", () => {
    for (const state of ["/s", "/var/lib/amadegi"]) {
      const r = readStackSettingsFile(join(repoRoot, "stacks", "Pulumi.rehearsal.yaml"), { stateDir: state });
      const rehearsal = statePaths({ AMADEGI_STATE_DIR: state }).rehearsal;
      expect(r.findings).toEqual([]);
      expect(r.settings?.["amadegi:probe"]).toMatchObject({ pins: rehearsal.pins, ca: rehearsal.ca });
      expect(r.settings?.["amadegi:pki"]).toEqual({ caFile: rehearsal.ca });
      expect(r.settings?.["amadegi:devices"]).toEqual({ requests: rehearsal.devices, issued: rehearsal.issued, keys: rehearsal.keys });
    }
    expect(readFileSync(join(repoRoot, "stacks", "Pulumi.rehearsal.yaml"), "utf8")).not.toContain(".amadegi/");
  });

  const bad: [string, string, RegExp][] = [
    [
      "a typo in a key: did you mean",
      "config:\n  amadegi:probes:\n    allow: [10.0.0.0/8]\n",
      /^Pulumi\.t\.yaml:2:3 error schema\.unknown-field -: unknown setting "amadegi:probes" \(did you mean "amadegi:probe"\?\)/,
    ],
    [
      "a key twice",
      "config:\n  amadegi:environment: staging\n  amadegi:environment: production\n",
      /^Pulumi\.t\.yaml:3:3 error yaml\.duplicate-key -: setting "amadegi:environment" appears twice/,
    ],
    [
      "devices without issued",
      "config:\n  amadegi:devices:\n    requests: r/devices\n",
      /^Pulumi\.t\.yaml:3:5 error schema\.missing-field amadegi:devices: missing field "issued"/,
    ],
    [
      "a caFile with no value",
      "config:\n  amadegi:pki:\n    caFile:\n",
      /^Pulumi\.t\.yaml:3:\d+ error schema\.missing-field amadegi:pki: no value where a path is expected/,
    ],
    [
      "the old .amadegi/ spelling of a state path",
      "config:\n  amadegi:pki:\n    caFile: .amadegi/rehearsal/ca.crt\n",
      /amadegi:pki: "\.amadegi\/rehearsal\/ca\.crt" starts with \.amadegi\/, but this path is relative to the state directory \(write rehearsal\/ca\.crt/,
    ],
    ["an empty allow list", "config:\n  amadegi:probe:\n    allow: []\n", /amadegi:probe: a list of 0; at least 1 expected/],
    [
      "a webhook that is no http(s) URL",
      "config:\n  amadegi:alerting:\n    webhook: ftp://sms.example.org/\n",
      /^Pulumi\.t\.yaml:3:14 error schema\.bad-value amadegi:alerting: "ftp:\/\/sms\.example\.org\/" is not an http\(s\) URL \(write e\.g\. https:/,
    ],
    [
      "a webhook holding credentials (never repeated)",
      "config:\n  amadegi:alerting:\n    webhook: https://u:s3cr3t@sms.example.org/\n",
      /^Pulumi\.t\.yaml:3:14 error schema\.bad-value amadegi:alerting: the URL holds credentials \(remove them; put the token in a file[^\n]*\)$/,
    ],
    [
      "checkpoints that are neither end nor every-step",
      "config:\n  amadegi:engine:\n    checkpoints: never\n",
      /^Pulumi\.t\.yaml:3:18 error schema\.bad-value amadegi:engine: "never" is not one of end, every-step \(write one of: end, every-step\)$/,
    ],
    ["config that is not a mapping", "config: [a]\n", /^Pulumi\.t\.yaml:1:9 error schema\.wrong-type -: config: is not a mapping/],
    ["a file that is not YAML", "config: {\n", /^Pulumi\.t\.yaml:\d+:\d+ error yaml\.syntax/],
  ];
  it.each(bad)("%s: a finding at its place, named by its key", async (_, text, expected) => {
    const r = await read(text);
    expect(r.lines.join("\n")).toMatch(expected);
  });

  it("a bad key is left out; the others stay (each reader requires what it uses)", async () => {
    const r = await read("config:\n  amadegi:environment: prod\n  amadegi:probe:\n    allow: [10.0.0.0/8]\n");
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(
      new RegExp(
        /^Pulumi\.t\.yaml:2:24 error schema\.bad-value amadegi:environment: "prod" is not one of rehearsal, staging, production /.source +
          /\(write one of: rehearsal, staging, production\)$/.source,
      ),
    );
    expect(r.settings).toEqual({ "amadegi:probe": { allow: ["10.0.0.0/8"], maxRate: 20000, concurrency: 1024 } });
  });

  it("requirements: a missing key where config: is, a missing field where its key is, that key left out", async () => {
    const r = await read("config:\n  amadegi:inventory: inv\n  amadegi:probe:\n    netns: ns\n");
    const required = requireSettings(r, [
      { key: "amadegi:environment", message: "no environment", hint: "set it" },
      { key: "amadegi:probe", field: "allow", message: 'missing field "allow"', hint: "add allow" },
      { key: "amadegi:ssh", message: "no ssh", hint: "add it" },
    ]);
    expect(required.findings.map((f) => `${f.line}:${f.col} ${f.rule} ${f.item}: ${f.message}`)).toEqual([
      "2:3 schema.missing-field -: no environment",
      "2:3 schema.missing-field -: no ssh",
      '4:5 schema.missing-field amadegi:probe: missing field "allow"',
    ]);
    expect(required.settings).toEqual({ "amadegi:inventory": "inv" });
    // Met requirements change nothing.
    expect(requireSettings(r, [{ key: "amadegi:inventory", message: "", hint: "" }])).toBe(r);
  });

  it("over Pulumi's config object: the same schema, the same resolution, findings named by key", () => {
    const ok = checkStackSettings(
      "the config",
      {
        "amadegi:environment": "staging",
        "amadegi:probe": { allow: ["10.0.0.0/8"], pins: "r/pins.yaml" },
        "amadegi:devices": { requests: "d", issued: "d/i" },
      },
      { stateDir: "/s" },
    );
    expect(ok.findings).toEqual([]);
    expect(ok.settings?.["amadegi:probe"]?.pins).toBe("/s/r/pins.yaml");
    expect(ok.settings?.["amadegi:devices"]).toEqual({ requests: "/s/d", issued: "/s/d/i" });
    const bad = checkStackSettings("the config", { "amadegi:probe": { allow: ["10.0.0.1/8"], maxrate: 5 }, "amadegi:devices": "not json", "amadegi:sssh": {} });
    expect(bad.findings.map((f) => `${f.item}: ${f.message}`)).toEqual([
      'amadegi:probe: "10.0.0.1/8" is not a CIDR: host bits are set',
      'amadegi:probe: unknown field "maxrate" (did you mean "maxRate"?)',
      'amadegi:devices: expected a mapping with requests, issued, keys…, found "not json"',
      '-: unknown setting "amadegi:sssh" (did you mean "amadegi:ssh"?)',
    ]);
  });
});
