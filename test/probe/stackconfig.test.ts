import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatFinding } from "../../src/model/index.ts";
import { readStackSettings } from "../../src/probe/stackconfig.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function stack(text: string, stateDir?: string) {
  const dir = await mkdtemp(join(tmpdir(), "amadegi-stack-"));
  dirs.push(dir);
  await writeFile(join(dir, "Pulumi.s.yaml"), text);
  const result = readStackSettings("s", dir, stateDir === undefined ? {} : { stateDir });
  return { ...result, lines: result.findings.map((f) => formatFinding(f).replace(`${dir}/`, "")) };
}

describe("amadegi:probe in stack settings", () => {
  it("the rehearsal stack declares its ranges and keeps its other keys", () => {
    const result = readStackSettings("rehearsal", join(repoRoot, "stacks"), { stateDir: "/s" });
    expect(result.findings).toEqual([]);
    expect(result.probe).toMatchObject({ allow: ["10.0.0.0/8"], maxRate: 20000, concurrency: 1024, pins: "/s/rehearsal/pins.yaml", ca: "/s/rehearsal/ca.crt" });
  });

  it("pins and ca: a relative path is read from the state directory (whatever the stacks directory), an absolute one as written", async () => {
    const relative = await stack("config:\n  amadegi:probe:\n    allow: [10.0.0.0/8]\n    pins: state/pins.yaml\n    ca: state/ca.crt\n", "/tmp/x/state-dir");
    expect(relative.probe).toMatchObject({ pins: "/tmp/x/state-dir/state/pins.yaml", ca: "/tmp/x/state-dir/state/ca.crt" });
    const absolute = await stack(
      "config:\n  amadegi:probe:\n    allow: [10.0.0.0/8]\n    pins: /var/lib/pins.yaml\n    ca: /var/lib/ca.crt\n",
      "/tmp/x/state-dir",
    );
    expect(absolute.probe).toMatchObject({ pins: "/var/lib/pins.yaml", ca: "/var/lib/ca.crt" });
  });

  it("pins: the old spelling relative to the repository root (.amadegi/…) is refused, saying what to write", async () => {
    const old = await stack("config:\n  amadegi:probe:\n    allow: [10.0.0.0/8]\n    pins: .amadegi/rehearsal/pins.yaml\n");
    expect(old.probe).toBeUndefined();
    expect(old.lines.join("\n")).toMatch(
      new RegExp(
        /^Pulumi\.s\.yaml:4:11 error schema\.bad-value amadegi:probe: "\.amadegi\/rehearsal\/pins\.yaml" starts with \.amadegi\/, /.source +
          /but this path is relative to the state directory \(write rehearsal\/pins\.yaml /.source,
      ),
    );
  });

  it("defaults", async () => {
    const result = await stack("config:\n  amadegi:environment: x\n  amadegi:probe:\n    allow: [127.77.0.0/16]\n");
    expect(result.probe).toEqual({ allow: ["127.77.0.0/16"], maxRate: 20000, concurrency: 1024 });
  });

  const bad: [string, string, RegExp][] = [
    ["no amadegi:probe", "config:\n  amadegi:environment: x\n", /^Pulumi\.s\.yaml:2:3 error schema\.missing-field -: .*has no amadegi:probe/],
    [
      "host bits set",
      "config:\n  amadegi:probe:\n    allow: [10.0.0.1/8]\n",
      /^Pulumi\.s\.yaml:3:13 error schema\.bad-address amadegi:probe: "10\.0\.0\.1\/8" is not a CIDR: host bits are set \(did you mean 10\.0\.0\.0\/8\?\)/,
    ],
    [
      "a typo in a field",
      "config:\n  amadegi:probe:\n    allow: [10.0.0.0/8]\n    maxrate: 5\n",
      /^Pulumi\.s\.yaml:4:5 error schema\.unknown-field amadegi:probe: unknown field "maxrate" \(did you mean "maxRate"\?\)/,
    ],
    ["an empty allow list", "config:\n  amadegi:probe:\n    allow: []\n", /at least 1 expected/],
    ["no allow", "config:\n  amadegi:probe:\n    maxRate: 5\n", /missing field "allow"/],
    [
      "pins that is not a YAML file",
      "config:\n  amadegi:probe:\n    allow: [10.0.0.0/8]\n    pins: .amadegi/rehearsal/\n",
      /^Pulumi\.s\.yaml:4:11 error schema\.bad-value amadegi:probe: "\.amadegi\/rehearsal\/" is not a path to a \.yaml file/,
    ],
    [
      "pins with no value",
      "config:\n  amadegi:probe:\n    allow: [10.0.0.0/8]\n    pins:\n",
      /^Pulumi\.s\.yaml:4:\d+ error schema\.missing-field amadegi:probe: no value where a path to a \.yaml file is expected/,
    ],
  ];
  it.each(bad)("%s", async (_, text, expected) => {
    const result = await stack(text);
    expect(result.probe).toBeUndefined();
    expect(result.lines.join("\n")).toMatch(expected);
  });

  it("a stack that does not exist cannot run", () => {
    expect(() => readStackSettings("nope", join(repoRoot, "stacks"))).toThrow(/no stack settings .*Pulumi\.nope\.yaml/);
    expect(() => readStackSettings("../etc", join(repoRoot, "stacks"))).toThrow(/not a stack name/);
  });
});
