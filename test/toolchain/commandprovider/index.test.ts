// amadegi's stand-in for pulumi-resource-command, served to the real Pulumi engine (a throwaway
// backend and PULUMI_HOME) running the unchanged @pulumi/command 1.2.1 SDK's local.Command.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import * as pulumi from "@pulumi/pulumi";
import type { EngineEvent } from "@pulumi/pulumi/automation/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseArgs, PLUGIN_VERSION, STANDIN_VERSION } from "../../../src/toolchain/commandprovider/index.ts";
import { COMMAND_PROVIDER_VERSION } from "../../../src/toolchain/pins.ts";
import { repoRoot } from "../../../src/toolchain/paths.ts";
import { inlineStack, pulumiHomeWithCommandProvider, throwawayEnv } from "../../helpers/engine.ts";

const exec = promisify(execFile);
const ENGINE_TIMEOUT = 180_000;
const ENTRY = join(repoRoot, "src", "toolchain", "commandprovider", "index.ts");

let sandbox: Awaited<ReturnType<typeof throwawayEnv>>;
let home: string;
beforeAll(async () => {
  sandbox = await throwawayEnv();
  home = await pulumiHomeWithCommandProvider(sandbox.dir);
});
afterAll(() => sandbox.cleanup());

/** The file backend's checkpoint of a stack, as written on disk. */
async function checkpoint(stackName: string): Promise<string> {
  return readFile(join(sandbox.dir, "pulumi", ".pulumi", "stacks", "amadegi-command-test", `${stackName}.json`), "utf8");
}

const lines = async (file: string) => (await readFile(file, "utf8").catch(() => "")).split("\n").filter((l) => l !== "");

describe("the plugin itself", () => {
  it("is the version the SDK asks for, and prints its own with -version", async () => {
    expect(PLUGIN_VERSION).toBe(COMMAND_PROVIDER_VERSION);
    const pkg = JSON.parse(await readFile(join(repoRoot, "node_modules", "@pulumi", "command", "package.json"), "utf8")) as { pulumi: { version: string } };
    expect(pkg.pulumi.version).toBe(PLUGIN_VERSION);
    expect((await exec(process.execPath, [ENTRY, "-version"])).stdout).toBe(`${STANDIN_VERSION}\n`);
  });

  it("reads the engine's arguments: glog flags and --tracing before the engine's address", () => {
    expect(parseArgs(["--logtostderr", "-v=9", "--tracing", "http://127.0.0.1:9411", "127.0.0.1:5000"])).toEqual({ version: false, engine: "127.0.0.1:5000" });
  });
});

describe("local.Command through the real engine", () => {
  it(
    "previews without running, creates once, updates with the previous output, replaces on triggers, deletes on destroy",
    async () => {
      const { local } = await import("@pulumi/command");
      const journal = join(sandbox.dir, "journal.txt");
      let spec: { create: string; triggers: string[]; update?: string } = { create: "echo created-1", triggers: ["a"] };
      const stack = await inlineStack(sandbox, home, "local-lifecycle", async () => {
        const c = new local.Command("step", {
          create: `${spec.create} | tee -a ${journal}; echo warn >&2`,
          ...(spec.update === undefined ? {} : { update: `${spec.update} | tee -a ${journal}` }),
          delete: `echo "deleted after [$PULUMI_COMMAND_STDOUT]" >> ${journal}`,
          dir: sandbox.dir,
          stdin: "from stdin",
          environment: { WHO: "amadegi" },
          triggers: spec.triggers,
        });
        return { stdout: c.stdout, stderr: c.stderr, id: c.id };
      });

      const preview = await stack.preview({ color: "never" });
      expect(preview.changeSummary.create).toBe(2);
      expect(preview.stdout).toMatch(/stdout\s*: \[unknown\]/);
      expect(await lines(journal)).toEqual([]);

      const events: EngineEvent[] = [];
      const up = await stack.up({ color: "never", onEvent: (e) => events.push(e) });
      expect(up.outputs.stdout).toEqual({ value: "created-1", secret: false });
      expect(up.outputs.stderr).toEqual({ value: "warn", secret: false });
      expect(String(up.outputs.id?.value)).toMatch(/^step[0-9a-f]{16}$/);
      // Each line of output is logged to the engine as the command runs, as Pulumi's InfoStatus does.
      const logged = events.flatMap((e) => (e.diagnosticEvent?.ephemeral === true ? [e.diagnosticEvent.message.trim()] : []));
      expect(logged).toEqual(expect.arrayContaining(["created-1", "warn"]));

      expect((await stack.up({ color: "never" })).summary.resourceChanges?.same).toBe(2);
      expect(await lines(journal)).toEqual(["created-1"]);

      // A changed command with no `update`: create runs again, in place, seeing the previous stdout.
      spec = { create: 'cat; echo " $WHO $(pwd) was [$PULUMI_COMMAND_STDOUT]"', triggers: ["a"] };
      const updated = await stack.up({ color: "never" });
      expect(updated.summary.resourceChanges?.update).toBe(1);
      expect(updated.outputs.stdout?.value).toBe(`from stdin amadegi ${sandbox.dir} was [created-1]`);
      expect(updated.outputs.id?.value).toBe(up.outputs.id?.value);

      // `update` runs instead of create when given.
      spec = { ...spec, update: "echo updated" };
      expect((await stack.up({ color: "never" })).outputs.stdout?.value).toBe("updated");

      // New triggers replace: the new one is created before the old one is deleted.
      spec = { create: "echo created-2", triggers: ["b"] };
      const replaced = await stack.up({ color: "never" });
      expect(replaced.summary.resourceChanges?.replace).toBe(1);
      expect(replaced.outputs.id?.value).not.toBe(up.outputs.id?.value);
      expect((await lines(journal)).slice(-2)).toEqual(["created-2", "deleted after [updated]"]);

      await stack.destroy({ color: "never" });
      expect((await lines(journal)).at(-1)).toBe("deleted after [created-2]");
    },
    ENGINE_TIMEOUT,
  );

  it(
    "fails a create with the command's exit status and stderr, and records nothing",
    async () => {
      const { local } = await import("@pulumi/command");
      const stack = await inlineStack(sandbox, home, "local-failure", async () => {
        new local.Command("broken", { create: "echo half-done; echo 'no such thing' >&2; exit 7" });
      });
      const failure = await stack.up({ color: "never" }).catch((e: unknown) => e);
      expect(String(failure)).toContain(`exit status 7: running "echo half-done; echo 'no such thing' >&2; exit 7":\n`);
      expect(String(failure)).toContain("no such thing");
      const state = JSON.stringify((await stack.exportStack()).deployment);
      expect(state).not.toContain("command:local:Command");
    },
    ENGINE_TIMEOUT,
  );

  it(
    "keeps a secret input secret, and makes stdout secret only through additionalSecretOutputs, as Pulumi's provider does",
    async () => {
      const { local } = await import("@pulumi/command");
      const token = "tok-3f9a1c-amadegi";
      const stack = await inlineStack(sandbox, home, "local-secrets", async () => {
        const environment = { TOKEN: pulumi.secret(token) };
        const plain = new local.Command("length", { create: 'echo "length ${#TOKEN}"', environment });
        const hidden = new local.Command("echo", { create: 'echo "$TOKEN"', environment }, { additionalSecretOutputs: ["stdout"] });
        return { plain: plain.stdout, hidden: hidden.stdout };
      });
      const up = await stack.up({ color: "never" });
      expect(up.outputs.plain).toEqual({ value: `length ${token.length}`, secret: false });
      expect(up.outputs.hidden).toEqual({ value: token, secret: true });
      // The checkpoint as the backend keeps it (exportStack would decrypt the secrets).
      const state = await checkpoint("local-secrets");
      expect(state).toContain(`length ${token.length}`);
      expect(state).not.toContain(token);
      await stack.destroy({ color: "never" });
    },
    ENGINE_TIMEOUT,
  );

  it(
    "refuses assetPaths in the preview, before anything runs",
    async () => {
      const { local } = await import("@pulumi/command");
      const marker = join(sandbox.dir, "must-not-exist");
      const stack = await inlineStack(sandbox, home, "local-refused", async () => {
        new local.Command("globbed", { create: `touch ${marker}`, assetPaths: ["*.txt"] });
      });
      await expect(stack.preview({ color: "never" })).rejects.toThrow(/assetPaths is not supported by amadegi's stand-in for pulumi-resource-command/);
      await expect(readFile(marker)).rejects.toThrow(/ENOENT/);
    },
    ENGINE_TIMEOUT,
  );
});
