// Integration, end to end, in a rehearsal of this test's own (issue 16: migration and state that travels):
// 1. the program as it was before ADR 0007 (dynamic providers; the commit before src/provision/dynamic.ts
//    was deleted, from git) brings the stack up from a clone of its own — which is then deleted;
// 2. `amadegi up` from another clone at another path migrates it to the @pulumi/command program: the old
//    resources are forgotten, not deleted, and the new ones take the files and services over in place;
//    the state then names no checkout — and that clone is deleted too;
// 3. from a third clone at a third path, amadegi and plain pulumi preview, refresh, update and destroy it.
// The clones share what a team shares: the backend, its passphrase, the rehearsal's state (pins overlay).
// Every packet stays inside the rehearsal: amadegi re-runs itself in its probing namespace, and plain
// pulumi runs there through `ip netns exec`.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { namespaceNames, rehearsalDown, rehearsalUp } from "../../src/rehearsal/index.ts";
import { writeRehearsalStack } from "../../src/rehearsal/stackfile.ts";
import { engineEnv } from "../../src/toolchain/env.ts";
import { listNetns } from "../../src/toolchain/netns.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";
import { rehearsalEngineMissing, throwawayEnv } from "../helpers/engine.ts";
import { git } from "../readiness/helpers.ts";
import { copyWorkingTree } from "../helpers/worktree.ts";

const exec = promisify(execFile);
const skipped = await rehearsalEngineMissing();
const prefix = `amadegi-r-m${process.pid}-`;
const names = namespaceNames(prefix);
const stack = `test-migrate-${process.pid}`;
const ENGINE = 600_000;

let root = "";
let state = "";
let sandbox: Awaited<ReturnType<typeof throwawayEnv>> | undefined;
/** The dynamic-provider program's commit. */
let before = "";

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(file: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  return exec(file, args, { cwd, env, encoding: "utf8", maxBuffer: 64 << 20 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code?: number | string; stdout?: string; stderr?: string }) => ({
      code: typeof e.code === "number" ? e.code : -1,
      stdout: e.stdout ?? "",
      stderr: e.stderr ?? String(e),
    }),
  );
}

/** `amadegi ARGS` as a person runs it from the clone `clone`. */
function amadegi(clone: string, ...args: string[]): Promise<Ran> {
  return run(process.execPath, [join(clone, "bin", "amadegi.js"), ...args], clone, sandbox?.env ?? {});
}

/** What an engine's failure says: its error lines (the diagnostics), else the end of its output. */
function why(stderr: string): string {
  const errors = stderr.split("\n").filter((l) => /error/i.test(l));
  return errors.length > 0 ? errors.slice(0, 40).join("\n") : stderr.slice(-3000);
}

/** Plain `pulumi ARGS --stack S` from the clone, inside the rehearsal's probing namespace. */
function pulumi(clone: string, ...args: string[]): Promise<Ran> {
  const env = { ...sandbox?.env, ...engineEnv(sandbox?.env) };
  return run("ip", ["netns", "exec", names.probe, "pulumi", ...args, "--stack", stack, "--non-interactive", "--color", "never"], clone, env);
}

/** The stack's checkpoint, as the backend keeps it. */
async function checkpoint(): Promise<string> {
  return readFile(join(sandbox?.dir ?? "", "pulumi", ".pulumi", "stacks", "amadegi", `${stack}.json`), "utf8");
}

/**
 * The checkpoint without the engine's record of where in the program each resource was registered
 * (`sourcePosition`, `stackTrace`: for people reading the state; nothing operates on them).
 */
function withoutSourcePositions(text: string): string {
  return JSON.stringify(JSON.parse(text, (key: string, value: unknown) => (key === "stackTrace" || key === "sourcePosition" ? undefined : value)));
}

async function listening(): Promise<string> {
  return (await exec("ip", ["netns", "exec", names.core, "ss", "-Hltnu"], { encoding: "utf8" })).stdout;
}

/** A checkout at `dir`: the files tracked at `commit` (from git), or the working tree's tracked files; node_modules linked; the stack's settings. */
async function checkout(dir: string, commit?: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (commit !== undefined) {
    await exec("sh", ["-c", 'git -C "$1" archive --format=tar "$2" | tar -x -C "$3"', "sh", repoRoot, commit, dir]);
  } else {
    await copyWorkingTree(dir);
  }
  await symlink(join(repoRoot, "node_modules"), join(dir, "node_modules"));
  const settings = { stacksDir: join(dir, "stacks"), stack, stateDir: state, prefix };
  if (commit === undefined) {
    await writeRehearsalStack(settings);
    return;
  }
  // An older checkout's settings are its own template's (a setting added since would be refused by its program), written by its own code.
  const script = "const m = await import(process.argv[1]); await m.writeRehearsalStack(JSON.parse(process.argv[2]));";
  await exec(process.execPath, ["--input-type=module", "-e", script, join(dir, "src", "rehearsal", "stackfile.ts"), JSON.stringify(settings)]);
}

describe.skipIf(skipped !== undefined)(
  `a stack migrates from the dynamic-provider program and travels between checkouts${skipped === undefined ? "" : ` (skipped: ${skipped})`}`,
  () => {
    beforeAll(async () => {
      sandbox = await throwawayEnv();
      root = await mkdtemp(join(tmpdir(), "amadegi-t-migrate-"));
      state = join(root, "state");
      const up = await rehearsalUp({ inventory: join(repoRoot, "inventory"), stateDir: state, prefix });
      expect(up.status.problems).toEqual([]);
      const deleted = (await git(repoRoot, "log", "-1", "--format=%H", "--diff-filter=D", "--", "src/provision/dynamic.ts")).trim();
      before = deleted === "" ? "HEAD" : `${deleted}^`;
    }, 180_000);

    afterAll(async () => {
      if (state !== "") {
        const down = await rehearsalDown({ stateDir: state, prefix });
        expect(down.leftovers).toEqual([]);
        expect(listNetns().filter(names.owns)).toEqual([]);
      }
      if (root !== "") await rm(root, { recursive: true, force: true });
      await sandbox?.cleanup();
    }, 120_000);

    it(
      "the dynamic-provider program brings the stack up from a clone, which is then deleted",
      async () => {
        const old = join(root, "old-checkout");
        await checkout(old, before);
        expect(existsSync(join(old, "src", "provision", "dynamic.ts")), `${before} is not the dynamic-provider program`).toBe(true);
        const up = await amadegi(old, "up", "--stack", stack, "--yes", "--json");
        expect(up.code, why(up.stderr)).toBe(0);
        const saved = await checkpoint();
        expect(saved).toContain("pulumi-nodejs:dynamic:Resource");
        expect(saved).toContain(old);
        expect(await listening()).toContain("10.10.1.11:443");
        await rm(old, { recursive: true, force: true });
      },
      ENGINE,
    );

    it(
      "amadegi up from another clone takes the servers over in place: the old resources forgotten, the services answering, " +
        "a state that names no checkout; then that clone is deleted",
      async () => {
        const clone = join(root, "clone-a");
        await checkout(clone);
        const up = await amadegi(clone, "up", "--stack", stack, "--yes", "--json");
        expect(up.code, why(up.stderr)).toBe(0);
        expect(up.stderr).toMatch(/forgot the \d+ resources of the dynamic-provider program \(ADR 0006\), not deleted/);
        const changes = (JSON.parse(up.stdout) as { changes: Record<string, number> }).changes;
        // Nothing of the old program was deleted (its deletes would stop the services and remove the files).
        expect(changes.delete ?? 0).toBe(0);
        const saved = await checkpoint();
        expect(saved).not.toContain("pulumi-nodejs");
        expect(saved).toContain("command:remote:Command");
        expect(saved).not.toContain(join(root, "old-checkout"));
        // What operates the stack (inputs, outputs, providers) names no checkout; only the engine's source positions do.
        expect(saved).toContain(`file:${clone}/src/provision/`);
        expect(withoutSourcePositions(saved)).not.toContain(clone);
        expect(saved).not.toMatch(/PRIVATE KEY/);
        const ss = await listening();
        expect(ss).toContain("10.10.1.11:443");
        expect(ss).toContain("10.10.0.53:53");
        // The new program's files are the old's, in place: nothing left to change.
        const again = await amadegi(clone, "preview", "--stack", stack, "--expect-no-changes");
        expect(again.code, again.stdout + again.stderr).toBe(0);
        await rm(clone, { recursive: true, force: true });
      },
      ENGINE,
    );

    it(
      "from a third clone at another path, amadegi and plain pulumi preview, refresh, update and destroy the stack",
      async () => {
        const clone = join(root, "elsewhere", "clone-b");
        await checkout(clone);
        const preview = await amadegi(clone, "preview", "--stack", stack, "--expect-no-changes");
        expect(preview.code, preview.stdout + preview.stderr).toBe(0);
        const plainPreview = await pulumi(clone, "preview", "--expect-no-changes");
        expect(plainPreview.code, plainPreview.stdout + plainPreview.stderr).toBe(0);
        const refresh = await pulumi(clone, "refresh", "--yes");
        expect(refresh.code, refresh.stdout + refresh.stderr).toBe(0);
        const up = await amadegi(clone, "up", "--stack", stack, "--yes", "--json");
        expect(up.code, why(up.stderr)).toBe(0);
        expect(Object.keys((JSON.parse(up.stdout) as { changes: Record<string, number> }).changes)).toEqual(["same"]);
        const destroy = await amadegi(clone, "destroy", "--stack", stack, "--yes", "--json");
        expect(destroy.code, destroy.stderr.slice(-3000)).toBe(0);
        const ss = await listening();
        expect(ss).not.toMatch(/:443\b/);
        expect(ss).not.toMatch(/10\.\d+\.\d+\.\d+:53\b/);
        expect(existsSync(join(state, "servers", "gw-teh1-01", "root", "etc/amadegi/nginx/nginx.conf"))).toBe(false);
        expect(existsSync(join(state, "servers", "gw-teh1-01", "root", "etc/amadegi/tls/server.key"))).toBe(false);
      },
      ENGINE,
    );
  },
);
