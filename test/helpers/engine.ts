import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { LocalWorkspace, PulumiCommand, type PulumiFn, type Stack } from "@pulumi/pulumi/automation/index.js";
import { installCode, registerPlugin } from "../../src/toolchain/commandprovider/install.ts";
import { engineEnv, ensureBackend, isolateEngineConnections } from "../../src/toolchain/env.ts";
import { which } from "../../src/toolchain/inspect.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";
import { COMMAND_PROVIDER_VERSION } from "../../src/toolchain/pins.ts";
import { netnsAvailable } from "./netns.ts";

/**
 * A throwaway Pulumi environment: its own file backend and passphrase in a
 * temp dir, so engine tests never touch the project's state.
 */
export async function throwawayEnv(): Promise<{ dir: string; env: NodeJS.ProcessEnv; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "amadegi-engine-"));
  const passphrase = join(dir, "passphrase");
  await writeFile(passphrase, "throwaway test passphrase\n", { mode: 0o600 });
  const env = { ...process.env, AMADEGI_STATE_DIR: dir, PULUMI_CONFIG_PASSPHRASE_FILE: passphrase };
  return { dir, env, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function pulumiInstalled(): Promise<boolean> {
  return (await which("pulumi", engineEnv().PATH)) !== undefined;
}

/** Why a test that builds a rehearsal and runs the Pulumi engine cannot run here; undefined when it can. */
export async function rehearsalEngineMissing(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return "not root";
  if (!(await netnsAvailable())) return "no network namespaces (iproute2, nftables)";
  if (!(await pulumiInstalled())) return "the Pulumi CLI is not installed (run scripts/setup)";
  return undefined;
}

/** Whether the command provider is registered with Pulumi (setup installs it, or amadegi's stand-in). */
export function commandProviderInstalled(env: NodeJS.ProcessEnv = process.env): boolean {
  const home = env.PULUMI_HOME ?? join(homedir(), ".pulumi");
  return existsSync(join(home, "plugins", `resource-command-v${COMMAND_PROVIDER_VERSION}`, "pulumi-resource-command"));
}

export async function languageHostInstalled(): Promise<boolean> {
  return (await which("pulumi-language-nodejs", engineEnv().PATH)) !== undefined;
}

/**
 * A PULUMI_HOME of its own under `dir` with amadegi's stand-in command provider registered from this
 * checkout's code (its node_modules linked, not installed), so engine tests need no setup. Returns
 * the PULUMI_HOME; the engine takes it from the environment the Automation API inherits.
 */
export async function pulumiHomeWithCommandProvider(dir: string): Promise<string> {
  const env = { ...process.env, AMADEGI_CACHE: join(dir, "cache"), PULUMI_HOME: join(dir, "pulumi-home") };
  const code = await installCode({ node: process.execPath, env, nodeModules: join(repoRoot, "node_modules") });
  const pulumi = await which("pulumi", engineEnv(env).PATH);
  if (pulumi === undefined) throw new Error("no pulumi on the engine's PATH: run scripts/setup");
  await registerPlugin(code.launcher, pulumi, { ...env, ...engineEnv(env) });
  return env.PULUMI_HOME;
}

/**
 * An inline program's stack in a throwaway project under `sandbox.dir`, run by the pinned CLI with
 * the engine's environment and `pulumiHome` (where the plugins are).
 */
export async function inlineStack(sandbox: { dir: string; env: NodeJS.ProcessEnv }, pulumiHome: string, stackName: string, program: PulumiFn): Promise<Stack> {
  const path = await which("pulumi", engineEnv(sandbox.env).PATH);
  if (path === undefined) throw new Error("no pulumi on the engine's PATH: run scripts/setup");
  const project = join(sandbox.dir, "project");
  await mkdir(project, { recursive: true });
  await writeFile(join(project, "Pulumi.yaml"), "name: amadegi-command-test\nruntime: nodejs\n");
  await ensureBackend(sandbox.env);
  isolateEngineConnections();
  return LocalWorkspace.createOrSelectStack(
    { stackName, projectName: "amadegi-command-test", program },
    {
      workDir: project,
      envVars: { ...engineEnv(sandbox.env), PULUMI_HOME: pulumiHome },
      pulumiCommand: await PulumiCommand.get({ root: dirname(dirname(path)) }),
      secretsProvider: "passphrase",
    },
  );
}

/**
 * Kill the Pulumi engine running an `up` or `destroy` of `stack`, and every process under it,
 * with SIGKILL: a crash, as a machine's power loss or the OOM killer would make one (ADR 0019).
 * Returns the engine's pid; throws when no engine of that stack runs.
 */
export function killEngine(stack: string, operation: "up" | "destroy" = "up"): number {
  const all = readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => {
      try {
        const stat = readFileSync(`/proc/${name}/stat`, "utf8");
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        return [{ pid: Number(name), ppid, cmd: readFileSync(`/proc/${name}/cmdline`, "latin1") }];
      } catch {
        return [];
      }
    });
  const engine = all.find((p) => new RegExp(`(^|/)pulumi\\0${operation}\\0`).test(p.cmd) && p.cmd.includes(`\0--stack\0${stack}\0`));
  if (engine === undefined) throw new Error(`no pulumi ${operation} of stack ${stack} runs`);
  const tree = [engine.pid];
  for (let i = 0; i < tree.length; i++) for (const p of all) if (p.ppid === tree[i]) tree.push(p.pid);
  for (const pid of tree) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Ended meanwhile.
    }
  }
  return engine.pid;
}
