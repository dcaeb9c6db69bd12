import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { LocalWorkspace, PulumiCommand, type PulumiFn, type Stack } from "@pulumi/pulumi/automation/index.js";
import { ToolError } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/fs.ts";
import { engineEnv, ensureBackend } from "../toolchain/env.ts";
import { which } from "../toolchain/inspect.ts";
import { PULUMI_VERSION } from "../toolchain/pins.ts";
import { repoRoot } from "../toolchain/paths.ts";
import { program as defaultProgram } from "./program.ts";

export interface StackOptions {
  /** The directory holding Pulumi.yaml (the repository root unless a test says otherwise). */
  readonly workDir?: string;
  readonly program?: PulumiFn;
  readonly env?: NodeJS.ProcessEnv;
}

/** The pinned Pulumi CLI, as the engine environment finds it. */
export async function pulumiCommand(env: NodeJS.ProcessEnv = process.env): Promise<PulumiCommand> {
  const path = await which("pulumi", engineEnv(env).PATH);
  if (path === undefined) {
    throw new ToolError("the Pulumi CLI is not installed", { hint: "run scripts/setup (it builds pulumi from the Go module proxy)" });
  }
  try {
    // PulumiCommand wants the install root (it runs <root>/bin/pulumi).
    const command = await PulumiCommand.get({ root: dirname(dirname(path)) });
    if (command.version?.toString() !== PULUMI_VERSION) {
      throw new ToolError(`${path} is pulumi ${command.version?.toString() ?? "of no version"}, not ${PULUMI_VERSION}`, { hint: "run scripts/setup" });
    }
    return command;
  } catch (error) {
    if (error instanceof ToolError) throw error;
    throw new ToolError(`${path} could not be used: ${error instanceof Error ? error.message : String(error)}`, { hint: "run scripts/setup", cause: error });
  }
}

/**
 * Open (create or select) a stack of the project's program through the
 * Automation API. Stack settings are never passed through the workspace: the
 * Node SDK would write them as Pulumi.<stack>.yaml in the work dir, ignoring
 * stackConfigDir; the CLI itself reads stacks/ (ADR 0003).
 */
export async function openStack(stackName: string, options: StackOptions = {}): Promise<Stack> {
  const env = options.env ?? process.env;
  const workDir = options.workDir ?? repoRoot;
  const pulumi = await pulumiCommand(env);
  await ensureBackend(env);
  return LocalWorkspace.createOrSelectStack(
    { stackName, projectName: "amadegi", program: options.program ?? defaultProgram },
    { workDir, envVars: engineEnv(env), pulumiCommand: pulumi, secretsProvider: "passphrase" },
  );
}

/**
 * Open a stack, run `work` on it, and leave its settings file as it was.
 *
 * The passphrase secrets provider writes an `encryptionsalt:` line into
 * `stacks/Pulumi.<stack>.yaml` on a machine's first use of a stack (and a new
 * one whenever the line is missing): a per-machine value in a tracked file
 * (pulumi/pulumi#8408). amadegi keeps no secret in stack settings — the
 * secrets (keys the PKI made) live in the state, whose checkpoint carries its
 * own secrets-manager state — so the line is not needed there: when the only
 * change to the file is such a line, the file is put back byte for byte.
 */
export async function withStack<T>(stackName: string, options: StackOptions, work: (stack: Stack) => Promise<T>): Promise<T> {
  const file = join(options.workDir ?? repoRoot, "stacks", `Pulumi.${stackName}.yaml`);
  const before = existsSync(file) ? readFileSync(file, "utf8") : undefined;
  try {
    return await work(await openStack(stackName, options));
  } finally {
    if (before !== undefined && existsSync(file)) {
      const after = readFileSync(file, "utf8");
      const withoutSalt = after
        .split("\n")
        .filter((line) => !line.startsWith("encryptionsalt:"))
        .join("\n");
      if (after !== before && withoutSalt.replace(/\n*$/, "") === before.replace(/\n*$/, "")) await writeFileAtomic(file, before);
    }
  }
}
