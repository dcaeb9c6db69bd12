// `amadegi up` / `destroy` of a production stack during the change freeze,
// as a user runs them: refused before the engine is touched.
import { existsSync } from "node:fs";
import { cp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../../src/toolchain/paths.ts";
import { type CliRun, runCli } from "../../helpers/cli.ts";
import { throwawayEnv } from "../../helpers/engine.ts";
import { ELECTION, edit, fixtureCopy, tempDir } from "../../readiness/helpers.ts";

const stack = `freeze-${process.pid}`;
const stackFile = join(repoRoot, "stacks", `Pulumi.${stack}.yaml`);
let sandbox: Awaited<ReturnType<typeof throwawayEnv>>;

beforeAll(async () => {
  const root = await fixtureCopy();
  // 1405-01-01 (2026-03-21) is past: the freeze is on today.
  await edit(root, ELECTION, "  timeZone: Asia/Tehran\n", "  timeZone: Asia/Tehran\n  changeFreeze: 1405-01-01\n");
  await writeFile(
    stackFile,
    `config:\n  amadegi:environment: production\n  amadegi:inventory: ${join(root, "inventory")}\n` +
      `  amadegi:probe:\n    allow: [10.0.0.0/8]\n  amadegi:ssh:\n    identityFile: /etc/amadegi/deploy_ed25519\n`,
  );
  sandbox = await throwawayEnv();
});
afterAll(async () => {
  await rm(stackFile, { force: true });
  await sandbox.cleanup();
});

function amadegi(...args: string[]): Promise<CliRun> {
  return runCli(args, sandbox.env);
}

describe("amadegi up and destroy during the change freeze", () => {
  it.each(["up", "destroy"])(
    "%s of a production stack without approvals exits 2, naming what to pass, and leaves the engine untouched",
    async (operation) => {
      const { code, stderr } = await amadegi(operation, "--stack", stack);
      expect(code).toBe(2);
      expect(stderr).toContain(`ProvisionError: ${stackFile}: stack ${stack} is production and the change freeze began`);
      expect(stderr).toContain(`\`${operation}\` needs the IT committee's signed approval (--approvals DIR --results FILE`);
      expect(existsSync(join(sandbox.dir, "pulumi"))).toBe(false);
    },
    60_000,
  );

  it("preview is never held back: it runs the program through the real engine", async () => {
    const { code, stdout, stderr } = await amadegi("preview", "--stack", stack);
    expect(stderr).not.toContain("change freeze");
    expect(code).toBe(0);
    // The stack, the PKI and every server of the fixture with its roles (a preview sends nothing).
    expect(stdout.trim()).toMatch(new RegExp(`^preview of stack ${stack}: create (\\d+)$`));
    expect(Number(/create (\d+)/.exec(stdout)?.[1])).toBeGreaterThan(10);
  }, 120_000);

  it("preview --markdown writes the change counts and the engine's output for a pull request", async () => {
    const file = join(sandbox.dir, "preview.md");
    const { code } = await amadegi("preview", "--stack", stack, "--markdown", file);
    expect(code).toBe(0);
    const markdown = await readFile(file, "utf8");
    expect(markdown).toMatch(
      new RegExp(`### Pulumi preview of stack \`${stack}\`\n\n\\| change \\| resources \\|\n\\| --- \\| ---: \\|\n\\| create \\| \\d+ \\|\n`),
    );
    expect(markdown).toMatch(/<details><summary>Engine output<\/summary>\n\n```text\n[\s\S]*pulumi:pulumi:Stack[\s\S]*\n```\n/);
  }, 120_000);

  it("preview --inventory DIR (relative to the caller's directory) previews that inventory, not the stack's", async () => {
    // What preview.yml does: a pull request's inventory/ checked out as data into pr-data/.
    const work = await tempDir("amadegi-preview-");
    await cp(join(repoRoot, "test", "fixtures", "inventory", "minimal", "inventory"), join(work, "pr-data", "inventory"), { recursive: true });
    const file = join(work, "preview.md");
    const { code, stdout } = await runCli(["preview", "--stack", stack, "--inventory", "pr-data/inventory", "--markdown", file], sandbox.env, work);
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(new RegExp(`^preview of stack ${stack}: create (\\d+)$`));
    const markdown = await readFile(file, "utf8");
    // The minimal inventory's servers (gw-a, gw-b, dns-a); the stack's own has ntp-a, auth-a… too.
    expect(markdown).toMatch(/amadegi:central:Server\s+dns-a/);
    expect(markdown).not.toMatch(/ntp-a|auth-a/);
  }, 120_000);

  it("preview --inventory refuses a link and a missing directory before the engine; up and destroy take no --inventory", async () => {
    const work = await tempDir("amadegi-preview-");
    await symlink(join(repoRoot, "inventory"), join(work, "linked"));
    const linked = await runCli(["preview", "--stack", stack, "--inventory", "linked"], sandbox.env, work);
    expect(linked.code).toBe(2);
    expect(linked.stderr).toContain("--inventory linked is a symbolic link");
    const missing = await runCli(["preview", "--stack", stack, "--inventory", "nowhere"], sandbox.env, work);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--inventory nowhere: no such directory");
    for (const operation of ["up", "destroy"]) {
      const { code, stderr } = await amadegi(operation, "--stack", stack, "--inventory", join(repoRoot, "inventory"));
      expect(code).toBe(2);
      expect(stderr).toMatch(/Unknown option '--inventory'/);
    }
  }, 60_000);
});
