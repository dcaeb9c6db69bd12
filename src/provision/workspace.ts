import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { type EngineEvent, LocalWorkspace, PulumiCommand, type PulumiFn, type Stack } from "@pulumi/pulumi/automation/index.js";
import { ProvisionError, ToolError } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/fs.ts";
import { lineSplitter } from "../lib/lines.ts";
import { engineEnv, ensureBackend, isolateEngineConnections } from "../toolchain/env.ts";
import { which } from "../toolchain/inspect.ts";
import { PULUMI_VERSION } from "../toolchain/pins.ts";
import { type Checkpoints, PROJECT } from "../model/index.ts";
import { repoRoot } from "../toolchain/paths.ts";
import { program as defaultProgram } from "./program.ts";
import { withoutSuperseded } from "./migrate.ts";

export interface StackOptions {
  /** The directory holding Pulumi.yaml (the repository root unless a test says otherwise). */
  readonly workDir?: string;
  readonly program?: PulumiFn;
  readonly env?: NodeJS.ProcessEnv;
  /**
   * When the engine writes the state during an up or destroy (`amadegi:engine.checkpoints`, ADR 0019):
   * `end` sets PULUMI_SKIP_CHECKPOINTS, `every-step` (the default here, Pulumi's own) clears it, so a
   * variable left in the caller's environment never decides.
   */
  readonly checkpoints?: Checkpoints;
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
  isolateEngineConnections();
  return LocalWorkspace.createOrSelectStack(
    { stackName, projectName: PROJECT, program: options.program ?? defaultProgram },
    {
      workDir,
      envVars: { ...engineEnv(env), PULUMI_SKIP_CHECKPOINTS: options.checkpoints === "end" ? "true" : "false" },
      pulumiCommand: pulumi,
      secretsProvider: "passphrase",
    },
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

/**
 * Forget the dynamic-provider program's resources from the stack's state (ADR 0007,
 * src/provision/migrate.ts), so the `@pulumi/command` program takes their files and services over
 * in place instead of deleting them after; the URNs forgotten (none: the state is left alone).
 * With `dryRun`, only say which would be.
 */
export async function forgetSuperseded(stack: Stack, { dryRun = false }: { readonly dryRun?: boolean } = {}): Promise<readonly string[]> {
  const state = await stack.exportStack();
  const { deployment, forgotten } = withoutSuperseded((state.deployment ?? {}) as Record<string, unknown>);
  if (forgotten.length > 0 && !dryRun) await stack.importStack({ ...state, deployment });
  return forgotten;
}

/**
 * The resources a revocation changes (issue 17, ADR 0008): the authority's CRL command and each
 * gateway's command installing it — the targets of `amadegi devices publish`, so a revocation
 * reaches every gateway without the rest of the stack (during the change freeze too). Throws
 * when the stack has no CRL yet (it was never brought up by a program that makes one).
 */
export async function crlTargets(stack: Stack): Promise<string[]> {
  const state = await stack.exportStack();
  const resources = ((state.deployment as { resources?: { urn?: string; type?: string }[] } | undefined)?.resources ?? []).filter(
    (r): r is { urn: string; type: string } => typeof r.urn === "string" && typeof r.type === "string",
  );
  // Made on the pki server (ADR 0008); a stack brought up before that made it on this machine, and needs an up first.
  const authority = resources.filter((r) => r.type === "command:remote:Command" && r.urn.endsWith("::election-crl"));
  if (authority.length === 0)
    throw new ProvisionError(`stack ${stack.name} has no CRL yet: bring it up once with this version (amadegi up), then publish`, {
      hint: "amadegi up --stack NAME",
    });
  const installs = resources.filter((r) => r.type === "command:remote:Command" && r.urn.endsWith("-crl") && !authority.includes(r));
  return [...authority, ...installs].map((r) => r.urn);
}

/** What the engine is asked to do: `preview-destroy` is what a destroy would do, shown before it is asked for. */
export type Operation = "preview" | "up" | "destroy" | "preview-destroy";

/** One step the engine took or would take (its resourcePreEvent): what it does, to which resource, of which type. */
export interface Step {
  readonly op: string;
  readonly urn: string;
  readonly type: string;
}

export interface OperationOptions {
  /** The engine's output, a line at a time, as it comes (the Automation API's onOutput, cut at line breaks). */
  readonly onLine?: (line: string) => void;
  /** The engine's detailed diff of each change (`pulumi preview --diff`). */
  readonly diff?: boolean;
  /** Changes where none were expected end the operation before it changes anything (`--expect-no-changes`): outcome `changes`. */
  readonly expectNoChanges?: boolean;
  /** Aborted (Ctrl-C): the engine stops as Pulumi does on Ctrl-C, and the outcome is `interrupted`. */
  readonly signal?: AbortSignal;
  /** Only these resources (URNs) change (`pulumi up --target`): a revocation's CRL. */
  readonly targets?: readonly string[];
  /** Each step as the engine starts it and as it ends, done or failed (its events): progress. */
  readonly onStep?: (step: Step, moment: StepMoment) => void;
}

/** Where a step is: started (resourcePreEvent), done (resOutputsEvent) or failed (resOpFailedEvent). */
export type StepMoment = "start" | "done" | "failed";

interface Done {
  readonly kind: "done";
  /** The engine's counts by operation (`same` included). */
  readonly changes: Record<string, number>;
  readonly steps: readonly Step[];
  /** An up's stack outputs, a secret one as "[secret]". */
  readonly outputs?: Record<string, unknown>;
  readonly engineOutput: string;
}

/** How an operation ended: done; stopped on request, after the engine stopped; or refused for changes not expected. */
export type OperationOutcome = Done | { readonly kind: "interrupted" | "changes"; readonly steps: readonly Step[]; readonly engineOutput: string };

/**
 * The engine's own answer to a Ctrl-C it received itself (the terminal sends
 * SIGINT to the whole foreground group, the engine included). A second one
 * makes Pulumi terminate at once, leaving operations half done: so amadegi
 * forwards the interruption only when the engine has not said this.
 */
const ENGINE_CANCELLING = /(\^C|SIGTERM) received; cancelling/;
/** How long the engine has to say it received the Ctrl-C itself before amadegi sends it one. */
const ENGINE_ACK_MS = 1_000;

/** The engine's step in an event, if it is the start of one. */
export function stepOf(event: EngineEvent): Step | undefined {
  const step = event.resourcePreEvent?.metadata;
  return step === undefined ? undefined : { op: step.op, urn: step.urn, type: step.type };
}

/** The engine's step in an event, if it is the end of one: done (its outputs) or failed. */
export function stepEndOf(event: EngineEvent): { readonly step: Step; readonly moment: "done" | "failed" } | undefined {
  const done = event.resOutputsEvent?.metadata;
  const ended = done ?? event.resOpFailedEvent?.metadata;
  return ended === undefined ? undefined : { step: { op: ended.op, urn: ended.urn, type: ended.type }, moment: done === undefined ? "failed" : "done" };
}

/** Whether counts name any change (anything but `same`). */
export function hasChanges(changes: Readonly<Record<string, number>>): boolean {
  return Object.entries(changes).some(([op, n]) => op !== "same" && n > 0);
}

/**
 * Run `operation` on `stack`, streaming the engine's output and recording its
 * steps. Ctrl-C (options.signal) is Pulumi's own cancellation: the engine
 * finishes the steps under way, saves the state and unlocks the stack, then
 * exits — only then does this return `interrupted`. (The Automation API's
 * `stack.cancel()` is not that: on the file backend it deletes the stack's
 * lock files under a running engine.) Any other failure is thrown.
 */
export async function runOperation(stack: Stack, operation: Operation, options: OperationOptions = {}): Promise<OperationOutcome> {
  const steps: Step[] = [];
  let output = "";
  let acknowledged = false;
  const lines = lineSplitter((line) => {
    if (ENGINE_CANCELLING.test(line)) acknowledged = true;
    options.onLine?.(line);
  });
  const engine = new AbortController();
  let interrupted = false;
  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    interrupted = true;
    timer = setTimeout(() => acknowledged || engine.abort(), ENGINE_ACK_MS);
  };
  if (options.signal?.aborted === true) return { kind: "interrupted", steps, engineOutput: "" };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const common = {
    color: "never" as const,
    onOutput: (chunk: string) => {
      output += chunk;
      lines.write(chunk);
    },
    onEvent: (event: EngineEvent) => {
      const step = stepOf(event);
      if (step !== undefined) {
        steps.push(step);
        options.onStep?.(step, "start");
      }
      const ended = stepEndOf(event);
      if (ended !== undefined) options.onStep?.(ended.step, ended.moment);
    },
    signal: engine.signal,
    ...(options.diff === true ? { diff: true } : {}),
    ...(options.targets === undefined ? {} : { target: [...options.targets] }),
  };
  const expect = options.expectNoChanges === true ? { expectNoChanges: true } : {};
  try {
    switch (operation) {
      case "preview": {
        const result = await stack.preview({ ...common, ...expect });
        return { kind: "done", changes: result.changeSummary, steps, engineOutput: result.stdout };
      }
      case "preview-destroy": {
        const result = await stack.previewDestroy(common);
        return { kind: "done", changes: result.changeSummary, steps, engineOutput: result.stdout };
      }
      case "up": {
        const result = await stack.up({ ...common, ...expect });
        const outputs = Object.fromEntries(Object.entries(result.outputs).map(([k, v]) => [k, v.secret ? "[secret]" : v.value]));
        return { kind: "done", changes: result.summary.resourceChanges ?? {}, steps, outputs, engineOutput: result.stdout };
      }
      case "destroy": {
        const result = await stack.destroy(common);
        return { kind: "done", changes: result.summary.resourceChanges ?? {}, steps, engineOutput: result.stdout };
      }
    }
    // Never reached: `operation` is one of the four (the compiler does not follow a switch inside try).
    throw new Error(`no operation ${String(operation)}`);
  } catch (error) {
    if (interrupted) return { kind: "interrupted", steps, engineOutput: output };
    // The engine's words for --expect-no-changes refusing (pkg/engine: "no changes were expected but changes were proposed").
    if (options.expectNoChanges === true && /no changes were expected/.test(error instanceof Error ? error.message : String(error)))
      return { kind: "changes", steps, engineOutput: output };
    throw error;
  } finally {
    lines.end();
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
  }
}
