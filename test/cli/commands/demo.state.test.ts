// Issue 15: with AMADEGI_STATE_DIR set, the whole pipeline (the demo's stages)
// leaves nothing under .amadegi/. `amadegi demo` runs as a person runs it — its
// own process, from the repository — and its stages in theirs: validate,
// rehearsal up, devices keys, `up --stack rehearsal` through the real Pulumi
// engine, devices start, check (inside the rehearsal's probing namespace), gate,
// drift, report; then the teardown README gives (devices stop, destroy, down).
// Everything they keep is in the state directory (a temp directory); nothing is
// under the repository's .amadegi, anywhere else in the repository, or in this
// repository's own .amadegi. The repository is a copy of this one's tracked
// files from the working tree (so uncommitted edits are tested too), committed
// as a checkout is, so that its `<repo>/.amadegi` is this test's to look at.
//
// The demo builds the default-named rehearsal (amadegi-r-*: the tracked
// stacks/Pulumi.rehearsal.yaml names its probing namespace), so the test refuses
// to start while someone's rehearsal is up, and never tears down one it did not
// build. Every packet is sent inside the rehearsal: check re-runs itself in its
// probing namespace; this test probes nothing itself. The Pulumi backend is in
// the state directory, so the stack `rehearsal` is the test's own.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { statePaths } from "../../../src/lib/state.ts";
import { namespaceNames } from "../../../src/rehearsal/index.ts";
import { processesMentioning } from "../../../src/rehearsal/processes.ts";
import { listNetns } from "../../../src/toolchain/netns.ts";
import { repoRoot } from "../../../src/toolchain/paths.ts";
import { rehearsalEngineMissing } from "../../helpers/engine.ts";
import { git } from "../../readiness/helpers.ts";
import { copyWorkingTree } from "../../helpers/worktree.ts";

const exec = promisify(execFile);
const skipped = await rehearsalEngineMissing();
/** The demo's rehearsal: the default prefix. */
const names = namespaceNames();
/** Other machines may be twice as slow as the 2.5 minutes the demo takes here. */
const DEMO_MS = 600_000;
const TEARDOWN_MS = 300_000;

let root = "";
/** The repository: the copy, and the caller's working directory (a person runs the demo from the checkout). */
let repo = "";
let state = "";
let started = false;
let tornDown = false;
/** This repository's own .amadegi before the test: what it holds, with times and sizes. */
let ownBefore: string[] = [];

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment a person with AMADEGI_STATE_DIR set has: nothing else that moves the state or the backend. */
function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, AMADEGI_STATE_DIR: state };
  for (const name of ["AMADEGI_DEBUG", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE", "GITHUB_STEP_SUMMARY"])
    delete e[name];
  return e;
}

/** `node <repo>/bin/amadegi.js ARGS` in the repository, as a person runs it. */
async function amadegi(args: readonly string[], timeout: number): Promise<Ran> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [join(repo, "bin", "amadegi.js"), ...args], {
      cwd: repo,
      env: env(),
      encoding: "utf8",
      timeout,
      maxBuffer: 64 << 20,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number | string; signal?: string; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === "number" ? e.code : -1,
      stdout: e.stdout ?? "",
      stderr: `${e.stderr ?? ""}${e.signal === undefined ? "" : ` (killed: ${e.signal})`}`,
    };
  }
}

/** Every path under dir with its time and size (SQLite's side files left out): a change to any shows. */
async function listing(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const out: string[] = [];
  for (const e of entries) {
    const path = join(e.parentPath, e.name);
    if (/\.sqlite-(wal|shm|journal)$/.test(path)) continue;
    const s = await lstat(path).catch(() => undefined);
    out.push(`${path.slice(dir.length + 1)} ${s?.mtimeMs ?? "gone"} ${s?.size ?? ""}`);
  }
  return out.sort();
}

/** Every `.amadegi` under dir, symlinks not followed (node_modules is one). */
async function amadegiDirs(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.name === ".amadegi") found.push(path);
    else if (e.isDirectory() && !e.isSymbolicLink() && e.name !== ".git") found.push(...(await amadegiDirs(path)));
  }
  return found;
}

/** What the pipeline wrote into the repository besides its tracked files: git's untracked and ignored paths. */
async function untracked(): Promise<string[]> {
  const status = await git(repo, "status", "--porcelain", "--ignored", "--untracked-files=normal");
  return status
    .split("\n")
    .filter((l) => l !== "")
    .sort();
}

/** Each stage's log, its last lines: why the demo could not run. */
async function logs(out: string): Promise<string> {
  const dir = join(out, "logs");
  if (!existsSync(dir)) return "(no logs)";
  const parts: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const text = await readFile(join(dir, name), "utf8");
    parts.push(`--- ${name}\n${text.split("\n").slice(-15).join("\n")}`);
  }
  return parts.join("\n");
}

/** The stack's checkpoint in the state's Pulumi backend: its resources (undefined when there is none). */
async function checkpoint(): Promise<{ resources: unknown[] } | undefined> {
  const file = join(statePaths(env()).pulumi, ".pulumi", "stacks", "amadegi", "rehearsal.json");
  if (!existsSync(file)) return undefined;
  const json = JSON.parse(await readFile(file, "utf8")) as { checkpoint?: { latest?: { resources?: unknown[] } } };
  return { resources: json.checkpoint?.latest?.resources ?? [] };
}

/** The README's teardown, every step run whatever the one before it said. */
async function teardown(): Promise<Record<string, Ran>> {
  tornDown = true;
  return {
    "devices stop": await amadegi(["rehearsal", "devices", "stop"], 60_000),
    "destroy --stack rehearsal": await amadegi(["destroy", "--stack", "rehearsal", "--yes"], 150_000),
    "rehearsal down": await amadegi(["rehearsal", "down"], 60_000),
  };
}

/** No .amadegi in the repository (the caller's directory too), and this repository's own as it was. */
async function expectNoAmadegiOutsideTheState(): Promise<void> {
  const leaked = existsSync(join(repo, ".amadegi")) ? (await listing(join(repo, ".amadegi"))).map((l) => l.replace(/ \S+ \S*$/, "")) : undefined;
  expect(leaked, "the repository's (and caller's) .amadegi: written by a stage that ignored AMADEGI_STATE_DIR").toBeUndefined();
  expect(await amadegiDirs(repo), "a .amadegi anywhere in the repository").toEqual([]);
  expect(await listing(join(repoRoot, ".amadegi")), `${repoRoot}/.amadegi (this repository's own)`).toEqual(ownBefore);
}

describe.skipIf(skipped !== undefined)(
  `AMADEGI_STATE_DIR: the demo's whole pipeline and its teardown keep everything in the state directory, nothing in .amadegi` +
    `${skipped === undefined ? "" : ` (skipped: ${skipped}; needs root, network namespaces and the Pulumi CLI, CI runs it)`}`,
  () => {
    beforeAll(async () => {
      const up = listNetns().filter(names.owns);
      if (up.length > 0)
        throw new Error(
          `a rehearsal is already up on this machine (${up.join(", ")}): this test runs the demo, which builds that rehearsal; ` +
            "take yours down with `npx amadegi rehearsal down` first",
        );
      ownBefore = await listing(join(repoRoot, ".amadegi"));
      root = await mkdtemp(join(tmpdir(), "amadegi-demo-state-"));
      repo = join(root, "repo");
      // The repository's tracked files as they are in the working tree, committed as a checkout is.
      await copyWorkingTree(repo);
      await git(repo, "init", "-q", "-b", "main");
      await git(repo, "add", "-A");
      await git(repo, "commit", "-q", "-m", "the working tree");
      expect(await untracked()).toEqual([]);
      await symlink(join(repoRoot, "node_modules"), join(repo, "node_modules"));
      // The state directory as scripts/setup leaves it: the passphrase of the backend's secrets.
      state = join(root, "state");
      await mkdir(state, { recursive: true, mode: 0o700 });
      await writeFile(statePaths(env()).passphrase, `${randomBytes(32).toString("base64url")}\n`, { mode: 0o600 });
    }, 120_000);

    afterAll(async () => {
      // Only a rehearsal this test built is taken down (a refused start built none).
      if (started) {
        if (!tornDown) await teardown();
        if (listNetns().filter(names.owns).length > 0 || processesMentioning(`${root}/`).length > 0) await amadegi(["rehearsal", "down"], 60_000);
      }
      if (root !== "") await rm(root, { recursive: true, force: true });
    }, TEARDOWN_MS);

    const out = () => join(repo, "reports", "demo");

    it(
      "amadegi demo: every stage runs, a verdict, the results where --out says; the state holds what the stages keep",
      async () => {
        started = true;
        const demo = await amadegi(["demo"], DEMO_MS);
        const said = `${demo.stdout}\n${demo.stderr}\n${await logs(out())}`;
        expect([0, 1], said).toContain(demo.code);

        // A line as each stage starts and one as it finishes, in order, each with an exit code that let the demo go on (retries apart).
        const finished = new Map([...demo.stdout.matchAll(/^demo: stage (\d+\/\d+) finished in [^,]+, exit (\d+)/gm)].map((m) => [m[1], Number(m[2])]));
        const stages = [...demo.stdout.matchAll(/^demo: stage (\d+\/\d+): (?!running for )(.*)$/gm)].map((m) => ({
          at: m[1] ?? "",
          title: m[2] ?? "",
          exit: finished.get(m[1] ?? "") ?? -1,
        }));
        const expected = [
          /^validate/,
          /^rehearsal up/,
          /^devices make their keys/,
          /^up: the rehearsal stack/,
          /^devices start/,
          /^check/,
          /^gate/,
          /^drift/,
          /^report/,
        ];
        expect(
          stages.map((s) => s.at),
          said,
        ).toEqual(expected.map((_, i) => `${i + 1}/${expected.length}`));
        stages.forEach((s, i) => expect(s.title, said).toMatch(expected[i] ?? /^$/));
        expect(
          stages.slice(0, 5).map((s) => s.exit),
          said,
        ).toEqual([0, 0, 0, 0, 0]);
        expect(demo.stdout).toMatch(/^verdict: (READY|NOT READY) — /m);

        // The check's results, the report and the logs: where --out (default reports/demo) says.
        const results = (await readFile(join(out(), "results.jsonl"), "utf8")).split("\n");
        expect(JSON.parse(results[0] ?? "")).toMatchObject({ type: "campaign", stack: "rehearsal" });
        expect(existsSync(join(out(), "report.html"))).toBe(true);
        expect((await readdir(join(out(), "logs"))).length).toBeGreaterThanOrEqual(expected.length);

        // Nothing under any .amadegi; nothing in the repository but what --out asked for.
        await expectNoAmadegiOutsideTheState();
        expect(await untracked()).toEqual(["!! reports/", "?? node_modules"]);

        // The state directory holds what the stages kept, and nothing it has no name for.
        const paths = statePaths(env());
        expect((await readdir(state)).filter((n) => !/\.sqlite-(wal|shm|journal)$/.test(n)).sort()).toEqual(
          [paths.assets, paths.cache, paths.drift, paths.history, paths.operations, paths.passphrase, paths.pulumi, paths.rehearsal.dir]
            .map((p) => basename(p))
            .sort(),
        );
        const rehearsal = paths.rehearsal;
        for (const file of [join(rehearsal.dir, "marker.json"), rehearsal.pins, rehearsal.ca, join(rehearsal.dir, "keys", "control_ed25519")])
          expect(existsSync(file), file).toBe(true);
        expect((await readdir(rehearsal.devices)).length, "the devices' keys and requests").toBeGreaterThan(0);
        // Every device's certificate (bound to its key by the device-keys overlay): the authority's ca.crt is not one.
        const issued = (await readdir(rehearsal.issued)).filter((f) => f.endsWith(".crt") && f !== "ca.crt");
        const requests = (await readdir(rehearsal.devices)).filter((f) => f.endsWith(".csr"));
        expect(issued.length, "the devices' certificates").toBe(requests.length);
        expect(requests.length).toBeGreaterThan(0);
        expect((await checkpoint())?.resources.length, "the stack rehearsal's state in the backend").toBeGreaterThan(0);
        expect(await readdir(paths.drift)).toEqual(["rehearsal.json"]);
        expect((await readdir(paths.cache)).length).toBeGreaterThan(0);
      },
      DEMO_MS + 60_000,
    );

    it(
      "the teardown (devices stop, destroy --stack rehearsal, rehearsal down) leaves no rehearsal, and nothing in .amadegi either",
      async () => {
        expect(started, "the demo did not start").toBe(true);
        const ran = await teardown();
        for (const [step, r] of Object.entries(ran)) expect(r.code, `${step}: ${r.stdout}${r.stderr}`).toBe(0);
        expect(listNetns().filter(names.owns)).toEqual([]);
        expect(processesMentioning(`${root}/`), "processes started from the test's directories").toEqual([]);

        await expectNoAmadegiOutsideTheState();
        expect(await untracked()).toEqual(["!! reports/", "?? node_modules"]);
        // The stack destroyed is still the state's (its empty checkpoint); the rehearsal's kept keys stay.
        expect((await checkpoint())?.resources.length).toBe(0);
        expect(existsSync(join(statePaths(env()).rehearsal.dir, "keys", "control_ed25519"))).toBe(true);
        expect(existsSync(join(statePaths(env()).rehearsal.dir, "marker.json"))).toBe(false);
      },
      TEARDOWN_MS,
    );
  },
);
