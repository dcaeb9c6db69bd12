import { lstatSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { markdownCode, markdownCodeBlock, markdownText } from "../../lib/encode.ts";
import { ExitCode } from "../../lib/exit.ts";
import { writeFileAtomic } from "../../lib/fs.ts";
import { ProvisionError, UsageError } from "../../lib/errors.ts";
import { readStackSettings } from "../../probe/stackconfig.ts";
import { readStackFile } from "../../provision/stackfile.ts";
import { changeFreeze } from "../../readiness/freeze.ts";
import { inNetns } from "../../toolchain/netns.ts";
import { repoRoot } from "../../toolchain/paths.ts";
import { defineCommand, type Io, type OptionValues } from "../command.ts";
import { argvOf, reexecInNetns } from "../reexec.ts";
import { displayPath } from "../shared.ts";

const options = {
  stack: { type: "string", short: "s", placeholder: "NAME", description: "the stack: the file stacks/Pulumi.<NAME>.yaml" },
  json: { type: "boolean", description: "print the changes (and an up's outputs) as JSON" },
} as const;
/** Only preview reads another inventory: up and destroy never take one (an unknown option there). */
const previewOptions = {
  ...options,
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

function stackName(name: string | undefined, command: string): string {
  if (name === undefined) throw new UsageError(`${command} needs --stack NAME`, { hint: "stacks are the files stacks/Pulumi.<NAME>.yaml" });
  if (!/^[A-Za-z0-9_.-]+$/.test(name))
    throw new UsageError(`stack name "${name}" has characters Pulumi does not allow`, { hint: "use letters, digits, _ . -" });
  return name;
}

function report(
  io: Io,
  json: boolean,
  payload: { stack: string; operation: string; changes: Record<string, number>; outputs?: Record<string, unknown>; engineOutput?: string },
): void {
  if (json) {
    // The engine's own text is for --markdown; --json is the counts and outputs.
    io.out(JSON.stringify({ ...payload, engineOutput: undefined }, null, 2));
    return;
  }
  const changes = Object.entries(payload.changes)
    .map(([op, n]) => `${op} ${n}`)
    .join(", ");
  io.out(`${payload.operation} of stack ${payload.stack}: ${changes === "" ? "no changes" : changes}`);
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

/** What each operation did, as change counts (and outputs after an up). */
async function perform(operation: Operation, stack: Stack) {
  switch (operation) {
    case "preview": {
      const result = await stack.preview({ color: "never" });
      return { changes: result.changeSummary, engineOutput: result.stdout };
    }
    case "up": {
      const result = await stack.up({ color: "never" });
      const outputs = Object.fromEntries(Object.entries(result.outputs).map(([k, v]) => [k, v.secret ? "[secret]" : v.value]));
      return { changes: result.summary.resourceChanges ?? {}, outputs };
    }
    case "destroy":
      return { changes: (await stack.destroy({ color: "never" })).summary.resourceChanges ?? {} };
  }
}

/** Run `operation` on stack `name` through the Pulumi engine and report what it changed. */
async function runStack(
  operation: Operation,
  name: string,
  values: { readonly json?: boolean | undefined; readonly markdown?: string | undefined },
  inventory: string | undefined,
  io: Io,
): Promise<ExitCode> {
  // The Pulumi SDK takes most of a second to load: only the stack commands pay for it.
  const { withStack } = await import("../../provision/workspace.ts");
  const { programFor } = await import("../../provision/program.ts");
  const program = programFor(inventory === undefined ? {} : { inventory });
  const done = await withStack(name, { env: io.env, program }, (stack) => perform(operation, stack));
  report(io, values.json === true, { stack: name, operation, ...done });
  const { markdown } = values;
  if (markdown !== undefined && "engineOutput" in done) {
    await writeFileAtomic(displayPath(io, markdown), previewMarkdown(name, done.changes, done.engineOutput));
  }
  return ExitCode.OK;
}

export const preview = defineCommand({
  name: "preview",
  synopsis: "amadegi preview --stack NAME [--json] [--markdown FILE] [--inventory DIR]",
  before: ["Runs the same program as `pulumi preview -s NAME` from the repository root.", "Exit: 0 previewed, 2 could not run."],
  options: previewOptions,
  async run(args, io) {
    const name = stackName(args.values.stack, "preview");
    return runStack("preview", name, args.values, inventoryOverride(args.values.inventory, io), io);
  },
});

/** `up` or `destroy`: refused for a production stack in the change freeze without the committee's approval. */
function changeCommand(operation: "up" | "destroy", exit: string) {
  return defineCommand({
    name: operation,
    synopsis: `amadegi ${operation} --stack NAME [--json] [--approvals DIR --results FILE [--milestone ID]]`,
    before: exit,
    options: approvalOptions,
    after: FREEZE_HELP,
    async run(args, io) {
      const name = stackName(args.values.stack, operation);
      await guardFreeze(operation, name, args.values, io);
      // A stack that lives in a namespace (the rehearsal) is provisioned from inside it: its
      // servers' addresses are never sent a packet from the machine's own namespace.
      const netns = readStackSettings(name, join(repoRoot, "stacks")).probe?.netns;
      if (netns !== undefined && !inNetns(netns)) return reexecInNetns(netns, argvOf(operation, args), io);
      return runStack(operation, name, args.values, undefined, io);
    },
  });
}

export const up = changeCommand("up", "Exit: 0 provisioned, 2 could not run.");
export const destroy = changeCommand("destroy", "Exit: 0 destroyed, 2 could not run.");
