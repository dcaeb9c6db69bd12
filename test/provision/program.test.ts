// Unit: the program's structure under Pulumi's mocks (no engine, nothing sent).
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { inventorySource, type StackConfig } from "../../src/provision/config.ts";
import type { ProgramOptions } from "../../src/provision/program.ts";
import { loadInventory } from "../../src/model/index.ts";
import { renderServer, TLS_FILES } from "../../src/model/render/index.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";
import { certAndKeyPem } from "../helpers/pki.ts";
import { addPkiServer } from "../readiness/helpers.ts";

const created: { type: string; name: string; inputs: Record<string, unknown> }[] = [];
/** Every resource the program registers, recorded; outputs that let the program go on. */
const mocks: pulumi.runtime.Mocks = {
  newResource: (args) => {
    created.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown> });
    // The PKI's commands (ADR 0008: on the pki server, all but the devices' and the CA file's): the CRL, or a certificate and key.
    const pki = args.name.startsWith("election-");
    const stdout = pki ? (args.name === "election-crl" ? "-----BEGIN X509 CRL-----\nunit\n-----END X509 CRL-----\n" : issued) : "";
    return { id: `${args.name}-id`, state: { ...args.inputs, stdout, stderr: "" } };
  },
  call: (args) => args.inputs,
};
/** What the PKI's commands print: a certificate and a key (a real pair: the program reads the certificate's dates). */
let issued = "";
const keyFile = join(tmpdir(), `amadegi-t-login-key-${process.pid}`);
/** This file's state directory: the program writes the copied files' contents under its assets (ADR 0010). */
const stateDir = join(tmpdir(), `amadegi-t-program-state-${process.pid}`);
let program: () => Promise<Record<string, unknown>>;
let programFor: (options?: ProgramOptions) => () => Promise<Record<string, unknown>>;

beforeAll(async () => {
  process.env.AMADEGI_STATE_DIR = stateDir;
  await writeFile(keyFile, "-----BEGIN OPENSSH PRIVATE KEY-----\nunit\n-----END OPENSSH PRIVATE KEY-----\n", { mode: 0o600 });
  issued = await certAndKeyPem();
  await pulumi.runtime.setMocks(mocks, "amadegi", "unit", true);
  ({ program, programFor } = await import("../../src/provision/program.ts"));
});

afterAll(async () => {
  await rm(keyFile, { force: true });
  await rm(stateDir, { recursive: true, force: true });
});

beforeEach(() => {
  created.length = 0;
});

const staging = {
  "amadegi:environment": "staging",
  "amadegi:inventory": "inventory",
  "amadegi:probe": JSON.stringify({ allow: ["10.0.0.0/8"] }),
  "amadegi:ssh": JSON.stringify({ identityFile: keyFile }),
};

describe("program", () => {
  it("makes the PKI on the pki server, and per server one component: per role one CopyToRemote of its files and one remote command", async () => {
    pulumi.runtime.setAllConfig(staging);
    const outputs = await program();
    await vi.waitFor(() => expect(created.filter((r) => r.type === "command:remote:Command").length).toBeGreaterThanOrEqual(20));
    expect(outputs).toMatchObject({ environment: "staging", inventory: "inventory", stack: "unit" });
    const inventory = (await loadInventory(join(repoRoot, "inventory"))).inventory;
    if (inventory === undefined) throw new Error("the sample inventory does not load");
    const servers = created
      .filter((r) => r.type === "amadegi:central:Server")
      .map((r) => r.name)
      .sort();
    expect(servers).toEqual(inventory.servers.map((s) => s.id).sort());
    expect(created.filter((r) => r.type === "amadegi:pki:Pki")).toHaveLength(1);
    const of = (type: string) =>
      created
        .filter((r) => r.type === type)
        .map((r) => r.name)
        .sort();
    const gateways = inventory.servers.filter((s) => s.roles.includes("gateway"));
    // The staging stack names no caFile and no devices: nothing of the PKI runs on this machine.
    expect(of("command:local:Command")).toEqual([]);
    const pki = created.filter((r) => r.type === "command:remote:Command" && r.name.startsWith("election-"));
    // On the pki server: the authority, a certificate per gateway, and the CRL; nothing that carries the authority's key in.
    expect(pki.map((r) => r.name).sort()).toEqual(["election-ca", "election-crl", ...gateways.map((g) => `election-${g.id}`)].sort());
    for (const command of pki) {
      const { value } = command.inputs.connection as { value?: Record<string, unknown> };
      expect(value, command.name).toMatchObject({ host: "10.10.0.40" });
      expect(JSON.stringify(command.inputs.stdin ?? "")).not.toContain("PRIVATE KEY");
      expect(String(command.inputs.create)).toContain("P=var/lib/amadegi/pki");
    }
    const renders = inventory.servers.flatMap((s) => renderServer(inventory, s.id, { root: "", environment: "staging", address: s.address }));
    // One command per (server, role) the renderers declare: O(servers × roles), never O(stations); one per gateway installing the CRL;
    // one per monitor making the waivers' silences.
    const monitorIds = inventory.servers.filter((s) => s.roles.includes("monitor")).map((s) => `${s.id}-silences`);
    expect(of("command:remote:Command").filter((n) => !n.startsWith("election-"))).toEqual(
      [...renders.map((r) => `${r.server}-${r.role}`), ...gateways.map((g) => `${g.id}-crl`), ...monitorIds].sort(),
    );
    // One copy per role, of its rendered files and the PKI's public ones (ADR 0012): O(servers × roles), never O(files).
    await vi.waitFor(() => expect(of("command:remote:CopyToRemote")).toEqual(renders.map((r) => `${r.server}-${r.role}-files`).sort()));
    expect(renders.length).toBeLessThan(inventory.servers.length * 4);
  });

  it("copies a role's files as one archive in the stack's store, each file at its path: the checkpoint holds its hash and path, never its bytes", async () => {
    pulumi.runtime.setAllConfig(staging);
    await program();
    const inventory = (await loadInventory(join(repoRoot, "inventory"))).inventory;
    if (inventory === undefined) throw new Error("the sample inventory does not load");
    const gateway = "gw-teh1-01";
    const renders = renderServer(inventory, gateway, { root: "", environment: "staging", address: "10.10.1.11" });
    const files = renders.flatMap((r) => r.files);
    await vi.waitFor(() => expect(created.some((r) => r.name === `${gateway}-gateway-files`)).toBe(true));
    const copy = created.find((r) => r.name === `${gateway}-gateway-files`);
    expect(copy?.inputs.remotePath).toBe("/");
    const source = (await copy?.inputs.source) as { path?: unknown; text?: unknown; assets?: unknown } | undefined;
    const tree = String(await source?.path);
    // The directory's contents, not the directory: pulumi-command copies a path ending in "/" into remotePath.
    expect(tree).toMatch(new RegExp(`^${join(stateDir, "assets", "unit")}/tree-[0-9a-f]{64}/$`));
    expect(source?.text).toBeUndefined();
    expect(source?.assets).toBeUndefined();
    for (const file of files) expect(await readFile(join(tree, file.path), "utf8"), file.path).toBe(file.content);
    // The PKI's public files ride in the same archive; the gateway's key does not (it goes on stdin).
    expect(await readFile(join(tree, TLS_FILES.serverCert), "utf8")).toContain("BEGIN CERTIFICATE");
    await expect(readFile(join(tree, TLS_FILES.serverKey), "utf8")).rejects.toThrow("ENOENT");
    // The gateway's device table is the one that grows with the stations: its bytes are in the store, not in any input.
    const links = files.find((f) => f.path.endsWith("/links.json"));
    expect(links?.content.length).toBeGreaterThan(1000);
    const inputs = JSON.stringify(created.filter((r) => r.name.startsWith(gateway)).map((r) => r.inputs));
    expect(inputs).not.toContain(links?.content.slice(0, 200));
  });

  it("writes a stored archive again when a file in it no longer matches", async () => {
    pulumi.runtime.setAllConfig(staging);
    await program();
    await vi.waitFor(() => expect(created.some((r) => r.name === "dns-teh1-01-dns-files")).toBe(true));
    const source = (await created.find((r) => r.name === "dns-teh1-01-dns-files")?.inputs.source) as { path?: unknown };
    const tree = String(await source.path);
    const [first] = (await readdir(tree, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    const victim = join(first?.parentPath ?? "", first?.name ?? "");
    const good = await readFile(victim, "utf8");
    await writeFile(victim, "tampered");
    created.length = 0;
    await program();
    await vi.waitFor(() => expect(created.some((r) => r.name === "dns-teh1-01-dns-files")).toBe(true));
    await vi.waitFor(async () => expect(await readFile(victim, "utf8")).toBe(good));
  });

  it("connects with the pinned host key and the login key's content as a secret; the gateway's key goes on stdin, never as an asset", async () => {
    pulumi.runtime.setAllConfig(staging);
    await program();
    // A gateway's command waits for its certificate: registered once the mocks resolved it.
    await vi.waitFor(() => expect(created.some((r) => r.name === "gw-teh1-01-gateway")).toBe(true));
    const role = created.find((r) => r.name === "gw-teh1-01-gateway");
    // @pulumi/command sends the whole connection as a secret.
    const secret = role?.inputs.connection as { "4dabf18193072939515e22adb298388d"?: string; value?: Record<string, unknown> };
    expect(secret["4dabf18193072939515e22adb298388d"]).toBe("1b47061264138c4ac30d75fd1eb44270");
    expect(secret.value).toMatchObject({ host: "10.10.1.11", port: 22, user: "amadegi" });
    const connection = secret.value as { hostKey?: string; privateKey?: unknown };
    expect(String(connection.hostKey)).toMatch(/^ssh-ed25519 AAAA/);
    // The key's content, never its path: the state must not point into one machine's files.
    expect(JSON.stringify(connection.privateKey)).toContain("BEGIN OPENSSH PRIVATE KEY");
    expect(JSON.stringify(role?.inputs)).not.toContain(keyFile);
    expect(JSON.stringify(role?.inputs.stdin)).toContain("BEGIN PRIVATE KEY");
    expect(String(role?.inputs.create)).toContain("cd '/'");
    expect(String(role?.inputs.create)).not.toContain("PRIVATE KEY");
    for (const copy of created.filter((r) => r.type === "command:remote:CopyToRemote")) expect(JSON.stringify(copy.inputs.source)).not.toContain("PRIVATE KEY");
  });

  it("refuses a key file it cannot read, naming the setting", async () => {
    pulumi.runtime.setAllConfig({ ...staging, "amadegi:ssh": JSON.stringify({ identityFile: "/nonexistent/amadegi-key" }) });
    await expect(program()).rejects.toThrow("stack unit: cannot read the SSH key /nonexistent/amadegi-key (ENOENT); fix amadegi:ssh.identityFile");
  });

  it("refuses a stack that declares no ranges, naming the setting", async () => {
    pulumi.runtime.setAllConfig({ ...staging, "amadegi:probe": JSON.stringify({}) });
    await expect(program()).rejects.toThrow("stack unit: amadegi:probe.allow is empty; declare the ranges this stack may reach in stacks/Pulumi.unit.yaml");
  });

  it("refuses a server outside the stack's ranges before registering anything, even in a preview, naming the server and the setting", async () => {
    pulumi.runtime.setAllConfig({ ...staging, "amadegi:probe": JSON.stringify({ allow: ["192.0.2.0/24"] }) });
    await expect(program()).rejects.toThrow(
      new RegExp(
        "^server [a-z0-9-]+: 10\\.[0-9.]+ is outside the ranges this stack may reach \\(192\\.0\\.2\\.0/24\\); " +
          "nothing was sent — fix amadegi:probe\\.allow or the inventory$",
      ),
    );
    expect(created.filter((r) => r.type === "amadegi:central:Server")).toEqual([]);
  });

  it("previews a namespaced stack from outside its namespace: a preview connects to nothing", async () => {
    pulumi.runtime.setAllConfig({ ...staging, "amadegi:probe": JSON.stringify({ allow: ["10.0.0.0/8"], netns: "amadegi-t-nowhere" }) });
    await expect(program()).resolves.toMatchObject({ stack: "unit" });
  });

  it("refuses a stack with no key to log in with", async () => {
    pulumi.runtime.setAllConfig({ ...staging, "amadegi:ssh": JSON.stringify({}) });
    await expect(program()).rejects.toThrow(/no SSH key to log in with; set amadegi:ssh.identityFile/);
  });

  it("refuses an unknown environment, naming the stack file to fix", async () => {
    pulumi.runtime.setAllConfig({ "amadegi:environment": "prod" });
    await expect(program()).rejects.toThrow(
      'stack unit: amadegi:environment is "prod"; set it to one of rehearsal, staging, production in stacks/Pulumi.unit.yaml',
    );
  });

  it("requires the environment", async () => {
    pulumi.runtime.setAllConfig({});
    await expect(program()).rejects.toThrow(/amadegi:environment/);
  });
});

describe("an inventory override (amadegi preview --inventory: a pull request's inventory as data)", () => {
  const config: StackConfig = { stack: "unit", environment: "staging", inventory: "inventory", allow: ["10.0.0.0/8"] };
  const stackCommittee = join(repoRoot, "governance", "committee.yaml");
  let pr: string;

  beforeAll(async () => {
    // What preview.yml checks out into pr-data/: inventory/ (here the small fixture) and, were
    // a pull request to bring one, a governance/ of its own beside it, which must not be read.
    pr = await mkdtemp(join(tmpdir(), "amadegi-pr-data-"));
    await cp(join(repoRoot, "test", "fixtures", "inventory", "minimal", "inventory"), join(pr, "inventory"), { recursive: true });
    await mkdir(join(pr, "governance"));
    await writeFile(join(pr, "governance", "committee.yaml"), "committee: not a committee\n");
  });
  afterAll(async () => {
    await rm(pr, { recursive: true, force: true });
  });

  it("without one, the stack's amadegi:inventory, relative to the repository root, and its committee", () => {
    expect(inventorySource(config)).toEqual({ dir: join(repoRoot, "inventory"), committeeFile: stackCommittee, shown: "inventory" });
    expect(inventorySource({ ...config, inventory: "/srv/inv/inventory" })).toEqual({
      dir: "/srv/inv/inventory",
      committeeFile: "/srv/inv/governance/committee.yaml",
      shown: "/srv/inv/inventory",
    });
  });

  it("with one, that directory, but the committee stays the stack's own", () => {
    expect(inventorySource(config, join(pr, "inventory"))).toEqual({ dir: join(pr, "inventory"), committeeFile: stackCommittee, shown: join(pr, "inventory") });
  });

  it("refuses a relative override (the CLI resolves it against the caller's directory)", () => {
    expect(() => inventorySource(config, "pr-data/inventory")).toThrow("stack unit: the inventory override pr-data/inventory is not an absolute path");
  });

  it("refuses an inventory with no pki server, naming the fix: the election's CA lives on it", async () => {
    pulumi.runtime.setAllConfig(staging);
    await expect(programFor({ inventory: join(pr, "inventory") })()).rejects.toThrow(
      "stack unit: no server has role pki in servers.yaml; the election's CA is made on it and its key never leaves it: declare one",
    );
  });

  it("the program reads the override's servers, not the stack's inventory, and exports the stack's setting", async () => {
    pulumi.runtime.setAllConfig(staging);
    // The pull request's inventory with a pki server (the small fixture has none).
    const withPki = join(pr, "with-pki");
    await cp(join(pr, "inventory"), withPki, { recursive: true });
    await addPkiServer(withPki);
    const outputs = await programFor({ inventory: withPki })();
    await vi.waitFor(() => expect(created.filter((r) => r.type === "command:remote:Command").length).toBeGreaterThanOrEqual(3));
    const servers = created
      .filter((r) => r.type === "amadegi:central:Server")
      .map((r) => r.name)
      .sort();
    expect(servers).toEqual(["dns-a", "gw-a", "gw-b", "pki-a"]);
    expect(outputs).toMatchObject({ environment: "staging", inventory: "inventory", stack: "unit" });
  });

  it("without the override the same program reads the stack's inventory (so the assertion above can fail)", async () => {
    pulumi.runtime.setAllConfig(staging);
    await programFor()();
    await vi.waitFor(() => expect(created.filter((r) => r.type === "amadegi:central:Server").length).toBeGreaterThan(3));
  });

  it("an override with errors names the directory and the findings", async () => {
    pulumi.runtime.setAllConfig(staging);
    const broken = join(pr, "broken");
    await cp(join(pr, "inventory"), broken, { recursive: true });
    await writeFile(join(broken, "servers.yaml"), "servers: [\n");
    await expect(programFor({ inventory: broken })()).rejects.toThrow(
      new RegExp(`^stack unit: the inventory ${broken} has 1 error\\(s\\); run amadegi validate:\n${broken}/servers.yaml:`),
    );
  });
});

// Last in the file: the mocks are set again, for an update rather than a preview.
describe("the program outside a preview", () => {
  beforeAll(async () => {
    await pulumi.runtime.setMocks(
      { newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }), call: (args) => args.inputs },
      "amadegi",
      "unit",
      false,
    );
  });
  afterAll(async () => {
    await pulumi.runtime.setMocks(
      { newResource: (args) => ({ id: `${args.name}-id`, state: { ...args.inputs, stdout: "", stderr: "" } }), call: (args) => args.inputs },
      "amadegi",
      "unit",
      true,
    );
  });

  it("refuses a namespaced stack run from outside its namespace before registering anything: its servers' addresses are the real network's", async () => {
    pulumi.runtime.setAllConfig({ ...staging, "amadegi:probe": JSON.stringify({ allow: ["10.0.0.0/8"], netns: "amadegi-t-nowhere" }) });
    created.length = 0;
    await expect(program()).rejects.toThrow(/must run inside network namespace amadegi-t-nowhere \(amadegi up re-runs itself there\); nothing was sent$/);
    expect(created).toEqual([]);
  });
});
