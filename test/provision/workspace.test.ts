// Integration: the real Pulumi engine (the CLI setup built), through the
// Automation API, on a throwaway file backend.
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { beforeEngine, engineLocks, holderOf } from "../../src/provision/unfinished.ts";
import { hasChanges, openStack, runOperation, type Step } from "../../src/provision/workspace.ts";
import { PROJECT } from "../../src/model/index.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";
import { killEngine, pulumiHomeWithCommandProvider, throwawayEnv } from "../helpers/engine.ts";

const ENGINE_TIMEOUT = 180_000;

// A dynamic provider whose effect is a file on disk. It reaches `fs` through
// process.getBuiltinModule so the serialised provider captures no import.
const fileProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: { path: string; text: string }) {
    const fs = process.getBuiltinModule("node:fs");
    fs.writeFileSync(inputs.path, inputs.text);
    return { id: inputs.path, outs: inputs };
  },
  async delete(id: string) {
    const fs = process.getBuiltinModule("node:fs");
    fs.rmSync(id, { force: true });
  },
};

class FileResource extends pulumi.dynamic.Resource {
  constructor(name: string, args: { path: string; text: string }, opts?: pulumi.CustomResourceOptions) {
    super(fileProvider, name, args, opts);
  }
}

/** A throwaway backend, and a project directory whose node_modules is the repository's (the dynamic-provider plugin loads the SDK from there). */
async function throwawayProject(): Promise<{ sandbox: Awaited<ReturnType<typeof throwawayEnv>>; project: string }> {
  const sandbox = await throwawayEnv();
  const project = await mkdtemp(join(tmpdir(), "amadegi-project-"));
  // The project's own name: the file backend keeps its locks and stacks under it (ADR 0019 reads them there).
  await writeFile(join(project, "Pulumi.yaml"), `name: ${PROJECT}\nruntime: nodejs\n`);
  await symlink(join(repoRoot, "node_modules"), join(project, "node_modules"));
  return { sandbox, project };
}

describe("the Pulumi engine through the Automation API", () => {
  let sandbox: Awaited<ReturnType<typeof throwawayEnv>>;
  let project: string;

  beforeAll(async () => {
    ({ sandbox, project } = await throwawayProject());
  });
  afterAll(async () => {
    await sandbox.cleanup();
    await rm(project, { recursive: true, force: true });
  });

  it(
    "previews, creates and destroys a resource whose effect is a file",
    async () => {
      const target = join(sandbox.dir, "written-by-pulumi.txt");
      const stack = await openStack("throwaway", {
        workDir: project,
        env: sandbox.env,
        program: async () => {
          const file = new FileResource("marker", { path: target, text: "amadegi engine test\n" });
          return { path: file.id };
        },
      });

      const preview = await stack.preview({ color: "never" });
      expect(preview.changeSummary.create).toBe(2); // the stack and the file
      expect(existsSync(target)).toBe(false);

      const up = await stack.up({ color: "never" });
      expect(up.summary.result).toBe("succeeded");
      expect(up.outputs.path?.value).toBe(target);
      expect(await readFile(target, "utf8")).toBe("amadegi engine test\n");

      const second = await stack.preview({ color: "never" });
      expect(second.changeSummary.same).toBe(2);
      expect(second.changeSummary.create ?? 0).toBe(0);

      const destroyed = await stack.destroy({ color: "never" });
      expect(destroyed.summary.result).toBe("succeeded");
      expect(existsSync(target)).toBe(false);
    },
    ENGINE_TIMEOUT,
  );

  // amadegi's stand-in provider, registered from this checkout in a PULUMI_HOME of the sandbox's own
  // (the Automation API passes this process's environment to the engine), so no setup is needed.
  it(
    "runs a @pulumi/command local.Command and destroy removes its effect",
    async () => {
      const { local } = await import("@pulumi/command");
      const home = await pulumiHomeWithCommandProvider(sandbox.dir);
      const before = process.env.PULUMI_HOME;
      process.env.PULUMI_HOME = home;
      try {
        const target = join(sandbox.dir, "written-by-local-command.txt");
        const stack = await openStack("throwaway-command", {
          workDir: project,
          env: sandbox.env,
          program: async () => {
            const marker = new local.Command("marker", { create: `printf done > ${target}; echo written`, delete: `rm -f ${target}` });
            return { stdout: marker.stdout };
          },
        });
        await stack.preview({ color: "never" });
        expect(existsSync(target)).toBe(false);
        const up = await stack.up({ color: "never" });
        expect(await readFile(target, "utf8")).toBe("done");
        expect(up.outputs.stdout?.value).toBe("written");
        await stack.destroy({ color: "never" });
        expect(existsSync(target)).toBe(false);
      } finally {
        if (before === undefined) delete process.env.PULUMI_HOME;
        else process.env.PULUMI_HOME = before;
      }
    },
    ENGINE_TIMEOUT,
  );
});

// A resource whose create takes `ms`: an operation is still running while it is created.
const slowProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: { path: string; text: string; ms: number }) {
    await new Promise((resolve) => setTimeout(resolve, inputs.ms));
    process.getBuiltinModule("node:fs").writeFileSync(inputs.path, inputs.text);
    return { id: inputs.path, outs: inputs };
  },
  async delete(id: string) {
    process.getBuiltinModule("node:fs").rmSync(id, { force: true });
  },
};

class SlowFile extends pulumi.dynamic.Resource {
  constructor(name: string, args: { path: string; text: string; ms: number }, opts?: pulumi.CustomResourceOptions) {
    super(slowProvider, name, args, opts);
  }
}

describe("runOperation: what amadegi preview, up and destroy run", () => {
  let sandbox: Awaited<ReturnType<typeof throwawayEnv>>;
  let project: string;

  beforeAll(async () => {
    ({ sandbox, project } = await throwawayProject());
  });
  afterAll(async () => {
    await sandbox.cleanup();
    await rm(project, { recursive: true, force: true });
  });

  const stackOf = (name: string, text: string, first: string, ms = 0) =>
    openStack(name, {
      workDir: project,
      env: sandbox.env,
      program: async () => {
        const a = new SlowFile("first", { path: first, text, ms });
        const b = new FileResource("second", { path: `${first}.second`, text }, { dependsOn: a });
        return { path: b.id };
      },
    });

  it(
    "streams the engine's output a line at a time while it runs, records each step, and says when changes were not expected",
    async () => {
      const target = join(sandbox.dir, "streamed.txt");
      const stack = await stackOf("streamed", "one\n", target, 3_000);
      const lines: { line: string; at: number }[] = [];
      const started = Date.now();
      const up = await runOperation(stack, "up", { onLine: (line) => lines.push({ line, at: Date.now() }) });
      const ended = Date.now();
      expect(up.kind).toBe("done");
      if (up.kind !== "done") return;
      // The first line came while the slow create was still under way, not at the end.
      expect(lines[0]?.line).toMatch(/^Updating \(streamed\)/);
      expect((lines[0]?.at ?? ended) - started).toBeLessThan(ended - started - 2_000);
      expect(
        lines
          .map((l) => l.line)
          .join("\n")
          .trimEnd(),
      ).toBe(up.engineOutput.trimEnd());
      expect(up.changes).toEqual({ create: 3 });
      expect(up.steps).toContainEqual<Step>({ op: "create", urn: expect.stringMatching(/::first$/) as string, type: "pulumi-nodejs:dynamic:Resource" });
      // The engine's steps: the stack, the dynamic resources' default provider, the two files.
      expect(up.steps.map((s) => `${s.op} ${s.type}`)).toEqual([
        "create pulumi:pulumi:Stack",
        "create pulumi:providers:pulumi-nodejs",
        "create pulumi-nodejs:dynamic:Resource",
        "create pulumi-nodejs:dynamic:Resource",
      ]);
      expect(up.outputs).toEqual({ path: `${target}.second` });

      // Nothing to change: the expectation holds, and the preview's steps are all `same`.
      const same = await runOperation(stack, "preview", { expectNoChanges: true });
      expect(same.kind).toBe("done");
      if (same.kind === "done") expect(hasChanges(same.changes)).toBe(false);
      expect(same.steps.map((s) => s.op)).toEqual(["same", "same", "same", "same"]);

      // A change where none is expected: the outcome says so, and nothing changed; --diff shows the property.
      const changed = await stackOf("streamed", "two\n", target);
      const refused = await runOperation(changed, "preview", { expectNoChanges: true, diff: true });
      expect(refused.kind).toBe("changes");
      expect(refused.steps.filter((s) => s.op !== "same").map((s) => s.op)).toEqual(["update", "update"]);
      expect(refused.engineOutput).toMatch(/~ ms\s*: 3000 => 0\n\s*~ text: \n\s*- one\n\s*\+ two\n/);
      const plain = await runOperation(changed, "preview");
      expect(plain.engineOutput).toMatch(/~ {2}pulumi-nodejs:dynamic:Resource first update \[diff: ~ms,text\]/);
      expect(plain.engineOutput).not.toMatch(/3000 => 0/);
      expect(await readFile(target, "utf8")).toBe("one\n");
    },
    ENGINE_TIMEOUT,
  );

  it(
    "Ctrl-C stops the engine as Pulumi does: the step under way finishes and is saved, the next never starts, the stack is left unlocked",
    async () => {
      const target = join(sandbox.dir, "interrupted.txt");
      const stack = await stackOf("interrupted", "one\n", target, 4_000);
      const interrupt = new AbortController();
      const outcome = await runOperation(stack, "up", {
        signal: interrupt.signal,
        // Once the slow resource is being created, the person presses Ctrl-C (here: to amadegi alone).
        onLine: (line) => {
          if (/\+ {2}pulumi-nodejs:dynamic:Resource first creating/.test(line)) interrupt.abort();
        },
      });
      expect(outcome.kind).toBe("interrupted");
      expect(outcome.engineOutput).toMatch(/\^C received; cancelling/);
      expect(await readFile(target, "utf8")).toBe("one\n");
      expect(existsSync(`${target}.second`)).toBe(false);
      // The state holds what was done and the stack is not locked: the next preview runs and creates only the rest.
      const next = await runOperation(stack, "preview");
      expect(next.kind === "done" ? next.changes : {}).toEqual({ same: 2, create: 1 });
      await runOperation(stack, "destroy");
      expect(existsSync(target)).toBe(false);
    },
    ENGINE_TIMEOUT,
  );

  /** Run an up of `name` and kill its engine once the slow resource is being created: a crash part-way. */
  const crashedUp = async (name: string, target: string, checkpoints: "end" | "every-step"): Promise<Stack> => {
    const stack = await openStack(name, {
      workDir: project,
      env: sandbox.env,
      checkpoints,
      program: async () => {
        const a = new FileResource("first", { path: target, text: "one\n" });
        const b = new SlowFile("second", { path: `${target}.second`, text: "one\n", ms: 30_000 }, { dependsOn: a });
        return { path: b.id };
      },
    });
    // Killed while the slow create waits, not while the engine writes a checkpoint: once, on a loaded machine, a kill at the line
    // itself left a per-step checkpoint Pulumi could not load ("failed to load checkpoint: EOF"). That is not what this test is about.
    let timer: NodeJS.Timeout | undefined;
    const up = runOperation(stack, "up", {
      onLine: (line) => {
        if (timer === undefined && /\+ {2}pulumi-nodejs:dynamic:Resource second creating/.test(line)) timer = setTimeout(() => killEngine(name), 2_000);
      },
    });
    await expect(up).rejects.toThrow(/SIGKILL/);
    return stack;
  };

  const resourceNames = async (stack: Stack): Promise<string[]> =>
    ((await stack.exportStack()).deployment as { resources?: { urn: string }[] }).resources?.map((r) => r.urn.split("::").at(-1) ?? "") ?? [];

  it(
    "an engine killed part-way: with checkpoints at the end the state has nothing of the up and its lock is left; the same up, taken over, " +
      "makes every step again and finishes; with a checkpoint per step the state has what ended",
    async () => {
      const target = join(sandbox.dir, "crashed.txt");
      const stack = await crashedUp("crashed", target, "end");
      // The first resource was made, but the state has nothing: the engine writes it at the end.
      expect(await readFile(target, "utf8")).toBe("one\n");
      expect(await resourceNames(stack)).toEqual([]);
      const locks = engineLocks("crashed", sandbox.env);
      expect(locks.map((l) => holderOf(l))).toEqual(["gone"]);

      expect(beforeEngine("crashed", { operation: "up", scope: "all" }, sandbox.env)).toHaveLength(1);
      expect(engineLocks("crashed", sandbox.env)).toEqual([]);
      const finished = await openStack("crashed", {
        workDir: project,
        env: sandbox.env,
        checkpoints: "end",
        program: async () => {
          const a = new FileResource("first", { path: target, text: "one\n" });
          const b = new SlowFile("second", { path: `${target}.second`, text: "one\n", ms: 0 }, { dependsOn: a });
          return { path: b.id };
        },
      });
      const again = await runOperation(finished, "up");
      expect(again.kind === "done" ? again.changes : {}).toEqual({ create: 3 });
      expect(await readFile(`${target}.second`, "utf8")).toBe("one\n");
      const same = await runOperation(finished, "preview", { expectNoChanges: true });
      expect(same.kind).toBe("done");
      await runOperation(finished, "destroy");

      // Pulumi's own way: the state was written as each step ended.
      const perStep = await crashedUp("crashed-per-step", join(sandbox.dir, "per-step.txt"), "every-step");
      expect(await resourceNames(perStep)).toEqual(["amadegi-crashed-per-step", "default", "first"]);
    },
    ENGINE_TIMEOUT,
  );
});

describe("the project's own program through the Automation API", () => {
  const stackName = `test-${process.pid}`;
  const stackFile = join(repoRoot, "stacks", `Pulumi.${stackName}.yaml`);
  let sandbox: Awaited<ReturnType<typeof throwawayEnv>>;

  beforeAll(async () => {
    sandbox = await throwawayEnv();
  });
  afterAll(async () => {
    await rm(stackFile, { force: true });
    await sandbox.cleanup();
  });

  it(
    "keeps stack settings in stacks/ and never writes a stack file at the repository root",
    async () => {
      const rootBefore = (await readdir(repoRoot)).filter((f) => /^Pulumi\..+\.ya?ml$/.test(f));
      const stack = await openStack(stackName, { env: sandbox.env });
      await stack.setConfig("amadegi:environment", { value: "staging" });
      await stack.setConfig("amadegi:probe.allow[0]", { value: "10.0.0.0/8" }, true);
      // The login key the program reads where the stack runs (a preview sends nothing).
      const key = join(sandbox.dir, "deploy_ed25519");
      await writeFile(key, "-----BEGIN OPENSSH PRIVATE KEY-----\nunit\n-----END OPENSSH PRIVATE KEY-----\n", { mode: 0o600 });
      await stack.setConfig("amadegi:ssh.identityFile", { value: key }, true);
      const preview = await stack.preview({ color: "never" });
      // The stack, the PKI and every server of the sample with its roles: nothing is sent in a preview.
      expect(preview.changeSummary.create).toBeGreaterThan(40);

      const written = await readFile(stackFile, "utf8");
      expect(written).toContain("amadegi:environment: staging");
      const rootAfter = (await readdir(repoRoot)).filter((f) => /^Pulumi\..+\.ya?ml$/.test(f));
      expect(rootBefore).toEqual([]);
      expect(rootAfter).toEqual([]);
    },
    ENGINE_TIMEOUT,
  );

  it(
    "fails the preview naming the setting when the stack's environment is wrong",
    async () => {
      const stack = await openStack(stackName, { env: sandbox.env });
      await stack.setConfig("amadegi:environment", { value: "prod" });
      await expect(stack.preview({ color: "never" })).rejects.toThrow(/amadegi:environment is "prod"/);
    },
    ENGINE_TIMEOUT,
  );
});
