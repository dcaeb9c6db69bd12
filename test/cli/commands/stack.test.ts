// `amadegi up` / `destroy` of a production stack during the change freeze,
// as a user runs them: refused before the engine is touched. `preview` as a
// Pulumi user runs it: the engine's output as it comes, --json's steps,
// --expect-no-changes, Ctrl-C; `up` on a terminal shows the preview and asks.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Io } from "../../../src/cli/command.ts";
import { main } from "../../../src/cli/main.ts";
import { repoRoot } from "../../../src/toolchain/paths.ts";
import { type CliRun, runCli } from "../../helpers/cli.ts";
import { throwawayEnv } from "../../helpers/engine.ts";
import { addPkiServer, ELECTION, edit, fixtureCopy, tempDir } from "../../readiness/helpers.ts";

const stack = `freeze-${process.pid}`;
const stackFile = join(repoRoot, "stacks", `Pulumi.${stack}.yaml`);
/** A staging stack of the same inventory: no freeze, so `up` gets as far as asking. */
const staging = `ask-${process.pid}`;
const stagingFile = join(repoRoot, "stacks", `Pulumi.${staging}.yaml`);
let sandbox: Awaited<ReturnType<typeof throwawayEnv>>;

beforeAll(async () => {
  sandbox = await throwawayEnv();
  // The login key the program reads where the stack runs (never sent: nothing here connects).
  const key = join(sandbox.dir, "deploy_ed25519");
  await writeFile(key, "-----BEGIN OPENSSH PRIVATE KEY-----\nunit\n-----END OPENSSH PRIVATE KEY-----\n", { mode: 0o600 });
  const root = await fixtureCopy();
  await addPkiServer(join(root, "inventory"));
  // 1405-01-01 (2026-03-21) is past: the freeze is on today.
  await edit(root, ELECTION, "  timeZone: Asia/Tehran\n", "  timeZone: Asia/Tehran\n  changeFreeze: 1405-01-01\n");
  await writeFile(
    stackFile,
    `config:\n  amadegi:environment: production\n  amadegi:inventory: ${join(root, "inventory")}\n` +
      `  amadegi:probe:\n    allow: [10.0.0.0/8]\n  amadegi:ssh:\n    identityFile: ${key}\n`,
  );
  await writeFile(stagingFile, (await readFile(stackFile, "utf8")).replace("amadegi:environment: production", "amadegi:environment: staging"));
});
afterAll(async () => {
  await rm(stackFile, { force: true });
  await rm(stagingFile, { force: true });
  await sandbox.cleanup();
});

function amadegi(...args: string[]): Promise<CliRun> {
  return runCli(args, sandbox.env);
}

describe("amadegi up and destroy during the change freeze", () => {
  it.each(["up", "destroy"])(
    "%s of a production stack without approvals exits 2, naming what to pass, and leaves the engine untouched",
    async (operation) => {
      const { code, stderr } = await amadegi(operation, "--stack", stack, "--yes");
      expect(code).toBe(2);
      expect(stderr).toContain(`ProvisionError: ${stackFile}: stack ${stack} is production and the change freeze began`);
      expect(stderr).toContain(`\`${operation}\` needs the IT committee's signed approval (--approvals DIR --results FILE`);
      expect(existsSync(join(sandbox.dir, "pulumi"))).toBe(false);
    },
    60_000,
  );

  it("preview is never held back: it runs the program through the real engine, its output first, the counts last", async () => {
    const { code, stdout, stderr } = await amadegi("preview", "-s", `organization/amadegi/${stack}`);
    expect(stderr).not.toContain("change freeze");
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`Previewing update (${stack}):`);
    expect(lines).toContainEqual(expect.stringMatching(/^ \+ {2}amadegi:pki:Pki election create\s*$/));
    // The stack, the PKI and every server of the fixture with its roles (a preview sends nothing).
    expect(lines.at(-1)).toMatch(new RegExp(`^preview of stack ${stack}: create (\\d+)$`));
    expect(Number(/create (\d+)$/.exec(stdout.trimEnd())?.[1])).toBeGreaterThan(10);
  }, 120_000);

  it("preview --json is one document of the counts and each step (op, urn, type); the engine's output goes to stderr", async () => {
    const { code, stdout, stderr } = await amadegi("preview", "--stack", stack, "--json");
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as {
      stack: string;
      operation: string;
      changes: Record<string, number>;
      steps: { op: string; urn: string; type: string }[];
    };
    expect(report).toMatchObject({ stack, operation: "preview" });
    expect(report.steps).toContainEqual({ op: "create", urn: `urn:pulumi:${stack}::amadegi::amadegi:pki:Pki::election`, type: "amadegi:pki:Pki" });
    // Every resource's step is there: as many creates as the counts say.
    expect(report.steps.filter((s) => s.op === "create" && !s.type.startsWith("pulumi:providers:"))).toHaveLength(report.changes.create ?? -1);
    expect(stderr).toContain(`Previewing update (${stack}):`);
  }, 120_000);

  it("preview --expect-no-changes exits 1 when there are changes, saying so", async () => {
    const { code, stdout, stderr } = await amadegi("preview", "--stack", stack, "--expect-no-changes");
    expect(code).toBe(1);
    expect(stdout).toMatch(new RegExp(`\npreview of stack ${stack}: create \\d+\n$`));
    expect(stderr).toContain(`preview of stack ${stack}: changes where none were expected (--expect-no-changes); nothing was changed`);
  }, 120_000);

  it("Ctrl-C during a preview, as a terminal sends it (to amadegi and the engine at once), stops the engine and exits 130", async () => {
    // Its own process group, as a shell gives a foreground job: the terminal's Ctrl-C goes to the whole group.
    const child = spawn(process.execPath, [join(repoRoot, "bin/amadegi.js"), "preview", "--stack", stack], {
      cwd: repoRoot,
      env: sandbox.env,
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    let pressed = false;
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      // The engine is running the program: the person presses Ctrl-C, once.
      if (!pressed && stdout.includes("Previewing update") && child.pid !== undefined) {
        pressed = true;
        process.kill(-child.pid, "SIGINT");
      }
    });
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on("close", (c, s) => resolve([c, s])));
    expect(code, `${signal ?? ""} ${stderr}`).toBe(130);
    expect(stderr).toMatch(new RegExp(`preview of stack ${stack}: interrupted; (the engine stopped|but the engine had already finished)`));
    // The engine stopped cleanly: the stack is not left locked, and a preview runs again at once.
    const again = await amadegi("preview", "--stack", stack);
    expect(again.code, again.stderr).toBe(0);
  }, 120_000);

  it("up on a terminal shows the preview and asks; an answer other than yes changes nothing (exit 2)", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const questions: string[] = [];
    const io: Io = {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
      cwd: repoRoot,
      env: sandbox.env,
      interactive: true,
      ask: (question) => {
        questions.push(question);
        return Promise.resolve("no");
      },
    };
    expect(await main(["up", "--stack", staging], io)).toBe(2);
    expect(questions).toEqual(["Do you want to perform this update? (yes/no) "]);
    expect(out[0]).toBe(`Previewing update (${staging}):`);
    expect(out.join("\n")).not.toContain(`Updating (${staging})`);
    expect(err).toContain(`up of stack ${staging}: not confirmed; nothing was changed`);
    // Nothing was changed: everything is still to create.
    const again = await amadegi("preview", "--stack", staging, "--json");
    const steps = (JSON.parse(again.stdout) as { steps: { op: string }[] }).steps;
    expect(steps.length).toBeGreaterThan(10);
    expect(steps.every((s) => s.op === "create")).toBe(true);
  }, 180_000);

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
    await addPkiServer(join(work, "pr-data", "inventory"));
    const file = join(work, "preview.md");
    const { code, stdout } = await runCli(["preview", "--stack", stack, "--inventory", "pr-data/inventory", "--markdown", file], sandbox.env, work);
    expect(code).toBe(0);
    expect(stdout.trimEnd().split("\n").at(-1)).toMatch(new RegExp(`^preview of stack ${stack}: create (\\d+)$`));
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
      const { code, stderr } = await amadegi(operation, "--stack", stack, "--yes", "--inventory", join(repoRoot, "inventory"));
      expect(code).toBe(2);
      expect(stderr).toMatch(/Unknown option '--inventory'/);
    }
  }, 60_000);
});
