// The readiness workflow, run for real in the rehearsal (issue 8): its shard
// and aggregate `run:` lines are read from .github/workflows/readiness.yml and
// run in order, each through `bash -c` as a runner would, on two shards of the
// sample inventory (the sample is all in province tehran: the workflow's
// `province=tehran` shard and its central shard `server=*`), and the merged
// verdict must equal an unsharded campaign's. So the workflow cannot drift from
// the commands: a renamed option, a wrong path between steps, a shard that
// merge would refuse, a selection that misses part of the inventory all fail
// here.
//
// What is substituted, and nothing else: `${{ matrix.* }}` (the matrix entries'
// own values), the workflow's `env:` (STACK = rehearsal, the stack whose
// campaigns run inside the rehearsal's probing namespace), and the gate step's
// pinned date (below). `npm ci` lines are not run: the workspaces are this
// repository's own files, its dependencies installed. The `uses:` steps are
// actions, not run lines; they are mimicked by copying files as they would
// (checkout → a fresh workspace per job; upload-artifact/download-artifact →
// copies through an artifacts directory, by their `with:` name, path and
// pattern; the JUnit report action → the file must be there). An action the
// test does not know fails it: someone has to say what it does here.
//
// Every packet is sent from inside this test's own rehearsal (prefix
// amadegi-r-w<pid>-, its own state directory, as test/rehearsal does), never
// from the machine's own namespace: the rehearsal stack's settings name the
// probing namespace, and check re-runs itself there.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { load } from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadInventory } from "../../src/model/index.ts";
import { parseSelectTerms } from "../../src/probe/targets.ts";
import { namespaceNames, rehearsalDown, rehearsalUp } from "../../src/rehearsal/index.ts";
import { writeRehearsalStack } from "../../src/rehearsal/stackfile.ts";
import { listNetns } from "../../src/toolchain/netns.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";
import { throwawayEnv } from "../helpers/engine.ts";
import { netnsAvailable } from "../helpers/netns.ts";

interface Step {
  run?: string;
  uses?: string;
  if?: string;
  "continue-on-error"?: boolean;
  with?: Record<string, string | boolean | number>;
}
interface Job {
  env?: Record<string, string>;
  strategy?: { matrix?: { include?: Record<string, string>[] } };
  steps: Step[];
}
interface Workflow {
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

const skipped = process.getuid?.() !== 0 ? "not root" : !(await netnsAvailable()) ? "no network namespaces (iproute2, nftables)" : undefined;
const prefix = `amadegi-r-w${process.pid}-`;
const names = namespaceNames(prefix);
/**
 * The stack the campaigns run with: the workflow's STACK, set to a rehearsal
 * stack of this test's own (the tracked rehearsal settings, pointed at this
 * test's namespaces and state), provisioned for real before the workflow runs —
 * the central systems a readiness run finds in place.
 */
const STACK = `rehearsal-w${process.pid}`;
const stackFile = join(repoRoot, "stacks", `Pulumi.${STACK}.yaml`);
/**
 * The gate's day, pinned so the verdict does not depend on today: T-7's due day
 * (1405-11-29), whose criteria (links-live, gateways-up, dns-up, ntp-in-sync, and
 * T-30's before them) read the results, so the shards' evidence decides it.
 */
const GATE_DATE = "1405-11-29";

let root = "";
let state = "";
let sandbox: Awaited<ReturnType<typeof throwawayEnv>> | undefined;
let template = "";
let artifacts = "";
let summaryFile = "";

/**
 * A runner's environment for a step: the workflow's env (STACK → rehearsal), a job summary file, npx never to the registry.
 * The state directory is the workspace's .amadegi, as on a runner, whose checkout is the repository (here the
 * workspace's bin/ links to this repository, whose own .amadegi would otherwise be the default).
 */
function stepEnv(wf: Workflow, job: Job, workspace: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.AMADEGI_STATE_DIR;
  const declared = { ...wf.env, ...job.env };
  // Only STACK is known; a new variable must be given its rehearsal value here.
  expect(Object.keys(declared).sort(), "the readiness workflow's env").toEqual(["STACK"]);
  return {
    ...env,
    ...declared,
    STACK,
    AMADEGI_STATE_DIR: join(workspace, ".amadegi"),
    // The runner's Pulumi environment (what a team provides on amadegi-central): the backend the
    // stack was provisioned with and its passphrase. drift reads the stack's outputs there.
    ...(sandbox === undefined
      ? {}
      : { PULUMI_BACKEND_URL: `file://${join(sandbox.dir, "pulumi")}`, PULUMI_CONFIG_PASSPHRASE_FILE: sandbox.env.PULUMI_CONFIG_PASSPHRASE_FILE }),
    GITHUB_STEP_SUMMARY: summaryFile,
    // `npx amadegi` is the workspace's own bin (package.json); never fetch a package.
    npm_config_yes: "false",
    npm_config_offline: "true",
  };
}

function substitute(text: string, matrix: Record<string, string>): string {
  const out = text.replace(/\$\{\{\s*matrix\.([a-z-]+)\s*\}\}/g, (_, k: string) => {
    const v = matrix[k];
    if (v === undefined) throw new Error(`matrix.${k} is not defined`);
    return v;
  });
  if (out.includes("${{")) throw new Error(`only matrix.* is substituted: ${text}`);
  return out;
}

interface Ran {
  line: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One run: line through a real shell, in the job's workspace. */
function shell(line: string, cwd: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", line], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ line, code, stdout, stderr }));
  });
}

/** actions/checkout: a fresh workspace holding the repository's files (the rehearsal stack pointed at this test's rehearsal). */
async function checkout(dir: string): Promise<void> {
  await cp(template, dir, { recursive: true, verbatimSymlinks: true });
}

/** A `path:` of upload-artifact: one or more lines. */
function paths(value: unknown): string[] {
  return String(value)
    .split("\n")
    .map((p) => p.trim())
    .filter((p) => p !== "");
}

/** The `uses:` steps, done as the actions would do them, with files. */
async function action(step: Step, matrix: Record<string, string>, workspace: string): Promise<void> {
  const name = (step.uses ?? "").replace(/@.*$/, "");
  const w = Object.fromEntries(Object.entries(step.with ?? {}).map(([k, v]) => [k, substitute(String(v), matrix)]));
  if (name === "actions/checkout") return; // the workspace is laid out before the job's steps
  if (name === "actions/upload-artifact") {
    // One file: the artifact holds it by its name; several: by their path in the workspace.
    const files = paths(w.path);
    const into = join(artifacts, w.name ?? "artifact");
    for (const file of files) {
      const from = join(workspace, file);
      if (!existsSync(from)) {
        if (w["if-no-files-found"] === "error") throw new Error(`upload-artifact ${w.name}: ${file} does not exist`);
        continue;
      }
      const to = files.length === 1 ? join(into, basename(file)) : join(into, file);
      await mkdir(dirname(to), { recursive: true });
      await copyFile(from, to);
    }
    return;
  }
  if (name === "actions/download-artifact") {
    const pattern = new RegExp(`^${(w.pattern ?? "*").replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
    const into = join(workspace, w.path ?? ".");
    for (const artifact of readdirSync(artifacts).filter((a) => pattern.test(a))) {
      await cp(join(artifacts, artifact), w["merge-multiple"] === "true" ? into : join(into, artifact), { recursive: true });
    }
    return;
  }
  if (name === "mikepenz/action-junit-report") {
    const report = readFileSync(join(workspace, w.report_paths ?? ""), "utf8");
    expect(report, "the JUnit report the readiness check is made of").toContain("<testsuite");
    return;
  }
  throw new Error(`the test does not know what action ${name} does: mimic it in action()`);
}

/**
 * A job's steps in order, as a runner runs them: a step with no `if:` runs
 * only while every step before it succeeded; `if: always()` always runs.
 * `extra` appends words to the run line of the step whose command it names.
 */
async function runJob(wf: Workflow, job: Job, matrix: Record<string, string>, workspace: string, extra: Record<string, string> = {}): Promise<Ran[]> {
  await checkout(workspace);
  const env = stepEnv(wf, job, workspace);
  const ran: Ran[] = [];
  let failed = false;
  for (const step of job.steps) {
    if (step.if !== undefined && step.if !== "always()") throw new Error(`the test does not know how to run \`if: ${step.if}\``);
    if (failed && step.if !== "always()") continue;
    if (step.uses !== undefined) {
      await action(step, matrix, workspace);
      continue;
    }
    const line = substitute(step.run ?? "", matrix);
    if (line === "npm ci") continue; // dependencies: the repository's own, installed
    expect(line, "a run line is one npx amadegi line").toMatch(/^npx amadegi [a-z]+ /);
    const command = line.split(" ")[2] ?? "";
    const result = await shell(extra[command] === undefined ? line : `${line} ${extra[command]}`, workspace, env);
    ran.push(result);
    if (result.code !== 0 && step["continue-on-error"] !== true) failed = true;
  }
  return ran;
}

/** The result keys of a results file (its target lines). */
function resultKeys(file: string): string[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as { key?: string })
    .flatMap((r) => (r.key === undefined ? [] : [r.key]))
    .sort();
}

interface GateJson {
  milestone: { id: string };
  verdict: string;
  exitCode: number;
  reasons: string[];
  criteria: { id: string; outcome: string }[];
}

/**
 * What must be equal between the merged and the unsharded verdicts: the exit
 * code, milestone, verdict, each criterion's outcome, and why it could not
 * judge (numbers aside: a weak link's loss is random, so counts may differ).
 */
function verdictOf(ran: Ran): { exit: number | null; milestone: string; verdict: string; criteria: Record<string, string>; reasons: string[] } {
  const g = JSON.parse(ran.stdout) as GateJson;
  expect(g.exitCode).toBe(ran.code);
  return {
    exit: ran.code,
    milestone: g.milestone.id,
    verdict: g.verdict,
    criteria: Object.fromEntries(g.criteria.map((c) => [c.id, c.outcome])),
    reasons: g.reasons.map((r) => r.replace(/\d+(\.\d+)?/g, "N")),
  };
}

describe.skipIf(skipped !== undefined)(
  `readiness workflow lines run in the rehearsal: two shards merged = one unsharded campaign` +
    `${skipped === undefined ? "" : ` (skipped: ${skipped}; needs root and network namespaces, CI runs it)`}`,
  () => {
    let wf: Workflow;
    let shards: Record<string, string>[] = [];
    let deadline = "";

    beforeAll(async () => {
      wf = load(await readFile(join(repoRoot, ".github", "workflows", "readiness.yml"), "utf8")) as Workflow;
      root = await mkdtemp(join(tmpdir(), "amadegi-readiness-rehearsal-"));
      state = join(root, "state");
      template = join(root, "checkout");
      artifacts = join(root, "artifacts");
      summaryFile = join(root, "step-summary.md");
      await mkdir(artifacts);
      await writeFile(summaryFile, "");
      // The repository as a checkout holds it: the inventory (the sample), the
      // catalog, the committee, package.json (npx amadegi finds its bin there).
      // Copied once, so that edits to inventory/ by others never change a run half-way.
      for (const dir of ["inventory", "checks", "governance"]) await cp(join(repoRoot, dir), join(template, dir), { recursive: true });
      await copyFile(join(repoRoot, "package.json"), join(template, "package.json"));
      await symlink(join(repoRoot, "bin"), join(template, "bin"));
      // The rehearsal stack, pointed at this test's rehearsal (its probing
      // namespace and its pins overlay), as test/rehearsal does.

      // The shards: the matrix entries whose selection covers the sample's provinces, and the central one.
      const loaded = await loadInventory(join(template, "inventory"));
      const provinces = new Set((loaded.inventory?.districts ?? []).map((d) => d.province));
      expect([...provinces]).toEqual(["tehran"]);
      shards = (wf.jobs.shard?.strategy?.matrix?.include ?? []).filter((m) =>
        parseSelectTerms(m.select ?? "").some(
          (t) => !t.negated && ((t.key === "province" && [...t.values].some((v) => provinces.has(v))) || (t.key === "server" && t.any)),
        ),
      );
      expect(shards.map((m) => m.select)).toEqual(["server=*", "province=tehran"]);
      // The campaign's deadline, as the shard line says it (the campaign ends when every target is settled, well before).
      deadline = /--deadline (\S+)/.exec(wf.jobs.shard?.steps.find((s) => s.run?.includes("amadegi check") === true)?.run ?? "")?.[1] ?? "";
      expect(deadline).toMatch(/^\d+[smh]$/);

      const up = await rehearsalUp({ inventory: join(template, "inventory"), stateDir: state, prefix });
      expect(up.status.problems).toEqual([]);
      expect(up.status.whole).toBe(true);
      // This test's stack stands in for the rehearsal's: the tracked settings pointed at this rehearsal,
      // in the checkout (where the workflow's lines read them) and in the repository's stacks/ (where
      // the engine reads them: Pulumi.yaml's stackConfigDir).
      await writeRehearsalStack({ stacksDir: join(repoRoot, "stacks"), stack: STACK, stateDir: state, prefix });
      await mkdir(join(template, "stacks"));
      await copyFile(stackFile, join(template, "stacks", `Pulumi.${STACK}.yaml`));
      // The central systems, provisioned by the stack for real (a sandbox backend of this test's own).
      sandbox = await throwawayEnv();
      const provisioned = await shell(`node bin/amadegi.js up --stack ${STACK} --yes`, repoRoot, sandbox.env);
      expect(provisioned.code, provisioned.stderr).toBe(0);
    }, 400_000);

    afterAll(async () => {
      await rm(stackFile, { force: true });
      await sandbox?.cleanup();
      if (state !== "") {
        const down = await rehearsalDown({ stateDir: state, prefix }).catch((error: unknown) => ({ leftovers: [String(error)] }));
        expect(down.leftovers).toEqual([]);
        expect(listNetns().filter(names.owns)).toEqual([]);
      }
      if (root !== "") await rm(root, { recursive: true, force: true });
    }, 60_000);

    let merged: Ran | undefined;
    let mergedKeys: string[] = [];

    it("the shard jobs' lines, then the aggregate's (merge, report, publish, gate), run as the workflow runs them", async () => {
      const shardJob = wf.jobs.shard;
      const aggregate = wf.jobs.aggregate;
      if (shardJob === undefined || aggregate === undefined) throw new Error("readiness.yml has no shard or aggregate job");
      for (const matrix of shards) {
        const workspace = join(root, `shard-${matrix.shard}`);
        const ran = await runJob(wf, shardJob, matrix, workspace);
        expect(ran.map((r) => r.line.split(" ")[2])).toEqual(["check"]);
        // Ready (0) or not ready (1); never could not run (2), which would also mean an invalid campaign.
        expect([0, 1], `${ran[0]?.line}\n${ran[0]?.stdout}\n${ran[0]?.stderr}`).toContain(ran[0]?.code);
      }
      expect(readdirSync(artifacts).sort()).toEqual(shards.map((m) => `results-${m.shard}`).sort());

      const workspace = join(root, "aggregate");
      // The gate's date pinned and its verdict as JSON: appended after the workflow's own words.
      const ran = await runJob(wf, aggregate, {}, workspace, { gate: `--date ${GATE_DATE} --json` });
      const by = Object.fromEntries(ran.map((r) => [r.line.split(" ")[2] ?? "", r]));
      expect(Object.keys(by)).toEqual(["merge", "drift", "report", "publish", "gate"]);
      // drift read the stack's outputs, asked every server over SSH inside the rehearsal, and left its report where the gate reads it.
      expect([0, 1], `${by.drift?.line}\n${by.drift?.stdout}\n${by.drift?.stderr}`).toContain(by.drift?.code);
      const drift = JSON.parse(readFileSync(join(workspace, ".amadegi", "drift", `${STACK}.json`), "utf8")) as { stack: string; items: { kind: string }[] };
      expect(drift.stack).toBe(STACK);
      expect(drift.items.filter((i) => i.kind === "unreachable" || i.kind === "not-provisioned")).toEqual([]);
      // merge proves coverage: every station and server of the sample exactly once, no overlap.
      expect(by.merge?.code, `${by.merge?.line}\n${by.merge?.stderr}`).toBe(0);
      expect(by.merge?.stdout).toContain(`merged ${shards.length} shards`);
      // report exits with the gate's code of today's milestone (in the rehearsal: 2, see the verdict below); what counts here is that it wrote its files.
      expect(by.report?.stdout, `${by.report?.line}\n${by.report?.stderr}`).toMatch(/wrote report\/report\.html .*report\/summary\.md, report\/junit\.xml/);
      expect(by.publish?.code, `${by.publish?.line}\n${by.publish?.stderr}`).toBe(0);
      expect(readFileSync(summaryFile, "utf8")).toBe(readFileSync(join(workspace, "report", "summary.md"), "utf8").replace(/\n?$/, "\n"));
      for (const file of ["report/report.html", "report/junit.xml", "results/merged.jsonl"])
        expect(existsSync(join(artifacts, "readiness-report", file)), file).toBe(true);
      merged = by.gate;
      mergedKeys = resultKeys(join(workspace, "results", "merged.jsonl"));
      expect(mergedKeys.length).toBeGreaterThan(0);
    }, 600_000);

    it("the merged verdict equals an unsharded campaign's, over the same results", async () => {
      if (merged === undefined) throw new Error("the workflow's lines did not run");
      const workspace = join(root, "unsharded");
      await checkout(workspace);
      const env = stepEnv(wf, wf.jobs.shard ?? { steps: [] }, workspace);
      const check = await shell(`npx amadegi check --stack "$STACK" --deadline ${deadline} --out results/unsharded.jsonl --json`, workspace, env);
      expect([0, 1], check.stderr).toContain(check.code);
      expect((JSON.parse(check.stdout) as { valid: boolean }).valid).toBe(true);
      const gate = await shell(`npx amadegi gate --results results/unsharded.jsonl --date ${GATE_DATE} --json`, workspace, env);
      expect(resultKeys(join(workspace, "results", "unsharded.jsonl"))).toEqual(mergedKeys);
      const unsharded = verdictOf(gate);
      expect(unsharded.milestone).toBe("T-7");
      expect(Object.keys(unsharded.criteria).sort()).toEqual(["dns-up", "gateways-up", "links-declared", "links-live", "links-ordered", "ntp-in-sync"]);
      expect(verdictOf(merged)).toEqual(unsharded);
    }, 600_000);
  },
);
