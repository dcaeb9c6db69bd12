// Unit: the program's structure under Pulumi's mocks (no engine, nothing sent).
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { loadInventory } from "../../src/model/index.ts";
import { renderServer } from "../../src/model/render/index.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";

// The dynamic providers' closures cannot be serialised from vitest's transformed
// modules (the engine tests run them for real: test/provision/rehearsal.test.ts);
// here each is a plain custom resource of the same name, so the structure shows.
vi.mock("../../src/provision/dynamic.ts", async () => {
  const { CustomResource } = await import("@pulumi/pulumi");
  const stand = (kind: string, outputs: string[]) =>
    class extends CustomResource {
      constructor(name: string, args: Record<string, unknown>, opts?: pulumi.CustomResourceOptions) {
        super(`amadegi:test:${kind}`, name, { ...args, ...Object.fromEntries(outputs.map((o) => [o, undefined])) }, opts);
      }
    };
  return {
    ServerFiles: stand("ServerFiles", ["hashes"]),
    CertificateAuthority: stand("CertificateAuthority", ["certPem", "keyPem", "notAfter", "fingerprint"]),
    ServerCertificate: stand("ServerCertificate", ["certPem", "keyPem", "notAfter"]),
    DeviceCertificates: stand("DeviceCertificates", ["devices"]),
    LocalFile: stand("LocalFile", []),
  };
});

let program: () => Promise<Record<string, unknown>>;
const created: { type: string; name: string; inputs: Record<string, unknown> }[] = [];

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        created.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown> });
        return { id: `${args.name}-id`, state: { ...args.inputs, hashes: {}, certPem: "CERT", keyPem: "KEY", notAfter: "2027-01-01T00:00:00.000Z" } };
      },
      call: (args) => args.inputs,
    },
    "amadegi",
    "unit",
    true,
  );
  ({ program } = await import("../../src/provision/program.ts"));
});

beforeEach(() => {
  created.length = 0;
});

const staging = {
  "amadegi:environment": "staging",
  "amadegi:inventory": "inventory",
  "amadegi:probe": JSON.stringify({ allow: ["10.0.0.0/8"] }),
  "amadegi:ssh": JSON.stringify({ identityFile: "/etc/amadegi/deploy_ed25519" }),
};

describe("program", () => {
  it("makes the PKI, a certificate per gateway, and per server one component with a ServerFiles resource per role", async () => {
    pulumi.runtime.setAllConfig(staging);
    const outputs = await program();
    await vi.waitFor(() => expect(created.filter((r) => r.type === "amadegi:test:ServerFiles").length).toBeGreaterThanOrEqual(20));
    expect(outputs).toMatchObject({ environment: "staging", inventory: "inventory", stack: "unit" });
    const inventory = (await loadInventory(join(repoRoot, "inventory"))).inventory;
    if (inventory === undefined) throw new Error("the sample inventory does not load");
    const servers = created.filter((r) => r.type === "amadegi:central:Server").map((r) => r.name).sort();
    expect(servers).toEqual(inventory.servers.map((s) => s.id).sort());
    expect(created.filter((r) => r.type === "amadegi:pki:Pki")).toHaveLength(1);
    const of = (kind: string) => created.filter((r) => r.type === `amadegi:test:${kind}`).map((r) => r.name).sort();
    const gateways = inventory.servers.filter((s) => s.roles.includes("gateway"));
    expect(of("CertificateAuthority")).toEqual(["election-ca"]);
    expect(of("ServerCertificate")).toEqual(gateways.map((g) => `election-${g.id}`).sort());
    // One ServerFiles per (server, role) the renderers declare: O(servers × roles), never O(stations).
    const roles = inventory.servers.flatMap((s) => renderServer(inventory, s.id, { root: "", environment: "staging", address: s.address }).map((r) => `${s.id}-${r.role}`));
    expect(of("ServerFiles")).toEqual(roles.sort());
    expect(roles.length).toBeGreaterThanOrEqual(inventory.servers.length);
    expect(roles.length).toBeLessThan(inventory.servers.length * 4);
  });

  it("connects with the inventory's pinned host keys and the configured key file, within the stack's ranges", async () => {
    pulumi.runtime.setAllConfig(staging);
    await program();
    // A gateway's files wait for its certificate: registered once the mocks resolved it.
    await vi.waitFor(() => expect(created.some((r) => r.name === "gw-teh1-01-gateway")).toBe(true));
    const files = created.find((r) => r.name === "gw-teh1-01-gateway");
    expect(files?.inputs.connection).toMatchObject({ host: "10.10.1.11", port: 22, user: "amadegi", identityFile: "/etc/amadegi/deploy_ed25519", allow: ["10.0.0.0/8"] });
    expect(String((files?.inputs.connection as { hostKey?: string }).hostKey)).toMatch(/^ssh-ed25519 AAAA/);
    expect(files?.inputs.root).toBe("");
  });

  it("refuses a stack that declares no ranges, naming the setting", async () => {
    pulumi.runtime.setAllConfig({ ...staging, "amadegi:probe": JSON.stringify({}) });
    await expect(program()).rejects.toThrow("stack unit: amadegi:probe.allow is empty; declare the ranges this stack may reach in stacks/Pulumi.unit.yaml");
  });

  it("refuses a stack with no key to log in with", async () => {
    pulumi.runtime.setAllConfig({ ...staging, "amadegi:ssh": JSON.stringify({}) });
    await expect(program()).rejects.toThrow(/no SSH key to log in with; set amadegi:ssh.identityFile/);
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
