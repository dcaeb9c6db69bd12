// Whether `amadegi up`/`destroy` may change a stack, as `pulumi up` decides it: at once with
// --yes, after asking where someone is at a terminal, refused where no one can answer — and the
// refusal comes before anything else is read (no stack file, no engine, no namespace).
import { describe, expect, it } from "vitest";
import { confirmation } from "../../../src/cli/commands/stack.ts";
import { main } from "../../../src/cli/main.ts";
import type { Io } from "../../../src/cli/command.ts";

const env = {};

describe("confirmation", () => {
  it("proceeds with --yes (or Pulumi's PULUMI_SKIP_CONFIRMATIONS), wherever it runs", () => {
    expect(confirmation({ yes: true, interactive: false, json: true, env })).toEqual({ kind: "proceed" });
    for (const skip of ["true", "1", "TRUE"]) {
      expect(confirmation({ yes: false, interactive: false, json: false, env: { PULUMI_SKIP_CONFIRMATIONS: skip } }), skip).toEqual({ kind: "proceed" });
    }
  });

  it("asks on a terminal, and refuses where no one can answer or --json's reader is a program", () => {
    expect(confirmation({ yes: false, interactive: true, json: false, env })).toEqual({ kind: "ask" });
    expect(confirmation({ yes: false, interactive: false, json: false, env: { PULUMI_SKIP_CONFIRMATIONS: "false" } })).toMatchObject({
      kind: "refuse",
      reason: expect.stringMatching(/^--yes must be passed in to proceed when running in non-interactive mode/),
    });
    expect(confirmation({ yes: false, interactive: true, json: true, env })).toMatchObject({ kind: "refuse", reason: expect.stringMatching(/with --json/) });
  });
});

function capture(extra: Partial<Io> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), cwd: process.cwd(), env: { ...process.env, PULUMI_SKIP_CONFIRMATIONS: "" }, ...extra };
  return { io, out, err };
}

describe("amadegi up and destroy without --yes where no one can answer", () => {
  it.each(["up", "destroy"])("%s exits 2 naming --yes before reading the stack (a stack that does not exist)", async (operation) => {
    const { io, out, err } = capture();
    expect(await main([operation, "-s", "organization/amadegi/no-such-stack"], io)).toBe(2);
    expect(out).toEqual([]);
    expect(err.join("\n")).toContain(
      `UsageError: ${operation} of stack no-such-stack: --yes must be passed in to proceed when running in non-interactive mode`,
    );
    expect(err.join("\n")).toContain(`pass --yes (-y) to ${operation} without asking`);
    // With --yes (-y) it goes on, and finds there is no such stack.
    const yes = capture();
    expect(await main([operation, "-s", "no-such-stack", "-y"], yes.io)).toBe(2);
    expect(yes.err.join("\n")).toMatch(/stack no-such-stack has no settings file/);
  });

  it("up --json on a terminal is refused too: its stdout is one document for a program", async () => {
    const { io, err } = capture({ interactive: true, ask: () => Promise.resolve("yes") });
    expect(await main(["up", "--stack", "no-such-stack", "--json"], io)).toBe(2);
    expect(err.join("\n")).toMatch(/--yes must be passed in to proceed with --json/);
  });

  it("-s refuses another project's stack, naming the one in Pulumi.yaml", async () => {
    const { io, err } = capture();
    expect(await main(["up", "-s", "organization/website/rehearsal", "--yes"], io)).toBe(2);
    expect(err.join("\n")).toContain(
      'stack "organization/website/rehearsal" belongs to project "website", but this repository\'s project (Pulumi.yaml) is "amadegi"',
    );
  });
});
