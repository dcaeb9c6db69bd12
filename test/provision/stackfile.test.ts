import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStackFile } from "../../src/provision/stackfile.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-stackfile-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function stack(name: string, text: string): Promise<string> {
  await writeFile(join(dir, `Pulumi.${name}.yaml`), text);
  return join(dir, `Pulumi.${name}.yaml`);
}

describe("readStackFile", () => {
  it("reads the committed rehearsal stack", () => {
    expect(readStackFile("rehearsal", join(repoRoot, "stacks"))).toMatchObject({ stack: "rehearsal", environment: "rehearsal", inventory: "inventory" });
  });

  it("defaults the inventory and keeps the other keys alone", async () => {
    await stack("prod", "config:\n  amadegi:environment: production\n  aws:region: x\n");
    expect(readStackFile("prod", dir)).toMatchObject({ environment: "production", inventory: "inventory" });
  });

  it("refuses an unknown environment at its line and column, with the values it takes", async () => {
    const file = await stack("typo", "config:\n  amadegi:environment: prod\n");
    expect(() => readStackFile("typo", dir)).toThrow(new RegExp(`^stack typo: ${file.replaceAll(".", "\\.")}:2:24 error .*prod`));
  });

  it("refuses a setting that is no setting; leaves another key's findings to its readers; carries every setting, state paths resolved", async () => {
    await stack("typokey", "config:\n  amadegi:environment: staging\n  amadegi:invetory: inv\n");
    expect(() => readStackFile("typokey", dir)).toThrow(
      /Pulumi\.typokey\.yaml:3:3 error schema\.unknown-field -: unknown setting "amadegi:invetory" \(did you mean "amadegi:inventory"\?\)/,
    );
    await stack("badprobe", "config:\n  amadegi:environment: staging\n  amadegi:probe:\n    allow: [bad]\n  amadegi:pki:\n    caFile: pki/ca.crt\n");
    const file = readStackFile("badprobe", dir, { stateDir: "/s" });
    expect(file).toMatchObject({ environment: "staging", inventory: "inventory", settings: { "amadegi:pki": { caFile: "/s/pki/ca.crt" } } });
    expect(file.settings["amadegi:probe"]).toBeUndefined();
  });

  it("refuses a stack without an environment, and a missing file", async () => {
    await stack("bare", "config:\n  amadegi:inventory: inventory\n");
    expect(() => readStackFile("bare", dir)).toThrow(/stack bare has no amadegi:environment \(set it to one of rehearsal, staging, production\)/);
    expect(() => readStackFile("nope", dir)).toThrow(/stack nope has no settings file .*Pulumi\.nope\.yaml/);
  });
});
