// -s/--stack, one option for every command that takes a stack: NAME or Pulumi's
// organization/amadegi/NAME, each parsed by the one stackOption.
import { describe, expect, it } from "vitest";
import { type Command, isGroup, parseCommandArgs } from "../../src/cli/command.ts";
import { commands } from "../../src/cli/commands/index.ts";
import { stackOption } from "../../src/cli/shared.ts";

describe("stackOption", () => {
  it("gives the stack file's name for NAME and organization/amadegi/NAME; refuses none, another project or organization", () => {
    expect(stackOption("rehearsal", "drift")).toBe("rehearsal");
    expect(stackOption("organization/amadegi/rehearsal", "drift")).toBe("rehearsal");
    expect(() => stackOption(undefined, "drift")).toThrow("drift needs --stack NAME");
    expect(() => stackOption("organization/other/rehearsal", "drift")).toThrow(
      /belongs to project "other", but this repository's project \(Pulumi.yaml\) is "amadegi"/,
    );
    expect(() => stackOption("acme/rehearsal", "drift")).toThrow(/organization "acme" is not this backend's/);
  });

  it("every command with --stack takes -s for it", async () => {
    const withStack: Command[] = [];
    for (const entry of commands) {
      const loaded = await entry.load();
      const all = isGroup(loaded) ? loaded.subcommands.map((s) => s.command).filter((c): c is Command => !isGroup(c)) : [loaded];
      withStack.push(...all.filter((c) => "stack" in c.options));
    }
    expect(withStack.map((c) => c.name).sort()).toEqual(["check", "destroy", "devices publish", "devices revoke", "drift", "drill", "export", "preview", "up"]);
    for (const command of withStack) {
      expect(command.options.stack?.short, command.name).toBe("s");
      expect(parseCommandArgs(command, ["-s", "organization/amadegi/rehearsal"]).values.stack, command.name).toBe("organization/amadegi/rehearsal");
      expect(command.usage, command.name).toMatch(/^ {2}--stack, -s NAME /m);
    }
  });
});
