// The workflows call the project, never shell logic: every run: step is one
// `npm …` or `npx amadegi …` line, and each amadegi line names a command and
// options the CLI has (parsed by the CLI's own parser, matrix values
// substituted). readiness-rehearsal.test.ts runs the readiness workflow's
// lines end to end in the rehearsal (issue 8); this one is the quick check of
// every workflow, without root.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { parseCommandArgs } from "../../src/cli/command.ts";
import { findCommand, main } from "../../src/cli/main.ts";
import { parseSelectTerms } from "../../src/probe/targets.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";

interface Step {
  run?: string;
  uses?: string;
  if?: string;
}
interface Job {
  "runs-on": string | string[];
  permissions?: Record<string, string>;
  needs?: string | string[];
  if?: string;
  environment?: string;
  strategy?: { matrix?: { include?: Record<string, string>[] } };
  steps: Step[];
}
interface Workflow {
  permissions?: unknown;
  jobs: Record<string, Job>;
}

const WORKFLOWS = ["readiness.yml", "pull-request.yml", "preview.yml", "signoff.yml"];

async function workflow(name: string): Promise<Workflow> {
  return load(await readFile(join(repoRoot, ".github", "workflows", name), "utf8")) as Workflow;
}

/** Shell words of a one-line command: double quotes group, $VAR stays a word. */
function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? "");
  return out;
}

function substitute(line: string, matrix: Record<string, string>): string {
  return line.replace(/\$\{\{\s*matrix\.([a-z-]+)\s*\}\}/g, (_, k: string) => {
    const v = matrix[k];
    if (v === undefined) throw new Error(`matrix.${k} is not defined`);
    return v;
  });
}

/** The amadegi argv of a run line, or undefined for an npm line. */
function amadegiArgs(line: string): string[] | undefined {
  const w = words(line);
  if (w[0] === "npm") return undefined;
  expect(w.slice(0, 2), line).toEqual(["npx", "amadegi"]);
  return w.slice(2);
}

describe("workflows: every run step is one amadegi or npm line", () => {
  it.each(WORKFLOWS)("%s", async (name) => {
    const wf = await workflow(name);
    expect(wf.permissions, "workflow-level permissions are empty; each job asks for its own").toEqual({});
    for (const [id, job] of Object.entries(wf.jobs)) {
      expect(job.permissions, `${name} job ${id} declares its permissions`).toBeDefined();
      expect(Object.values(job.permissions ?? {}).every((p) => p === "read" || p === "write")).toBe(true);
      for (const step of job.steps) {
        if (step.uses !== undefined) expect(step.uses, `${name} ${id}: actions pinned to a full commit`).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
        if (step.run === undefined) continue;
        const line = step.run.trim();
        expect(line.includes("\n"), `${name} ${id}: one line: ${line}`).toBe(false);
        expect(line, `${name} ${id}`).toMatch(/^(npm (ci|test)|npx amadegi [a-z]+)( |$)/);
        expect(line, "no shell logic").not.toMatch(/[;&|`<>]|\$\(/);
        expect(line, "no secret in a run line").not.toMatch(/secrets\./);
        const matrices = job.strategy?.matrix?.include ?? [{}];
        for (const matrix of matrices) {
          const args = amadegiArgs(substitute(line, matrix));
          if (args === undefined) continue;
          const command = await findCommand(args[0] ?? "");
          expect(command, `${name} ${id}: amadegi ${args[0]} exists`).toBeDefined();
          if (command !== undefined) expect(() => parseCommandArgs(command, args.slice(1)), `${name} ${id}: ${line}`).not.toThrow();
        }
      }
    }
  });

  it("the option check does catch a line that drifted from the CLI", async () => {
    const check = await findCommand("check");
    if (check === undefined) throw new Error("no check command");
    expect(() => parseCommandArgs(check, ["--selekt", "province=tehran"])).toThrow(/--selekt/);
    expect(() => amadegiArgs("amadegi check")).toThrow();
  });
});

describe("readiness workflow", () => {
  it("shards by province on per-region runner labels, plus a central shard; every shard selection is one merge accepts", async () => {
    const { jobs } = await workflow("readiness.yml");
    const shard = jobs.shard;
    const include = shard?.strategy?.matrix?.include ?? [];
    expect(include.length).toBeLessThanOrEqual(256);
    expect(include.find((m) => m.shard === "central")?.select).toBe("server=*");
    expect(include.filter((m) => m.select?.startsWith("province=")).length).toBe(31);
    for (const m of include) {
      expect(m.runner).toBe(`amadegi-${m.shard}`);
      expect(parseSelectTerms(m.select ?? "").every((t) => ["province", "district", "station", "server"].includes(t.key))).toBe(true);
    }
    expect(new Set(include.map((m) => m.shard)).size).toBe(include.length);
    expect(shard?.["runs-on"]).toEqual(["self-hosted", "linux", "${{ matrix.runner }}"]);
  });

  it("the aggregate job always runs, merges the shards, and its commands exist (amadegi <cmd> --help exits 0)", async () => {
    const { jobs } = await workflow("readiness.yml");
    const aggregate = jobs.aggregate;
    expect(aggregate?.if).toBe("always() && github.ref == 'refs/heads/main'");
    expect(aggregate?.needs).toBe("shard");
    const commands = (aggregate?.steps ?? [])
      .map((s) => (s.run === undefined ? undefined : amadegiArgs(s.run)?.[0]))
      .filter((c): c is string => c !== undefined);
    expect(commands).toEqual(["merge", "drift", "report", "publish", "gate"]);
    for (const c of commands) {
      const io = { out: () => {}, err: () => {}, cwd: repoRoot, env: process.env };
      expect(await main([c, "--help"], io), `amadegi ${c} --help`).toBe(0);
    }
    // Every step after the merge runs even when a step before it failed (not ready is exit 1).
    const afterMerge = (aggregate?.steps ?? []).slice((aggregate?.steps ?? []).findIndex((s) => s.run?.includes("amadegi merge")) + 1);
    expect(afterMerge.every((s) => s.if === "always()")).toBe(true);
    // drift's own exit (1: unwaived drift) is judged by the gate's no-unwaived-drift; it never stops the job.
    const drift = (aggregate?.steps ?? []).find((s) => s.run?.includes("amadegi drift"));
    expect((drift as { "continue-on-error"?: boolean } | undefined)?.["continue-on-error"]).toBe(true);
  });
});

describe("sign-off workflow", () => {
  it("runs in the protected signoff environment and tags only after the gate step", async () => {
    const { jobs } = await workflow("signoff.yml");
    const job = jobs.signoff;
    expect(job?.environment).toBe("signoff");
    expect(job?.permissions).toEqual({ contents: "write", actions: "read" });
    const runs = (job?.steps ?? []).filter((s) => s.run !== undefined);
    const gate = runs.findIndex((s) => s.run?.startsWith("npx amadegi gate"));
    const tag = runs.findIndex((s) => s.run?.startsWith("npx amadegi publish --tag"));
    expect(gate).toBeGreaterThan(-1);
    expect(tag).toBe(gate + 1);
    // No `if:` on the tag step: it runs only when every step before it, the gate included, succeeded.
    expect(runs[tag]?.if).toBeUndefined();
    expect(runs[gate]?.run).toContain("--approvals");
  });
});
