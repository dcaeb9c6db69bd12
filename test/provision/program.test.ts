// Unit: the program's structure under Pulumi's mocks (no engine).
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";

let program: () => Promise<Record<string, unknown>>;

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }),
      call: (args) => args.inputs,
    },
    "amadegi",
    "unit",
    true,
  );
  ({ program } = await import("../../src/provision/program.ts"));
});

describe("program", () => {
  it("exports the stack's environment and inventory", async () => {
    pulumi.runtime.setAllConfig({ "amadegi:environment": "staging", "amadegi:inventory": "inventory/tehran" });
    await expect(program()).resolves.toEqual({ environment: "staging", inventory: "inventory/tehran" });
  });

  it("defaults the inventory to ./inventory", async () => {
    pulumi.runtime.setAllConfig({ "amadegi:environment": "rehearsal" });
    await expect(program()).resolves.toEqual({ environment: "rehearsal", inventory: "inventory" });
  });

  it("refuses an unknown environment, naming the stack file to fix", async () => {
    pulumi.runtime.setAllConfig({ "amadegi:environment": "prod" });
    await expect(program()).rejects.toThrow('stack unit: amadegi:environment is "prod"; set it to one of rehearsal, staging, production in stacks/Pulumi.unit.yaml');
  });

  it("requires the environment", async () => {
    pulumi.runtime.setAllConfig({});
    await expect(program()).rejects.toThrow(/amadegi:environment/);
  });
});
