// Unit: forgetting the dynamic-provider program's resources from an exported deployment.
import { describe, expect, it } from "vitest";
import { withoutSuperseded } from "../../src/provision/migrate.ts";

const urn = (type: string, name: string) => `urn:pulumi:rehearsal::amadegi::${type}::${name}`;
const stack = { urn: urn("pulumi:pulumi:Stack", "amadegi-rehearsal"), type: "pulumi:pulumi:Stack" };
const provider = { urn: urn("pulumi:providers:pulumi-nodejs", "default"), type: "pulumi:providers:pulumi-nodejs", custom: true };
const server = { urn: urn("amadegi:central:Server", "gw-1"), type: "amadegi:central:Server", parent: stack.urn };
const files = {
  urn: urn("amadegi:central:Server$pulumi-nodejs:dynamic:Resource", "gw-1-gateway"),
  type: "pulumi-nodejs:dynamic:Resource",
  parent: server.urn,
  provider: `${provider.urn}::id`,
};
const command = {
  urn: urn("amadegi:central:Server$command:remote:Command", "gw-1-gateway"),
  type: "command:remote:Command",
  parent: server.urn,
  dependencies: [files.urn, server.urn],
  propertyDependencies: { create: [files.urn], connection: [] },
  deletedWith: files.urn,
};

describe("forgetting the dynamic-provider program's resources", () => {
  it("drops them and their provider, keeps the components and everything else, and every reference to what it dropped", () => {
    const { deployment, forgotten } = withoutSuperseded({ manifest: { time: "t" }, resources: [stack, provider, server, files, command] });
    expect(forgotten).toEqual([provider.urn, files.urn]);
    expect(deployment.manifest).toEqual({ time: "t" });
    const kept = deployment.resources as Record<string, unknown>[];
    expect(kept.map((r) => r.urn)).toEqual([stack.urn, server.urn, command.urn]);
    const after = kept[2];
    expect(after?.dependencies).toEqual([server.urn]);
    expect(after?.propertyDependencies).toEqual({ create: [], connection: [] });
    expect(after).not.toHaveProperty("deletedWith");
  });

  it("leaves a stack of the @pulumi/command program as it is, and says it forgot nothing", () => {
    const state = { resources: [stack, server, { ...command, dependencies: [server.urn], propertyDependencies: {}, deletedWith: server.urn }] };
    const { deployment, forgotten } = withoutSuperseded(state);
    expect(forgotten).toEqual([]);
    expect(deployment).toEqual(state);
  });

  it("an empty or odd deployment forgets nothing", () => {
    expect(withoutSuperseded({}).forgotten).toEqual([]);
    expect(withoutSuperseded({ resources: [null, 3, { urn: 1 }] }).forgotten).toEqual([]);
  });
});
