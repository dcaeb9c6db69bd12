// Integration: plain `pulumi` commands typed from the repository root, as a
// Pulumi user would, against a throwaway backend.
import { execFile } from "node:child_process";
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineEnv, ensureBackend } from "../../src/toolchain/env.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";
import { languageHostInstalled, throwawayEnv } from "../helpers/engine.ts";

const exec = promisify(execFile);
const hostInstalled = await languageHostInstalled();

describe("plain pulumi from the repository root", () => {
  const stackName = `plain-${process.pid}`;
  const stackFile = join(repoRoot, "stacks", `Pulumi.${stackName}.yaml`);
  let env: NodeJS.ProcessEnv;
  let cleanup: () => Promise<void>;
  const pulumi = (...args: string[]) => exec("pulumi", [...args, "--non-interactive"], { cwd: repoRoot, env, encoding: "utf8" });

  beforeAll(async () => {
    const sandbox = await throwawayEnv();
    cleanup = sandbox.cleanup;
    env = { ...sandbox.env, ...engineEnv(sandbox.env) };
    await ensureBackend(sandbox.env);
    await pulumi("stack", "init", stackName);
  });
  afterAll(async () => {
    await rm(stackFile, { force: true });
    await cleanup();
  });

  it("reads and writes stack settings in stacks/, as Pulumi.yaml's stackConfigDir says", async () => {
    await pulumi("config", "set", "amadegi:environment", "rehearsal", "--stack", stackName);
    const { stdout } = await pulumi("config", "get", "amadegi:environment", "--stack", stackName);
    expect(stdout.trim()).toBe("rehearsal");
    expect(await readFile(stackFile, "utf8")).toMatch(/amadegi:environment: rehearsal/);
    expect((await readdir(repoRoot)).filter((f) => /^Pulumi\..+\.ya?ml$/.test(f))).toEqual([]);
  }, 60_000);

  it.skipIf(!hostInstalled)(
    hostInstalled
      ? "runs `pulumi preview` of the project's program"
      : "`pulumi preview` of the project's program (skipped: pulumi-language-nodejs is not installed — " +
          "the Go module proxy here refuses github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3)",
    async () => {
      await pulumi("config", "set", "amadegi:environment", "rehearsal", "--stack", stackName);
      const { stdout } = await pulumi("preview", "--stack", stackName, "--color", "never");
      expect(stdout).toMatch(/\+ 1 to create/);
    },
    180_000,
  );
});
