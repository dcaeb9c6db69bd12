import { dirname } from "node:path";
import { LocalWorkspace, PulumiCommand, type PulumiFn, type Stack } from "@pulumi/pulumi/automation/index.js";
import { ToolError } from "../lib/errors.ts";
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
