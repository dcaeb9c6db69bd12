import { ExitCode } from "../../lib/exit.ts";
import { UsageError } from "../../lib/errors.ts";
import { openStack } from "../../provision/workspace.ts";
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

export const preview: Command = {
  name: "preview",
  summary: "preview a stack's changes through the Pulumi engine (the program of Pulumi.yaml)",
  usage: "Usage: amadegi preview --stack NAME [--json]\n\nRuns the same program as `pulumi preview -s NAME` from the repository root.\nExit: 0 previewed, 2 could not run.",
  options,
  async run(args, io) {
    const name = stackName(args, "preview");
    const stack = await openStack(name, { env: io.env });
    const result = await stack.preview({ color: "never" });
    report(io, flag(args, "json"), { stack: name, operation: "preview", changes: result.changeSummary });
    return ExitCode.OK;
  },
};

export const up: Command = {
  name: "up",
  summary: "provision a stack (Pulumi up through the Automation API)",
  usage: "Usage: amadegi up --stack NAME [--json]\n\nExit: 0 provisioned, 2 could not run.",
  options,
  async run(args, io) {
    const name = stackName(args, "up");
    const stack = await openStack(name, { env: io.env });
    const result = await stack.up({ color: "never" });
    const outputs = Object.fromEntries(Object.entries(result.outputs).map(([k, v]) => [k, v.secret ? "[secret]" : v.value]));
    report(io, flag(args, "json"), { stack: name, operation: "up", changes: result.summary.resourceChanges ?? {}, outputs });
    return ExitCode.OK;
  },
};

export const destroy: Command = {
  name: "destroy",
  summary: "remove everything a stack provisioned",
  usage: "Usage: amadegi destroy --stack NAME [--json]\n\nExit: 0 destroyed, 2 could not run.",
  options,
  async run(args, io) {
    const name = stackName(args, "destroy");
    const stack = await openStack(name, { env: io.env });
    const result = await stack.destroy({ color: "never" });
    report(io, flag(args, "json"), { stack: name, operation: "destroy", changes: result.summary.resourceChanges ?? {} });
    return ExitCode.OK;
  },
};
