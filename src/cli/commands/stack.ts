import { lstatSync } from "node:fs";
import { join, resolve } from "node:path";
import { logText, markdownCode, markdownCodeBlock, markdownText } from "../../lib/encode.ts";
import { ExitCode } from "../../lib/exit.ts";
import { fraction, lineStream, Progress, type ProgressOptions, spokenDuration } from "../../lib/progress.ts";
import { writeFileAtomic } from "../../lib/fs.ts";
import { ProvisionError, UsageError } from "../../lib/errors.ts";
import { readStackSettings } from "../../probe/stackconfig.ts";
import { readStackFile } from "../../provision/stackfile.ts";
import { changeFreeze } from "../../readiness/freeze.ts";
import { inNetns } from "../../toolchain/netns.ts";
import { repoRoot } from "../../toolchain/paths.ts";
import { defineCommand, type Io, type OptionValues } from "../command.ts";
import { reexecInNetns } from "../reexec.ts";
import type { OperationOutcome, Step, StepMoment } from "../../provision/workspace.ts";
import { displayPath, STACK_FORMS, stackOption } from "../shared.ts";

const options = {
  stack: { type: "string", short: "s", placeholder: "NAME", description: `the stack: the file stacks/Pulumi.<NAME>.yaml (${STACK_FORMS})` },
  json: {
    type: "boolean",
    description:
      "print the changes, each step (op, urn, type) and an up's outputs as one JSON document at the end\n(the engine's output goes to stderr meanwhile)",
  },
  diff: { type: "boolean", description: "show the engine's detailed diff of each change (pulumi --diff)" },
} as const;
const expectOption = {
  "expect-no-changes": { type: "boolean", description: "exit 1, having changed nothing, when there are changes (pulumi --expect-no-changes)" },
} as const;
/** Only preview reads another inventory: up and destroy never take one (an unknown option there). */
const previewOptions = {
  ...options,
  ...expectOption,
  markdown: { type: "string", placeholder: "FILE", description: "also write the preview as markdown (job summary, pull-request comment)" },
  inventory: {
    type: "string",
    placeholder: "DIR",
    description:
      "preview with the inventory in DIR instead of the stack's amadegi:inventory\n" +
      "(a pull request's inventory/ checked out as data); every other setting,\n" +
      "the committee and the code stay the stack's own. Links are not followed.",
  },
} as const;
/** A pull-request comment holds at most 65,536 characters; the engine's output is cut well before. */
const MAX_ENGINE_OUTPUT = 50_000;

/**
 * The preview as markdown, for a job summary and the pull request's comment.
 * The engine's output names resources after the pull request's inventory: it
 * goes into a code block whose fence no run of backticks in it can close
 * (markdownCodeBlock), so nothing of it renders as Markdown or HTML.
 */
export function previewMarkdown(stack: string, changes: Record<string, number>, engineOutput: string): string {
  const rows = Object.entries(changes).map(([op, n]) => `| ${markdownText(op)} | ${markdownText(String(n))} |`);
  const cut = engineOutput.length > MAX_ENGINE_OUTPUT;
  const output = cut ? `${engineOutput.slice(0, MAX_ENGINE_OUTPUT)}\n… (cut: ${engineOutput.length} characters in all)` : engineOutput;
  return [
    `### Pulumi preview of stack ${markdownCode(stack)}`,
    "",
    rows.length === 0 ? "No changes." : ["| change | resources |", "| --- | ---: |", ...rows].join("\n"),
    "",
    "<details><summary>Engine output</summary>",
    "",
    markdownCodeBlock(output.trimEnd()),
    "",
    "</details>",
    "",
  ].join("\n");
}
/** What unlocks a production `up`/`destroy` during the change freeze. */
const approvalOptions = {
  ...options,
  yes: { type: "boolean", short: "y", description: "change without asking first (pulumi --yes): needed where no one is at a terminal" },
  approvals: { type: "string", placeholder: "DIR", description: "the IT committee's signed approvals (amadegi approve; ssh-keygen -Y sign)" },
  results: { type: "string", placeholder: "FILE", description: "the campaign results the approvals name" },
  milestone: { type: "string", placeholder: "ID", description: "the milestone approved (default: the one in force)" },
} as const;

const FREEZE_HELP = [
  "A production stack during the election's change freeze needs a quorum of valid",
  "approvals (as for sign-off) before anything changes; without them this exits 2.",
];

/** Refuse a production change during the freeze unless the committee approved it. */
async function guardFreeze(operation: "up" | "destroy", name: string, values: OptionValues<typeof approvalOptions>, io: Io): Promise<void> {
  const settings = readStackFile(name);
  const path = (value: string | undefined) => (value === undefined ? undefined : displayPath(io, value));
  const approvals = path(values.approvals);
  const results = path(values.results);
  const { milestone } = values;
  const decision = await changeFreeze({
    stack: name,
    environment: settings.environment,
    operation,
    inventory: resolve(repoRoot, settings.inventory),
    ...(approvals === undefined ? {} : { approvals }),
    ...(results === undefined ? {} : { results }),
    ...(milestone === undefined ? {} : { milestone }),
  });
  if (!decision.allowed)
    throw new ProvisionError(decision.reason, {
      file: settings.file,
      hint: "have the committee approve (docs/readiness.md, sign-off), then pass --approvals, --results",
    });
  if (decision.frozen) io.err(`change freeze: ${decision.reason}`);
}

/**
 * Whether `up`/`destroy` may change the stack: at once (--yes, or Pulumi's
 * PULUMI_SKIP_CONFIRMATIONS), after asking the person at the terminal, or
 * not at all — as `pulumi up` refuses where no one can answer, rather than
 * change production unasked. --json's output is for a program: no question.
 */
export function confirmation(given: {
  readonly yes: boolean;
  readonly interactive: boolean;
  readonly json: boolean;
  readonly env: NodeJS.ProcessEnv;
}): { readonly kind: "proceed" | "ask" } | { readonly kind: "refuse"; readonly reason: string } {
  const skip = given.env.PULUMI_SKIP_CONFIRMATIONS;
  if (given.yes || skip === "1" || skip?.toLowerCase() === "true") return { kind: "proceed" };
  if (given.json) return { kind: "refuse", reason: "--yes must be passed in to proceed with --json (its output is for a program: no question is asked)" };
  if (given.interactive) return { kind: "ask" };
  return { kind: "refuse", reason: "--yes must be passed in to proceed when running in non-interactive mode (stdin or stdout is not a terminal)" };
}

/** The confirmation `up`/`destroy` needs here; a refusal is a usage error (exit 2), before anything else is read. */
function confirmed(operation: "up" | "destroy", name: string, values: StackValues, io: Io): { readonly kind: "proceed" | "ask" } {
  const json = values.json === true;
  const confirm = confirmation({ yes: values.yes === true, interactive: io.interactive === true && io.ask !== undefined, json, env: io.env });
  if (confirm.kind === "refuse")
    throw new UsageError(`${operation} of stack ${name}: ${confirm.reason}`, { hint: `pass --yes (-y) to ${operation} without asking` });
  return confirm;
}

/** Counts by operation of the steps, where the engine gave none (it stopped before its summary). */
function countSteps(steps: readonly Step[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { op } of steps) counts[op] = (counts[op] ?? 0) + 1;
  return counts;
}

function report(
  io: Io,
  json: boolean,
  payload: { stack: string; operation: string; changes: Record<string, number>; steps: readonly Step[]; outputs?: Record<string, unknown> },
): void {
  if (json) {
    // The engine's own text is streamed (and --markdown's); --json is the counts, the steps and the outputs.
    io.out(JSON.stringify(payload, null, 2));
    return;
  }
  const changes = Object.entries(payload.changes)
    .map(([op, n]) => `${op} ${n}`)
    .join(", ");
  io.out(`${payload.operation} of stack ${payload.stack}: ${changes === "" ? "no changes" : changes}`);
  const refused = refusedDevices(payload.outputs);
  if (refused !== undefined) io.err(`${payload.operation} of stack ${payload.stack}: ${refused}`);
}

/** How many device requests the PKI refused (the `pki.refused` output, issue 17), with the first few and why; undefined: none. */
export function refusedDevices(outputs: Record<string, unknown> | undefined, shown = 5): string | undefined {
  const pki = outputs?.pki;
  const refused = typeof pki === "object" && pki !== null && "refused" in pki ? pki.refused : undefined;
  if (typeof refused !== "object" || refused === null || !("count" in refused) || typeof refused.count !== "number" || refused.count === 0) return undefined;
  const serials = "serials" in refused && typeof refused.serials === "object" && refused.serials !== null ? Object.entries(refused.serials) : [];
  const named = serials.slice(0, shown).map(([serial, why]) => `${serial} (${typeof why === "string" ? why : "?"})`);
  const more = refused.count > named.length ? `; ${refused.count - named.length} more in the pki.refused output and the issued directory's .refused.json` : "";
  return logText(`${refused.count} device request(s) refused, no certificate: ${named.join("; ")}${more}`);
}

/**
 * `preview --inventory DIR`: the directory, absolute (DIR is absolute or
 * relative to where amadegi was run). A pull request's inventory, checked out
 * as data: it must be a directory of its own, not a link to one elsewhere.
 */
export function inventoryOverride(value: string | undefined, io: Io): string | undefined {
  if (value === undefined) return undefined;
  const dir = resolve(displayPath(io, value));
  let stat;
  try {
    stat = lstatSync(dir);
  } catch {
    throw new UsageError(`--inventory ${value}: no such directory`, { hint: "pass the directory holding election.yaml" });
  }
  if (stat.isSymbolicLink()) throw new UsageError(`--inventory ${value} is a symbolic link`, { hint: "pass the directory itself; links are not followed" });
  if (!stat.isDirectory()) throw new UsageError(`--inventory ${value} is not a directory`, { hint: "pass the directory holding election.yaml" });
  return dir;
}

type Operation = "preview" | "up" | "destroy";

/**
 * amadegi's own line beside the engine's output, on stderr: the steps done so far (of those the
 * preview counted, when one ran first), under way and failed, and for how long — at once as each
 * phase starts (the preview before the question, then the operation) and every 30 s after, so a
 * long `up` in a CI log says how far it got. A plain line wherever it runs (the engine's output
 * interleaves with it); nothing while a question waits for its answer.
 */
export function stackProgress(label: string, io: Pick<Io, "err">, options: ProgressOptions = {}) {
  let progress: Progress | undefined;
  let started = 0;
  let done = 0;
  let failed = 0;
  return {
    /** The engine starts `name` (`preview`, `up`…), of `expected` steps when a preview counted them. */
    phase(name: string, expected?: number): void {
      progress?.stop();
      started = done = failed = 0;
      progress = new Progress(
        lineStream((line) => io.err(line)),
        label,
        ({ elapsedMs }) => {
          // A preview's count is what the engine planned; should it do more, the count is no longer a total.
          const total = expected !== undefined && done + failed <= expected ? expected : undefined;
          const failures = failed > 0 ? `, ${failed} failed` : "";
          return `${fraction(done + failed, total)} steps done, ${started - done - failed} under way${failures}; ${spokenDuration(elapsedMs)}`;
        },
        options,
      );
      progress.phase(`phase: ${name}`);
      progress.start();
    },
    onStep(_step: Step, moment: StepMoment): void {
      if (moment === "start") started++;
      else if (moment === "done") done++;
      else failed++;
    },
    stop(): void {
      progress?.stop();
    },
  };
}

/** What runStack reads of a command's options (preview's, up's or destroy's). */
interface StackValues {
  readonly json?: boolean | undefined;
  readonly diff?: boolean | undefined;
  readonly "expect-no-changes"?: boolean | undefined;
  readonly markdown?: string | undefined;
  readonly yes?: boolean | undefined;
}

const QUESTION = { up: "Do you want to perform this update? (yes/no) ", destroy: "Do you want to perform this destroy? (yes/no) " } as const;

/**
 * Run `operation` on stack `name` through the Pulumi engine, its output
 * streamed as it comes (to stdout; to stderr with --json, whose stdout is
 * one document), and report what it changed. On a terminal, `up`/`destroy`
 * first show the preview and ask (confirmation). Ctrl-C stops the engine as
 * Pulumi stops on it and exits 130 once it has stopped.
 */
async function runStack(
  operation: Operation,
  name: string,
  values: StackValues,
  inventory: string | undefined,
  io: Io,
  scope: "all" | "crl" = "all",
): Promise<ExitCode> {
  const json = values.json === true;
  const expectNoChanges = values["expect-no-changes"] === true;
  const confirm = operation === "preview" ? { kind: "proceed" as const } : confirmed(operation, name, values, io);
  // The Pulumi SDK takes most of a second to load: only the stack commands pay for it.
  const { crlTargets, forgetSuperseded, hasChanges, runOperation, withStack } = await import("../../provision/workspace.ts");
  const { programFor } = await import("../../provision/program.ts");
  const { afterEngine, beforeEngine, markOperation } = await import("../../provision/unfinished.ts");
  const program = programFor(inventory === undefined ? {} : { inventory });
  // An earlier up or destroy whose engine died part-way is finished first, by the same operation (ADR 0019).
  const change = operation === "preview" ? undefined : { operation, scope };
  const checkpoints = readStackFile(name).settings["amadegi:engine"]?.checkpoints ?? "end";
  for (const note of beforeEngine(name, change ?? "preview", io.env)) io.err(`${operation} of stack ${name}: ${note}`);
  const interrupt = new AbortController();
  const onSigint = () => {
    if (!interrupt.signal.aborted) io.err(`${operation} of stack ${name}: interrupted; waiting for the engine to stop cleanly`);
    interrupt.abort();
  };
  const interrupted = () => {
    io.err(`${operation} of stack ${name}: interrupted; the engine stopped (steps under way finished, the state saved)`);
    return ExitCode.INTERRUPTED;
  };
  const progress = stackProgress(`${operation} of stack ${name}`, io);
  const engine = {
    onLine: (line: string) => (json ? io.err(logText(line)) : io.out(logText(line))),
    onStep: progress.onStep,
    ...(values.diff === true ? { diff: true } : {}),
    signal: interrupt.signal,
  };
  process.on("SIGINT", onSigint);
  try {
    const outcome = await withStack(name, { env: io.env, program, checkpoints }, async (stack): Promise<OperationOutcome | "declined"> => {
      // A revocation's publication changes the CRL and its installation on the gateways, nothing else.
      const targets = scope === "crl" ? { targets: await crlTargets(stack) } : {};
      // A preview first where someone is asked, and where an up must change nothing (it then changes nothing at all).
      let expected: number | undefined;
      if (operation !== "preview" && (confirm.kind === "ask" || (operation === "up" && expectNoChanges))) {
        const previewOf = operation === "up" ? "preview" : "preview-destroy";
        progress.phase(previewOf);
        const previewed = await runOperation(stack, previewOf, {
          ...engine,
          ...targets,
          expectNoChanges: operation === "up" && expectNoChanges,
        });
        // No line while the question waits for its answer.
        progress.stop();
        if (previewed.kind !== "done") return previewed;
        expected = previewed.steps.length;
        // As pulumi: nothing to change, nothing to ask.
        if (confirm.kind === "ask" && hasChanges(previewed.changes)) {
          const answer = await io.ask?.(QUESTION[operation]);
          if (interrupt.signal.aborted) return { kind: "interrupted", steps: [], engineOutput: "" };
          if (!/^\s*y(es)?\s*$/i.test(answer ?? "")) return "declined";
        }
      }
      if (operation !== "destroy" && scope === "all") {
        // A stack the dynamic-provider program brought up (ADR 0006): its resources are forgotten, not deleted (ADR 0007).
        const forgotten = await forgetSuperseded(stack, { dryRun: operation === "preview" || expectNoChanges });
        if (forgotten.length > 0)
          io.err(
            operation === "up" && !expectNoChanges
              ? `${operation} of stack ${name}: forgot the ${forgotten.length} resources of the dynamic-provider program (ADR 0006), ` +
                  "not deleted: the @pulumi/command resources take their files and services over in place (ADR 0007)"
              : `${operation} of stack ${name}: ${forgotten.length} resources of the dynamic-provider program (ADR 0006) show as deletes; ` +
                  "amadegi up forgets them instead, and the @pulumi/command resources take their files and services over in place (ADR 0007)",
          );
      }
      progress.phase(operation, expected);
      if (change === undefined) return runOperation(stack, operation, { ...engine, ...targets, expectNoChanges });
      markOperation(name, change, checkpoints, io.env);
      try {
        const ran = await runOperation(stack, operation, { ...engine, ...targets, expectNoChanges: operation !== "destroy" && expectNoChanges });
        afterEngine(name, io.env);
        return ran;
      } catch (error) {
        // An engine that died (killed, crashed) leaves its lock: said plainly, with what finishes its work, instead of its whole output.
        const left = afterEngine(name, io.env);
        if (left === undefined) throw error;
        const lost = checkpoints === "end" ? `the state has nothing this ${operation} did` : "the state holds each step it saved";
        throw new ProvisionError(`${operation} of stack ${name}: its engine ended before writing the state (${lost}); its lock is left`, {
          file: left.file,
          hint: `run the same command again: it takes the lock over and finishes the ${operation} (ADR 0019)`,
          cause: error,
        });
      }
    });
    progress.stop();
    if (outcome === "declined") {
      io.err(`${operation} of stack ${name}: not confirmed; nothing was changed`);
      return ExitCode.CANNOT_RUN;
    }
    if (outcome.kind === "interrupted") return interrupted();
    const changes = outcome.kind === "done" ? outcome.changes : countSteps(outcome.steps);
    report(io, json, {
      stack: name,
      operation,
      changes,
      steps: outcome.steps,
      ...(outcome.kind === "done" && outcome.outputs !== undefined ? { outputs: outcome.outputs } : {}),
    });
    const { markdown } = values;
    if (markdown !== undefined) await writeFileAtomic(displayPath(io, markdown), previewMarkdown(name, changes, outcome.engineOutput));
    if (interrupt.signal.aborted) {
      // The engine finished before the Ctrl-C reached it: what it did is reported above; the person still asked to stop.
      io.err(`${operation} of stack ${name}: interrupted, but the engine had already finished (reported above)`);
      return ExitCode.INTERRUPTED;
    }
    if (outcome.kind === "changes") {
      io.err(`${operation} of stack ${name}: changes where none were expected (--expect-no-changes); nothing was changed`);
      return ExitCode.FINDINGS;
    }
    return ExitCode.OK;
  } catch (error) {
    // A Ctrl-C while the engine was being set up (stack select) ends that command: still an interruption.
    if (interrupt.signal.aborted) return interrupted();
    throw error;
  } finally {
    progress.stop();
    process.removeListener("SIGINT", onSigint);
  }
}

export const preview = defineCommand({
  name: "preview",
  synopsis: "amadegi preview --stack NAME [--diff] [--expect-no-changes] [--json] [--markdown FILE] [--inventory DIR]",
  before: [
    "Runs the same program as `pulumi preview -s NAME` from the repository root, its output as it comes.",
    "Exit: 0 previewed; 1 changes with --expect-no-changes; 2 could not run; 130 interrupted (Ctrl-C).",
  ],
  options: previewOptions,
  async run(args, io) {
    const name = stackOption(args.values.stack, "preview");
    return runStack("preview", name, args.values, inventoryOverride(args.values.inventory, io), io);
  },
});

const CONFIRM_HELP = [
  "On a terminal, it shows the preview and asks before changing anything; --yes (-y) skips the",
  "question, and is needed where no one can answer (a script, CI, --json): without it, exit 2.",
];

/** `up` or `destroy`: asks first (or needs --yes); refused for a production stack in the change freeze without the committee's approval. */
function runChange(operation: "up" | "destroy") {
  return async (args: { readonly values: OptionValues<typeof approvalOptions> & StackValues; readonly argv: readonly string[] }, io: Io): Promise<ExitCode> => {
    const name = stackOption(args.values.stack, operation);
    // As pulumi: --yes where no one can answer, checked before anything else.
    confirmed(operation, name, args.values, io);
    await guardFreeze(operation, name, args.values, io);
    // A stack that lives in a namespace (the rehearsal) is provisioned from inside it: its
    // servers' addresses are never sent a packet from the machine's own namespace.
    const netns = readStackSettings(name, join(repoRoot, "stacks")).probe?.netns;
    if (netns !== undefined && !inNetns(netns)) return reexecInNetns(netns, [operation, ...args.argv], io);
    return runStack(operation, name, args.values, undefined, io);
  };
}

const changeSynopsis = (operation: string, expect: string) =>
  `amadegi ${operation} --stack NAME [--yes] [--diff]${expect} [--json] [--approvals DIR --results FILE [--milestone ID]]`;

/**
 * `devices publish`: the committee's signed revocations onto the CRL, and the CRL onto every
 * gateway (nginx re-reads it), as a targeted up — nothing else of the stack changes, so it is
 * allowed during the change freeze (ADR 0008). Asks first like up (or needs --yes).
 */
export const publish = defineCommand({
  name: "devices publish",
  synopsis: "amadegi devices publish --stack NAME [--yes] [--diff] [--json]",
  before: [
    "Checks every signed revocation of the stack (<state>/revocations/<stack>/), makes the CRL and installs it on every",
    "gateway, whose nginx then refuses those devices. Only the CRL resources change: allowed in the change freeze.",
    "Exit: 0 published; 2 could not run (a revocation not in force, no CRL in the stack yet, not confirmed); 130 interrupted.",
  ],
  options: { ...options, yes: approvalOptions.yes },
  after: CONFIRM_HELP,
  async run(args, io) {
    const name = stackOption(args.values.stack, "devices publish");
    confirmed("up", name, args.values, io);
    const netns = readStackSettings(name, join(repoRoot, "stacks")).probe?.netns;
    if (netns !== undefined && !inNetns(netns)) return reexecInNetns(netns, ["devices", "publish", ...args.argv], io);
    return runStack("up", name, args.values, undefined, io, "crl");
  },
});

export const up = defineCommand({
  name: "up",
  synopsis: changeSynopsis("up", " [--expect-no-changes]"),
  before: "Exit: 0 provisioned; 1 changes with --expect-no-changes (nothing changed); 2 could not run or not confirmed; 130 interrupted.",
  options: { ...approvalOptions, ...expectOption },
  after: [...CONFIRM_HELP, ...FREEZE_HELP],
  run: runChange("up"),
});

export const destroy = defineCommand({
  name: "destroy",
  synopsis: changeSynopsis("destroy", ""),
  before: "Exit: 0 destroyed; 2 could not run or not confirmed; 130 interrupted (Ctrl-C).",
  options: approvalOptions,
  after: [...CONFIRM_HELP, ...FREEZE_HELP],
  run: runChange("destroy"),
});
