// Issue 15: AMADEGI_STATE_DIR moves all of the state. The pipeline's stages
// that run without the rehearsal — generate, validate, check (a real campaign
// on loopback), gate, approve, report, export — run as a person runs them
// (their own process, from a working directory holding a fixture), with the
// state directory set to a temp directory: everything they keep is there, and
// nothing is left under the repository's .amadegi nor the caller's. The
// repository is a copy of this one's code (src/, bin/), so that its
// `<repo>/.amadegi` is this test's to look at; a control run without
// AMADEGI_STATE_DIR shows that is where the state goes by default.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadInventory } from "../../src/model/index.ts";
import { writeSyntheticResults } from "../../src/readiness/synthetic.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";
import { commitAll, FIXTURE } from "../readiness/helpers.ts";

const exec = promisify(execFile);
const PORT = 18_741;
const made: string[] = [];
let repo = "";
let cwd = "";
let state = "";
let server: Server | undefined;

async function temp(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** `amadegi ARGS` from the copy's bin/, in the fixture's directory; env: this process's, AMADEGI_STATE_DIR as given (null: unset). */
async function amadegi(args: readonly string[], stateDir: string | null = state): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, AMADEGI_DEBUG: undefined };
  delete env.AMADEGI_STATE_DIR;
  if (stateDir !== null) env.AMADEGI_STATE_DIR = stateDir;
  try {
    const { stdout, stderr } = await exec(process.execPath, [join(repo, "bin", "amadegi.js"), ...args], { cwd, env, encoding: "utf8", timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Every path under dir, relative, sorted (SQLite's own side files left out). */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .filter((p) => !/history\.sqlite-(wal|shm|journal)$/.test(p))
    .sort();
}

beforeAll(async () => {
  // The repository: this one's code, its dependencies linked.
  repo = await temp("amadegi-repo-");
  for (const name of ["src", "bin"]) await cp(join(repoRoot, name), join(repo, name), { recursive: true });
  await cp(join(repoRoot, "package.json"), join(repo, "package.json"));
  await symlink(join(repoRoot, "node_modules"), join(repo, "node_modules"));
  // The caller's directory: the readiness fixture (committed: approve names its commit), and a loopback stack.
  cwd = await temp("amadegi-caller-");
  await cp(FIXTURE, cwd, { recursive: true });
  await commitAll(cwd);
  await cp(join(repoRoot, "test", "probe", "fixtures"), join(cwd, "loop"), { recursive: true });
  await mkdir(join(cwd, "stacks"));
  // ca: relative to the state directory (it need not exist: only the tcp check runs, export names it).
  await writeFile(join(cwd, "stacks", "Pulumi.loop.yaml"), "config:\n  amadegi:probe:\n    allow: [127.77.0.0/16]\n    from: test\n    ca: tls/ca.crt\n");
  await mkdir(join(cwd, "loop-checks"));
  await writeFile(
    join(cwd, "loop-checks", "tcp.yaml"),
    `checks:\n  - id: gw-tcp\n    probe: tcp\n    select: { objects: servers, roles: [gateway] }\n    port: ${PORT}\n    timeout: 500ms\n`,
  );
  state = join(await temp("amadegi-state-"), "state");
  // gw-a answers, gw-b refuses.
  const listener = createServer((socket) => socket.end());
  server = listener;
  await new Promise<void>((resolve, reject) => listener.once("error", reject).listen(PORT, "127.77.0.1", resolve));
}, 60_000);

afterAll(async () => {
  await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)));
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

describe("AMADEGI_STATE_DIR moves all of the state", () => {
  it("generate, validate, check, gate, approve, report and export keep everything in it, nothing in <repo>/.amadegi or the caller's .amadegi", async () => {
    const generated = await amadegi(["generate", "--stations", "20", "--out", "generated"]);
    expect(generated.code, generated.stderr).toBe(0);
    const validated = await amadegi(["validate", "--inventory", "generated/inventory"]);
    expect([0, 1], validated.stderr).toContain(validated.code);

    // check, no --out: its results go to the state's results/.
    const checked = await amadegi([
      "check",
      "--stack",
      "loop",
      "--stacks",
      "stacks",
      "--inventory",
      "loop/inventory",
      "--checks",
      "loop-checks",
      "--deadline",
      "10s",
    ]);
    expect(checked.code, checked.stderr).toBe(1);
    expect(checked.stdout).toMatch(new RegExp(`→ ${state}/results/loop-[0-9TZ-]+\\.jsonl\\n`));

    // A campaign of the readiness fixture, newer than check's: the gate takes the newest in results/.
    const inventory = (await loadInventory(join(cwd, "inventory"))).inventory;
    if (inventory === undefined) throw new Error("the readiness fixture does not load");
    const campaign = join(state, "results", "rehearsal-newest.jsonl");
    writeSyntheticResults(campaign, inventory, { now: new Date() });
    const later = new Date(Date.now() + 5_000);
    await utimes(campaign, later, later);

    const gated = await amadegi(["gate", "--milestone", "T-7", "--date", "2027-02-17"]);
    expect(gated.code, gated.stdout + gated.stderr).toBe(0);
    expect(gated.stdout.split("\n")[1]).toMatch(new RegExp(`^results: ${campaign} `));

    const approved = await amadegi(["approve", "--milestone", "T-7", "--date", "2027-02-17", "--results", campaign]);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(new RegExp(`wrote ${state}/approvals/T-7-\\d{8}T\\d{6}\\.txt;`));

    const reported = await amadegi(["report", "--milestone", "T-7", "--date", "2027-02-17", "--out", "report"]);
    expect(reported.code, reported.stderr).toBe(0);

    const metrics = await amadegi(["export", "openmetrics", "--results", campaign, "--out", "metrics.prom"]);
    expect(metrics.code, metrics.stderr).toBe(0);
    // The stack's CA, relative to the state directory, is named there.
    const prometheus = await amadegi([
      "export",
      "prometheus",
      "--out",
      "prometheus",
      "--inventory",
      "loop/inventory",
      "--checks",
      join(repoRoot, "checks"),
      "--stack",
      "loop",
    ]);
    expect(prometheus.code, prometheus.stderr).toBe(0);
    expect(await readFile(join(cwd, "prometheus", "blackbox.yml"), "utf8")).toContain(`ca_file: ${state}/tls/ca.crt`);

    expect(existsSync(join(repo, ".amadegi")), "the repository's .amadegi").toBe(false);
    expect(existsSync(join(cwd, ".amadegi")), "the caller's .amadegi").toBe(false);
    const kept = await tree(state);
    expect(kept.filter((p) => !p.includes("/"))).toEqual(["approvals", "cache", "history.sqlite", "results"]);
    expect(kept.filter((p) => p.startsWith("results/"))).toEqual([expect.stringMatching(/^results\/loop-[0-9TZ-]+\.jsonl$/), "results/rehearsal-newest.jsonl"]);
    expect(kept.filter((p) => p.startsWith("approvals/"))).toEqual([expect.stringMatching(/^approvals\/T-7-\d{8}T\d{6}\.txt$/)]);
    expect(kept.filter((p) => p.startsWith("cache/")).length).toBeGreaterThan(0);
    // What the caller asked for went to the caller's directory, and nothing else did.
    expect((await readdir(cwd)).sort()).toEqual([
      ".git",
      "generated",
      "governance",
      "inventory",
      "loop",
      "loop-checks",
      "metrics.prom",
      "prometheus",
      "report",
      "stacks",
    ]);
  }, 60_000);

  it("control: without AMADEGI_STATE_DIR the state is the repository's .amadegi (so the assertions above can fail)", async () => {
    const campaign = join(state, "results", "rehearsal-newest.jsonl");
    const gated = await amadegi(["gate", "--milestone", "T-7", "--date", "2027-02-17", "--results", campaign, "--no-history"], null);
    expect(gated.code, gated.stdout + gated.stderr).toBe(0);
    expect(existsSync(join(repo, ".amadegi", "cache"))).toBe(true);
    expect(existsSync(join(cwd, ".amadegi"))).toBe(false);
  }, 30_000);
});
