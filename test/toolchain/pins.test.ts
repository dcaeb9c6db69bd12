import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { COMMAND_PROVIDER_VERSION, NODE_VERSION, PULUMI_VERSION, goTools } from "../../src/toolchain/pins.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";

const read = (path: string) => readFile(join(repoRoot, path), "utf8");

describe("pins", () => {
  it("package.json pins the Pulumi SDK and @pulumi/command exactly, to the versions setup builds", async () => {
    const pkg = JSON.parse(await read("package.json")) as { dependencies: Record<string, string> };
    expect(pkg.dependencies["@pulumi/pulumi"]).toBe(PULUMI_VERSION);
    expect(pkg.dependencies["@pulumi/command"]).toBe(COMMAND_PROVIDER_VERSION);
  });

  it("the lockfile resolves them to the same versions", async () => {
    const lock = JSON.parse(await read("package-lock.json")) as { packages: Record<string, { version?: string }> };
    expect(lock.packages["node_modules/@pulumi/pulumi"]?.version).toBe(PULUMI_VERSION);
    expect(lock.packages["node_modules/@pulumi/command"]?.version).toBe(COMMAND_PROVIDER_VERSION);
  });

  it("the Go wrapper module of each tool requires its modules at the pinned version", async () => {
    for (const tool of goTools) {
      const gomod = await read(join(tool.wrapper, "go.mod"));
      expect(gomod).toContain(`${tool.module} ${tool.version}`);
      expect(tool.ldflags).toContain(`=${tool.version}`);
      // go.sum pins every module's checksum, so a build never resolves anew.
      expect(await read(join(tool.wrapper, "go.sum"))).toContain(`${tool.module} ${tool.version} h1:`);
    }
  });

  it("the Pulumi CLI's wrapper requires the SDK module at the CLI's own version", async () => {
    expect(await read("scripts/go/pulumi/go.mod")).toContain(`github.com/pulumi/pulumi/sdk/v3 v${PULUMI_VERSION}`);
  });

  it("the bootstrap installs the Node release pins.ts names", async () => {
    expect(await read("scripts/setup")).toMatch(new RegExp(`^node_version=${NODE_VERSION.replaceAll(".", "\\.")}\\b`, "m"));
  });
});
