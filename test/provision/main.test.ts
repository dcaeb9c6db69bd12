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
      ? "runs the project's program under `pulumi preview`: a stack that declares no allowed ranges is refused before anything is sent, naming the setting"
      : "`pulumi preview` of the project's program (skipped: no pulumi-language-nodejs, neither Pulumi's nor amadegi's stand-in: run scripts/setup)",
    async () => {
      await pulumi("config", "set", "amadegi:environment", "rehearsal", "--stack", stackName);
      const failed = await pulumi("preview", "--stack", stackName, "--color", "never").then(
        () => undefined,
        (error: unknown) => error as { code: number; stdout: string },
      );
      expect(failed?.code).toBe(1);
      // The program itself ran (main.ts → program.ts) and its guard refused: not a host that failed to start it.
      expect(failed?.stdout).toContain(`Running program '${join(repoRoot, "src", "provision", "main.ts")}' failed`);
      expect(failed?.stdout).toContain(
        `stack ${stackName}: amadegi:probe.allow is empty; declare the ranges this stack may reach in stacks/Pulumi.${stackName}.yaml`,
      );
      expect(failed?.stdout).toMatch(/\+ 1 to create/);
    },
    180_000,
  );
});
