import { ExitCode } from "../../lib/exit.ts";
import { UsageError } from "../../lib/errors.ts";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { type Command, type Io, type ParsedArgs, flag, stringOption } from "../command.ts";

const options = { stack: { type: "string", short: "s" }, json: { type: "boolean" } } as const;

function stackName(args: ParsedArgs, command: string): string {
  const name = stringOption(args, "stack");
  if (name === undefined) throw new UsageError(`${command} needs --stack NAME`, { hint: "stacks are the files stacks/Pulumi.<NAME>.yaml" });
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new UsageError(`stack name "${name}" has characters Pulumi does not allow`, { hint: "use letters, digits, _ . -" });
  return name;
}

function report(io: Io, json: boolean, payload: { stack: string; operation: string; changes: Record<string, number>; outputs?: Record<string, unknown> }): void {
  if (json) {
    io.out(JSON.stringify(payload, null, 2));
    return;
  }
  const changes = Object.entries(payload.changes)
    .map(([op, n]) => `${op} ${n}`)
    .join(", ");
  io.out(`${payload.operation} of stack ${payload.stack}: ${changes === "" ? "no changes" : changes}`);
}

type Operation = "preview" | "up" | "destroy";

/** What each operation did, as change counts (and outputs after an up). */
async function perform(operation: Operation, stack: Stack) {
  switch (operation) {
    case "preview":
      return { changes: (await stack.preview({ color: "never" })).changeSummary };
    case "up": {
      const result = await stack.up({ color: "never" });
      const outputs = Object.fromEntries(Object.entries(result.outputs).map(([k, v]) => [k, v.secret ? "[secret]" : v.value]));
      return { changes: result.summary.resourceChanges ?? {}, outputs };
    }
    case "destroy":
      return { changes: (await stack.destroy({ color: "never" })).summary.resourceChanges ?? {} };
  }
}

function stackCommand(operation: Operation, usageDetail: string): Command {
  return {
    name: operation,
    usage: `Usage: amadegi ${operation} --stack NAME [--json]\n\n${usageDetail}`,
    options,
    async run(args, io) {
      const name = stackName(args, operation);
      // The Pulumi SDK takes most of a second to load: only the stack commands pay for it.
      const { openStack } = await import("../../provision/workspace.ts");
      const stack = await openStack(name, { env: io.env });
      report(io, flag(args, "json"), { stack: name, operation, ...(await perform(operation, stack)) });
      return ExitCode.OK;
    },
  };
}

export const preview = stackCommand(
  "preview",
  "Runs the same program as `pulumi preview -s NAME` from the repository root.\nExit: 0 previewed, 2 could not run.",
);
export const up = stackCommand("up", "Exit: 0 provisioned, 2 could not run.");
export const destroy = stackCommand("destroy", "Exit: 0 destroyed, 2 could not run.");
