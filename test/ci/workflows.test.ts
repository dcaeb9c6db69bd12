// The workflows pass actionlint (built by setup from the Go module proxy), and
// hold what can be held in a workflow file about where code runs (issue 13,
// item 5): a pull request's code runs only on GitHub-hosted runners, which hold
// nothing; the runners that hold production (amadegi-central, amadegi-<province>)
// run only main's workflows, and a pull_request_target workflow reads the pull
// request's inventory/ and checks/ as data, never its code. What a file cannot
// hold (runner groups, the signoff environment's reviewers, fork approval,
// branch protection) is a GitHub setting: README "CI workflows" says how to set
// and check each. Every rule is also tried on a small bad workflow below.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { parseCommandArgs } from "../../src/cli/command.ts";
import { findCommand } from "../../src/cli/main.ts";
import { engineEnv } from "../../src/toolchain/env.ts";
import { run, which } from "../../src/toolchain/inspect.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";

const DIR = join(repoRoot, ".github", "workflows");

describe("GitHub workflows", () => {
  it("pass actionlint", async () => {
    const actionlint = await which("actionlint", engineEnv().PATH);
    expect(actionlint, "actionlint is built by scripts/setup").toBeDefined();
    const files = (await readdir(DIR)).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(DIR, f));
    expect(files.length).toBeGreaterThan(0);
    const result = await run(actionlint ?? "", ["-no-color", ...files], { cwd: repoRoot });
    expect(result.stdout + result.stderr).toBe("");
    expect(result.code).toBe(0);
  });

  it("actionlint reports a broken workflow (so a pass means something)", async () => {
    const actionlint = (await which("actionlint", engineEnv().PATH)) ?? "";
    const broken = "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ matrix.nope }}\n";
    const result = await run(actionlint, ["-no-color", "-"], { cwd: repoRoot, input: broken });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/property "nope" is not defined/);
  });
});

// ---------------------------------------------------------------------------
// The rules, on a parsed workflow. Each returns what is wrong, one line each.

interface Step {
  readonly uses?: string;
  readonly run?: string;
  readonly with?: Record<string, unknown>;
  readonly env?: Record<string, unknown>;
  readonly "working-directory"?: string;
}
interface Job {
  readonly "runs-on"?: unknown;
  readonly uses?: string;
  readonly if?: unknown;
  readonly environment?: unknown;
  readonly env?: Record<string, unknown>;
  readonly defaults?: { run?: { "working-directory"?: string } };
  readonly strategy?: { matrix?: Record<string, unknown> };
  readonly steps?: readonly Step[];
}
interface Workflow {
  readonly on?: unknown;
  readonly permissions?: unknown;
  readonly defaults?: { run?: { "working-directory"?: string } };
  readonly jobs?: Record<string, Job>;
}

/** The triggers, as a map from event to its filter (null when it has none). */
function triggers(wf: Workflow): Map<string, Record<string, unknown> | null> {
  const on = wf.on;
  if (typeof on === "string") return new Map([[on, null]]);
  if (Array.isArray(on)) return new Map(on.map((e) => [String(e), null]));
  if (on !== null && typeof on === "object")
    return new Map(Object.entries(on).map(([e, f]) => [e, f !== null && typeof f === "object" ? (f as Record<string, unknown>) : null]));
  return new Map();
}

function list(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** Every set of runner labels the job can run on: one per matrix combination; an unresolved expression stays as written. */
function runnerLabels(job: Job): string[][] {
  const runsOn = job["runs-on"];
  let labels: string[];
  if (typeof runsOn === "string") labels = [runsOn];
  else if (Array.isArray(runsOn)) labels = runsOn.map(String);
  else if (runsOn !== null && typeof runsOn === "object") {
    const { group, labels: l } = runsOn as { group?: unknown; labels?: unknown };
    labels = [...(group === undefined ? [] : [`group:${String(group)}`]), ...list(l)];
  } else return [[job.uses === undefined ? "<no runs-on>" : `<reusable workflow ${job.uses}>`]];
  const matrix = job.strategy?.matrix ?? {};
  const include = Array.isArray(matrix.include) ? (matrix.include as Record<string, unknown>[]) : [];
  const valuesOf = (key: string): string[] => [
    ...list(Array.isArray(matrix[key]) ? matrix[key] : undefined),
    ...include
      .map((c) => c[key])
      .filter((v) => v !== undefined)
      .map(String),
  ];
  const combos: string[][] = [labels];
  for (const [i, label] of labels.entries()) {
    const m = /^\$\{\{\s*matrix\.([\w-]+)\s*\}\}$/.exec(label);
    const key = m?.[1];
    if (key === undefined) continue;
    const values = valuesOf(key);
    if (values.length === 0) continue;
    const next = combos.flatMap((c) => values.map((v) => c.map((x, j) => (j === i ? v : x))));
    combos.splice(0, combos.length, ...next);
  }
  return combos;
}

const isHosted = (labels: readonly string[]) => labels.length === 1 && /^ubuntu-[\w.]+$/.test(labels[0] ?? "");
/** A label of a runner that holds production access (central, a province), or one the file does not say. */
const isProductionLabel = (label: string) => (/^amadegi-/.test(label) && label !== "amadegi-ci") || label.includes("${{") || label.startsWith("<");
const onProduction = (job: Job) => runnerLabels(job).some((set) => !isHosted(set) && set.some(isProductionLabel));

const PR_TRIGGERS = ["pull_request", "pull_request_review", "pull_request_review_comment"];
const DATA_TRIGGERS = ["pull_request_target", "workflow_run"];
const MAIN_GUARD = "github.ref == 'refs/heads/main'";
/** The pull request's directories a pull_request_target job may check out (non-cone patterns). */
const DATA_PATTERNS = new Set(["/inventory/", "/checks/"]);

const isCheckout = (step: Step) => step.uses?.startsWith("actions/checkout@") === true;
const isFalse = (v: unknown) => v === false || v === "false";
const mainOnly = (filter: Record<string, unknown> | null) =>
  filter !== null &&
  JSON.stringify(list(filter.branches)) === '["main"]' &&
  Object.keys(filter).every((k) => ["branches", "paths", "paths-ignore", "types"].includes(k));

/** The job's `if:` requires main: the guard is one of its `&&` terms, and there is no `||` around it. */
function guarded(condition: unknown): boolean {
  if (typeof condition !== "string") return false;
  const expr = condition.trim().replace(/^\$\{\{([\s\S]*)\}\}$/, "$1");
  if (expr.includes("||")) return false;
  return expr.split("&&").some(
    (term) =>
      term
        .trim()
        .replace(/^\((.*)\)$/, "$1")
        .trim() === MAIN_GUARD,
  );
}

/** The directories a job checks the pull request out into (a checkout that names a ref or repository). */
function dataDirs(job: Job): string[] {
  return (job.steps ?? [])
    .filter((s) => isCheckout(s) && (s.with?.ref !== undefined || s.with?.repository !== undefined))
    .map((s) =>
      String(s.with?.path ?? "")
        .replace(/^\.\//, "")
        .replace(/\/+$/, ""),
    );
}

function violations(wf: Workflow): string[] {
  const out: string[] = [];
  const on = triggers(wf);
  const events = [...on.keys()];
  const jobs = Object.entries(wf.jobs ?? {});

  // Least privilege at the top; each job asks for its own.
  const top = wf.permissions;
  const readOnly = top !== null && typeof top === "object" && Object.values(top).every((p) => p === "read" || p === "none");
  if (!readOnly) out.push(`top-level permissions must be {} or read-only, not ${JSON.stringify(top)}`);

  for (const [id, job] of jobs) {
    const steps = job.steps ?? [];
    if (job.uses !== undefined && !/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(job.uses)) out.push(`${id}: ${job.uses} is not pinned to a full commit`);
    for (const step of steps) {
      if (step.uses !== undefined && !/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(step.uses)) out.push(`${id}: ${step.uses} is not pinned to a full commit`);
      if (isCheckout(step) && !isFalse(step.with?.["persist-credentials"])) out.push(`${id}: a checkout without persist-credentials: false`);
      // Values from outside the file (event, inputs) reach a shell only through env:.
      for (const m of (step.run ?? "").matchAll(/\$\{\{\s*([^}]*?)\s*\}\}/g)) {
        if (!/^matrix\.[\w-]+$/.test(m[1] ?? "")) out.push(`${id}: run: interpolates \${{ ${m[1] ?? ""} }}; pass it through env:`);
      }
    }

    // A pull request's code runs only where nothing is held: GitHub-hosted, fresh per job.
    if (events.some((e) => PR_TRIGGERS.includes(e))) {
      for (const labels of runnerLabels(job))
        if (!isHosted(labels)) out.push(`${id}: runs pull-request code on [${labels.join(", ")}], not a GitHub-hosted ubuntu-* runner`);
      if (job.environment !== undefined) out.push(`${id}: a pull-request job uses an environment`);
      if (/secrets\.(?!GITHUB_TOKEN\b)/.test(JSON.stringify(job))) out.push(`${id}: a pull-request job reads a secret`);
    }

    // pull_request_target / workflow_run: base code; the pull request only as data.
    if (events.some((e) => DATA_TRIGGERS.includes(e))) {
      const dirs = dataDirs(job);
      for (const step of steps.filter((s) => isCheckout(s) && (s.with?.ref !== undefined || s.with?.repository !== undefined))) {
        const path = String(step.with?.path ?? "")
          .replace(/^\.\//, "")
          .replace(/\/+$/, "");
        if (path === "" || path === "." || path.startsWith("/") || path.split("/").includes(".."))
          out.push(`${id}: checks the pull request out into the workspace root (${JSON.stringify(step.with?.path ?? "")}); give it a path of its own`);
        const patterns = String(step.with?.["sparse-checkout"] ?? "")
          .split("\n")
          .map((l) => l.trim())
          .filter((l) => l !== "");
        if (patterns.length === 0 || !patterns.every((p) => DATA_PATTERNS.has(p)))
          out.push(`${id}: the pull request's checkout is not limited to /inventory/ and /checks/ (sparse-checkout: ${JSON.stringify(patterns)})`);
        if (!isFalse(step.with?.["sparse-checkout-cone-mode"]))
          out.push(`${id}: the pull request's sparse checkout is in cone mode (it brings the root's files: package.json…)`);
      }
      for (const dir of dirs.filter((d) => d !== "" && d !== ".")) {
        const mention = new RegExp(`(^|[^\\w.-])(\\./)?${dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![\\w.-])`);
        const allowed = new RegExp(`--(inventory|checks)[ =]"?(\\./)?${dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/(inventory|checks)/?"?(?=\\s|$)`, "g");
        for (const wd of [wf.defaults?.run?.["working-directory"], job.defaults?.run?.["working-directory"], ...steps.map((s) => s["working-directory"])]) {
          if (wd !== undefined && mention.test(String(wd))) out.push(`${id}: runs a step in the pull request's ${dir}/ (working-directory: ${String(wd)})`);
        }
        for (const step of steps) {
          if (step.uses?.startsWith(".") === true && mention.test(step.uses)) out.push(`${id}: uses an action from the pull request's ${dir}/`);
          const rest = (step.run ?? "").replace(allowed, (all: string, option: string, _dot: unknown, sub: string) => (option === sub ? "" : all));
          for (const m of rest.matchAll(new RegExp(`${mention.source}[^\\s"']*`, "g"))) {
            out.push(
              `${id}: a run: step touches the pull request's ${dir}/ other than as --inventory ${dir}/inventory or --checks ${dir}/checks ` +
                `(at "${m[0].trim()}")`,
            );
          }
          for (const value of [...Object.values(step.env ?? {}), ...Object.values(step.with ?? {})]) {
            if (!isCheckout(step) && mention.test(String(value))) out.push(`${id}: a step's env:/with: names the pull request's ${dir}/`);
          }
        }
      }
    }

    // Production runners: main's workflows only.
    if (onProduction(job)) {
      for (const [event, filter] of on) {
        const ok = event === "schedule" || event === "workflow_dispatch" || ((event === "push" || event === "pull_request_target") && mainOnly(filter));
        if (!ok)
          out.push(
            `${id}: runs on a production runner but the workflow runs on ${event}${filter === null ? "" : ` ${JSON.stringify(filter)}`} ` +
              `(allowed: schedule, workflow_dispatch, push or pull_request_target on branches [main])`,
          );
      }
      if ((on.has("workflow_dispatch") || on.has("pull_request_target")) && !guarded(job.if))
        out.push(`${id}: runs on a production runner and can be dispatched: it needs if: ${MAIN_GUARD}`);
    }

    // The gate compares files with commits; a sign-off is approved by the committee.
    const runs = steps.map((s) => s.run ?? "");
    if (runs.some((r) => /\bamadegi gate\b/.test(r))) {
      for (const step of steps.filter(isCheckout))
        if (step.with?.["fetch-depth"] !== 0 && step.with?.["fetch-depth"] !== "0") out.push(`${id}: runs the gate on a shallow checkout (fetch-depth: 0)`);
    }
    if (runs.some((r) => /\bamadegi (gate .*--milestone|publish .*--tag)\b/.test(r))) {
      const env = job.environment;
      const name = typeof env === "string" ? env : env !== null && typeof env === "object" ? (env as { name?: unknown }).name : undefined;
      if (name !== "signoff") out.push(`${id}: signs off or tags a milestone outside the signoff environment`);
    }
  }
  return out;
}

async function committed(): Promise<{ file: string; wf: Workflow }[]> {
  const files = (await readdir(DIR)).filter((f) => /\.ya?ml$/.test(f)).sort();
  return Promise.all(files.map(async (file) => ({ file, wf: load(await readFile(join(DIR, file), "utf8")) as Workflow })));
}

describe("committed workflows: where code runs (issue 13, item 5)", () => {
  it("every workflow holds every rule", async () => {
    const all = await committed();
    expect(all.map((w) => w.file)).toEqual(["ci.yml", "preview.yml", "pull-request.yml", "readiness.yml", "signoff.yml"]);
    for (const { file, wf } of all) expect(violations(wf), file).toEqual([]);
  });

  it("pull-request code runs only on GitHub-hosted runners; production runners only in main's workflows", async () => {
    const all = await committed();
    const byEvent = (event: string) => all.filter(({ wf }) => triggers(wf).has(event)).map((w) => w.file);
    expect(byEvent("pull_request")).toEqual(["ci.yml", "pull-request.yml"]);
    expect(byEvent("pull_request_target")).toEqual(["preview.yml"]);
    // The rules above have something to judge: the production jobs are where the README says.
    const production = all.flatMap(({ file, wf }) =>
      Object.entries(wf.jobs ?? {})
        .filter(([, job]) => onProduction(job))
        .map(([id]) => `${file}:${id}`),
    );
    expect(production).toEqual(["preview.yml:preview", "readiness.yml:shard", "readiness.yml:aggregate", "signoff.yml:signoff"]);
    const shardLabels = runnerLabels(all.find((w) => w.file === "readiness.yml")?.wf.jobs?.shard ?? {});
    expect(shardLabels).toHaveLength(32);
    expect(shardLabels.every((set) => set.some((l) => /^amadegi-[a-z-]+$/.test(l)))).toBe(true);
  });

  it("preview.yml: npm ci in the base checkout only; the pull request's inventory/ and checks/ in pr-data/, read by preview --inventory", async () => {
    const wf = (await committed()).find((w) => w.file === "preview.yml")?.wf;
    const job = wf?.jobs?.preview;
    const steps = job?.steps ?? [];
    expect(dataDirs(job ?? {})).toEqual(["pr-data"]);
    const [base, ci, data] = steps;
    expect(base?.uses).toMatch(/^actions\/checkout@/);
    expect(base?.with, "the base branch: no ref, no repository").toEqual({ "persist-credentials": false });
    expect(ci?.run).toBe("npm ci");
    expect(data?.with).toEqual({
      repository: "${{ github.event.pull_request.head.repo.full_name }}",
      ref: "${{ github.event.pull_request.head.sha }}",
      path: "pr-data",
      "sparse-checkout": "/inventory/\n/checks/\n",
      "sparse-checkout-cone-mode": false,
      "persist-credentials": false,
    });
    expect(steps.filter((s) => s.run?.startsWith("npm ")).map((s) => s.run)).toEqual(["npm ci"]);
    expect(steps.find((s) => s.run?.includes("amadegi preview"))?.run).toContain("--inventory pr-data/inventory");
    // Each amadegi line is one the CLI parses (matrix values substituted): preview takes --inventory, up does not.
    for (const matrix of (job?.strategy?.matrix?.include ?? []) as Record<string, string>[]) {
      for (const line of steps.map((s) => s.run).filter((r): r is string => r?.startsWith("npx amadegi ") === true)) {
        const args = line
          .replace(/\$\{\{\s*matrix\.(\w+)\s*\}\}/g, (_, k: string) => matrix[k] ?? "")
          .split(/\s+/)
          .slice(2);
        const command = await findCommand(args[0] ?? "");
        expect(command, line).toBeDefined();
        if (command !== undefined) expect(() => parseCommandArgs(command, args.slice(1)), line).not.toThrow();
      }
    }
    const up = await findCommand("up");
    if (up === undefined) throw new Error("no up command");
    expect(() => parseCommandArgs(up, ["--stack", "production", "--inventory", "pr-data/inventory"])).toThrow(/--inventory/);
  });

  it("signoff.yml: in the signoff environment, on main, the whole history, the approved commit through env", async () => {
    const wf = (await committed()).find((w) => w.file === "signoff.yml")?.wf as Workflow & {
      on: { workflow_dispatch: { inputs: Record<string, { required?: boolean }> } };
    };
    const job = wf.jobs?.signoff;
    expect(job?.environment).toBe("signoff");
    expect(job?.if).toBe(MAIN_GUARD);
    expect(job?.env).toMatchObject({ COMMIT: "${{ inputs.commit }}" });
    expect(wf.on.workflow_dispatch.inputs.commit?.required).toBe(true);
    expect((job?.steps ?? []).filter(isCheckout).map((s) => s.with?.["fetch-depth"])).toEqual([0]);
    expect((job?.steps ?? []).find((s) => s.run?.includes("amadegi gate"))?.run).toContain('--commit "$COMMIT"');
  });
});

// ---------------------------------------------------------------------------
// Each rule can fail: a small good workflow of each kind holds them all, and one
// change to it breaks exactly the rule named.

const PIN = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683";
const GOOD_PR = `
on: pull_request
permissions: {}
jobs:
  validate:
    runs-on: ubuntu-24.04
    permissions: { contents: read }
    steps:
      - uses: ${PIN}
        with: { persist-credentials: false }
      - run: npm ci
`;
const GOOD_TARGET = `
on:
  pull_request_target:
    branches: [main]
permissions: {}
jobs:
  preview:
    if: github.ref == 'refs/heads/main'
    runs-on: [self-hosted, linux, amadegi-central]
    permissions: { contents: read, pull-requests: write }
    strategy: { matrix: { include: [{ stack: rehearsal }] } }
    steps:
      - uses: ${PIN}
        with: { persist-credentials: false }
      - run: npm ci
      - uses: ${PIN}
        with:
          ref: \${{ github.event.pull_request.head.sha }}
          path: pr-data
          sparse-checkout: |
            /inventory/
            /checks/
          sparse-checkout-cone-mode: false
          persist-credentials: false
      - run: npx amadegi preview --stack \${{ matrix.stack }} --inventory pr-data/inventory --markdown p.md
`;
const GOOD_DISPATCH = `
on:
  workflow_dispatch:
  schedule: [{ cron: "0 1 * * *" }]
permissions: {}
jobs:
  shard:
    if: always() && github.ref == 'refs/heads/main'
    runs-on: [self-hosted, linux, "\${{ matrix.runner }}"]
    strategy: { matrix: { include: [{ runner: amadegi-tehran }, { runner: amadegi-central }] } }
    steps:
      - uses: ${PIN}
        with: { persist-credentials: false }
      - run: npm ci
  signoff:
    if: github.ref == 'refs/heads/main'
    runs-on: [self-hosted, linux, amadegi-central]
    environment: signoff
    env: { MILESTONE: "\${{ inputs.milestone }}" }
    steps:
      - uses: ${PIN}
        with: { fetch-depth: 0, persist-credentials: false }
      - run: npx amadegi gate --milestone "$MILESTONE"
      - run: npx amadegi publish --tag "readiness/$MILESTONE"
`;

function check(text: string): string[] {
  return violations(load(text) as Workflow);
}

/** One change to a good workflow: the exact text replaced must be there once. */
function mutate(text: string, find: string, replace: string): string {
  expect(text.split(find).length - 1, `"${find}" once`).toBe(1);
  return text.replace(find, replace);
}

describe("each rule fails a workflow that breaks it", () => {
  it("the good workflows hold every rule", () => {
    expect(check(GOOD_PR)).toEqual([]);
    expect(check(GOOD_TARGET)).toEqual([]);
    expect(check(GOOD_DISPATCH)).toEqual([]);
  });

  it("a runner named by the matrix is judged by each of its values", () => {
    const shardOnly = (runners: string) =>
      `on: { push: {} }\npermissions: {}\njobs:\n  shard:\n    runs-on: [self-hosted, linux, "\${{ matrix.runner }}"]\n` +
      `    strategy: { matrix: { include: [${runners}] } }\n    steps: [{ run: npm ci }]\n`;
    expect(check(shardOnly("{ runner: amadegi-ci }"))).toEqual([]);
    expect(check(shardOnly("{ runner: amadegi-ci }, { runner: amadegi-ilam }"))).toEqual([
      expect.stringMatching(/^shard: runs on a production runner but the workflow runs on push/),
    ]);
    expect(check(shardOnly(""))).toEqual([expect.stringMatching(/^shard: runs on a production runner/)]); // unresolved: assumed production
  });

  it.each([
    // pull_request: GitHub-hosted only, nothing held.
    {
      name: "pull_request on amadegi-central",
      base: GOOD_PR,
      find: "runs-on: ubuntu-24.04",
      replace: "runs-on: [self-hosted, linux, amadegi-central]",
      want: /validate: runs pull-request code on \[self-hosted, linux, amadegi-central\]/,
    },
    {
      name: "pull_request on the test runner",
      base: GOOD_PR,
      find: "runs-on: ubuntu-24.04",
      replace: "runs-on: [self-hosted, linux, amadegi-ci]",
      want: /runs pull-request code on \[self-hosted, linux, amadegi-ci\]/,
    },
    {
      name: "pull_request on a province runner",
      base: GOOD_PR,
      find: "runs-on: ubuntu-24.04",
      replace: "runs-on: amadegi-tehran",
      want: /runs pull-request code on \[amadegi-tehran\]/,
    },
    {
      name: "pull_request on a runner from an expression",
      base: GOOD_PR,
      find: "runs-on: ubuntu-24.04",
      replace: "runs-on: ${{ github.event.pull_request.title }}",
      want: /runs pull-request code on/,
    },
    {
      name: "pull_request with an environment",
      base: GOOD_PR,
      find: "    runs-on: ubuntu-24.04",
      replace: "    runs-on: ubuntu-24.04\n    environment: signoff",
      want: /uses an environment/,
    },
    {
      name: "pull_request reading a secret",
      base: GOOD_PR,
      find: "      - run: npm ci",
      replace: '      - run: npm ci\n        env: { K: "${{ secrets.SSH_KEY }}" }',
      want: /reads a secret/,
    },
    // pull_request_target: the pull request only as data.
    {
      name: "PR head checked out at the root",
      base: GOOD_TARGET,
      find: "          path: pr-data\n",
      replace: "",
      want: /checks the pull request out into the workspace root/,
    },
    { name: "PR head checked out to '.'", base: GOOD_TARGET, find: "path: pr-data", replace: "path: .", want: /into the workspace root/ },
    {
      name: "PR head checked out whole",
      base: GOOD_TARGET,
      find: "          sparse-checkout: |\n            /inventory/\n            /checks/\n",
      replace: "",
      want: /not limited to \/inventory\/ and \/checks\//,
    },
    {
      name: "PR head with package.json",
      base: GOOD_TARGET,
      find: "            /checks/\n",
      replace: "            /checks/\n            /package.json\n",
      want: /not limited to/,
    },
    { name: "PR head in cone mode", base: GOOD_TARGET, find: "          sparse-checkout-cone-mode: false\n", replace: "", want: /in cone mode/ },
    {
      name: "npm ci in the PR data",
      base: GOOD_TARGET,
      find: "--markdown p.md\n",
      replace: "--markdown p.md\n      - run: npm ci\n        working-directory: pr-data\n",
      want: /runs a step in the pull request's pr-data\/ \(working-directory: pr-data\)/,
    },
    {
      name: "a script of the PR data run",
      base: GOOD_TARGET,
      find: "--markdown p.md\n",
      replace: "--markdown p.md\n      - run: node pr-data/scripts/x.js\n",
      want: /touches the pull request's pr-data\/ other than as --inventory/,
    },
    {
      name: "the PR's stacks as config",
      base: GOOD_TARGET,
      find: "--inventory pr-data/inventory",
      replace: "--inventory pr-data/inventory --stacks pr-data/stacks",
      want: /at "pr-data\/stacks"/,
    },
    {
      name: "--inventory pointed at the PR root",
      base: GOOD_TARGET,
      find: "--inventory pr-data/inventory",
      replace: "--inventory pr-data/checks",
      want: /touches the pull request's pr-data\//,
    },
    {
      name: "an action from the PR data",
      base: GOOD_TARGET,
      find: "--markdown p.md\n",
      replace: "--markdown p.md\n      - uses: ./pr-data/.github/actions/x\n",
      want: /uses an action from the pull request's pr-data\//,
    },
    {
      name: "the PR data through env",
      base: GOOD_TARGET,
      find: "--markdown p.md\n",
      replace: "--markdown p.md\n      - run: npm ci\n        env: { NPM_CONFIG_USERCONFIG: pr-data/.npmrc }\n",
      want: /env:\/with: names the pull request's pr-data\//,
    },
    {
      name: "the head sha inline in run:",
      base: GOOD_TARGET,
      find: "--markdown p.md\n",
      replace: "--markdown p.md\n      - run: npx amadegi publish --key ${{ github.event.pull_request.head.sha }}\n",
      want: /interpolates \$\{\{ github\.event\.pull_request\.head\.sha \}\}; pass it through env:/,
    },
    // Every workflow: pinned actions, no persisted token, least privilege.
    { name: "an action on a tag", base: GOOD_PR, find: PIN, replace: "actions/checkout@v4", want: /actions\/checkout@v4 is not pinned to a full commit/ },
    {
      name: "a persisted token",
      base: GOOD_PR,
      find: "with: { persist-credentials: false }",
      replace: "with: {}",
      want: /a checkout without persist-credentials: false/,
    },
    {
      name: "write at the top",
      base: GOOD_PR,
      find: "permissions: {}",
      replace: "permissions: { contents: write }",
      want: /top-level permissions must be \{\} or read-only/,
    },
    { name: "no permissions at the top", base: GOOD_PR, find: "permissions: {}\n", replace: "", want: /top-level permissions/ },
    // Production runners: main's workflows only, guarded when dispatchable.
    {
      name: "a production job on push to any branch",
      base: GOOD_DISPATCH,
      find: "  workflow_dispatch:\n",
      replace: "  workflow_dispatch:\n  push:\n",
      want: /shard: runs on a production runner but the workflow runs on push/,
    },
    {
      name: "a production job on push of a branch pattern",
      base: GOOD_DISPATCH,
      find: "  workflow_dispatch:\n",
      replace: "  workflow_dispatch:\n  push: { branches: ['**'] }\n",
      want: /runs on push/,
    },
    {
      name: "a production job on pull_request_target of any branch",
      base: GOOD_TARGET,
      find: "    branches: [main]\n",
      replace: "",
      want: /runs on pull_request_target/,
    },
    {
      name: "a production job on workflow_run",
      base: GOOD_DISPATCH,
      find: "  workflow_dispatch:\n",
      replace: "  workflow_dispatch:\n  workflow_run: { workflows: [ci], types: [completed] }\n",
      want: /runs on workflow_run/,
    },
    {
      name: "a dispatchable production job with no guard",
      base: GOOD_DISPATCH,
      find: "    if: github.ref == 'refs/heads/main'\n",
      replace: "",
      want: /signoff: runs on a production runner and can be dispatched: it needs if:/,
    },
    {
      name: "a guard with an escape",
      base: GOOD_DISPATCH,
      find: "if: always() && github.ref == 'refs/heads/main'",
      replace: "if: always() && github.ref == 'refs/heads/main' || true",
      want: /shard: runs on a production runner and can be dispatched/,
    },
    {
      name: "a guard on another branch",
      base: GOOD_DISPATCH,
      find: "if: always() && github.ref == 'refs/heads/main'",
      replace: "if: always() && github.ref != 'refs/heads/main'",
      want: /shard: .* it needs if:/,
    },
    // Sign-off: its environment, the whole history.
    {
      name: "a sign-off outside its environment",
      base: GOOD_DISPATCH,
      find: "    environment: signoff\n",
      replace: "",
      want: /signoff: signs off or tags a milestone outside the signoff environment/,
    },
    { name: "a gate on a shallow checkout", base: GOOD_DISPATCH, find: "fetch-depth: 0, ", replace: "", want: /signoff: runs the gate on a shallow checkout/ },
  ])("$name", ({ base, find, replace, want }) => {
    const found = check(mutate(base, find, replace));
    expect(
      found.some((v) => want.test(v)),
      found.join("\n"),
    ).toBe(true);
  });
});
