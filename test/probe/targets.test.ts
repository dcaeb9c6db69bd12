import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type Inventory, loadInventory } from "../../src/model/index.ts";
import { type Catalog, loadCatalog } from "../../src/probe/catalog/load.ts";
import { buildTargets, parseSelect } from "../../src/probe/targets.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";

let inventory: Inventory;
let catalog: Catalog;

beforeAll(async () => {
  const loaded = await loadInventory(join(repoRoot, "test/probe/fixtures/inventory"));
  if (loaded.inventory === undefined) throw new Error("fixture inventory did not load");
  inventory = loaded.inventory;
  const c = loadCatalog(join(repoRoot, "checks"), { inventory });
  if (c.catalog === undefined) throw new Error("catalog did not load");
  catalog = c.catalog;
});

describe("targets from the inventory and the repository's catalog", () => {
  it("one target per selected server, link with an address, and device link; planned links are not probed", () => {
    const { targets } = buildTargets(inventory, catalog);
    const keys = targets.map((t) => t.key);
    expect(keys.filter((k) => k.startsWith("server-icmp/"))).toHaveLength(5);
    expect(keys.filter((k) => k.startsWith("gateway-https/"))).toEqual(["gateway-https/gw-a", "gateway-https/gw-b"]);
    expect(keys.filter((k) => k.startsWith("link-icmp/"))).toHaveLength(5);
    expect(keys).not.toContain("link-icmp/PKD-0003/PKD-0003-M2");
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("carries the inventory ids, ports and the pinned host key", () => {
    const { targets } = buildTargets(inventory, catalog);
    const byKey = new Map(targets.map((t) => [t.key, t]));
    expect(byKey.get("link-tcp/PKD-0001/PKD-0001-M")).toMatchObject({
      station: "PKD-0001",
      link: "PKD-0001-M",
      district: "pakdasht",
      operator: "mci",
      medium: "mobile",
      address: "127.77.64.1",
      port: 22,
    });
    expect(byKey.get("gateway-https/gw-a")).toMatchObject({
      server: "gw-a",
      address: "127.77.0.1",
      port: 443,
      hostname: "gw-a",
      params: { scheme: "https", path: "/health" },
    });
    expect(byKey.get("server-ssh/dns-a")?.params.hostKey).toMatch(/^ssh-ed25519 AAAA/);
    expect(byKey.get("dns-answers/dns-a")).toMatchObject({ port: 53, params: { name: "auth.election.ir" } });
    expect(byKey.get("device-checkin/PKD-0002/PKD-0002-F")).toMatchObject({ address: "127.77.0.2", port: 22, params: { gateway: "gw-b", serial: "AHV-0002" } });
    // Its secondary gateway is read too: a device that failed over checks in there.
    expect(byKey.get("device-checkin/PKD-0002/PKD-0002-F")?.params).toMatchObject({ secondary: "gw-a", secondaryAddress: "127.77.0.1", secondaryPort: 22 });
  });

  it("dependsOn: a link behind its station's primary gateway, a link's tcp behind its own ping, a server behind its own ping", () => {
    const { targets } = buildTargets(inventory, catalog);
    const byKey = new Map(targets.map((t) => [t.key, t]));
    expect(byKey.get("link-icmp/PKD-0002/PKD-0002-F")?.dependsOn).toEqual(["server-icmp/gw-b"]);
    expect(byKey.get("link-tcp/PKD-0001/PKD-0001-F")?.dependsOn).toEqual(["link-icmp/PKD-0001/PKD-0001-F"]);
    expect(byKey.get("gateway-https/gw-a")?.dependsOn).toEqual(["server-icmp/gw-a"]);
    expect(byKey.get("server-icmp/gw-a")?.dependsOn).toBeUndefined();
  });

  it("an edge to a target that was filtered out is dropped, not left dangling", () => {
    const { targets } = buildTargets(inventory, catalog, parseSelect("check=link-tcp"));
    expect(targets.length).toBe(5);
    expect(targets.every((t) => t.dependsOn === undefined)).toBe(true);
  });
});

describe("a catalog whose checks come before the checks they depend on", () => {
  it("still gets every edge (and no edge to a link an upstream does not select), its targets in the catalog's order", () => {
    const reversed: Catalog = { ...catalog, checks: [...catalog.checks].reverse() };
    const forward = buildTargets(inventory, catalog).targets;
    const { targets } = buildTargets(inventory, reversed);
    const byKey = new Map(targets.map((t) => [t.key, t]));
    expect(byKey.get("link-tcp/PKD-0001/PKD-0001-F")?.dependsOn).toEqual(["link-icmp/PKD-0001/PKD-0001-F"]);
    expect(byKey.get("link-icmp/PKD-0002/PKD-0002-F")?.dependsOn).toEqual(["server-icmp/gw-b"]);
    expect([...new Set(targets.map((t) => t.check))]).toEqual([...new Set(forward.map((t) => t.check))].reverse());
    // Every edge names a target that was built.
    const keys = new Set(targets.map((t) => t.key));
    expect(targets.flatMap((t) => t.dependsOn ?? []).every((k) => keys.has(k))).toBe(true);
    expect(targets.map((t) => t.key).sort()).toEqual(forward.map((t) => t.key).sort());
  });
});

describe("a pins overlay (amadegi:probe.pins)", () => {
  const overlayKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcX";
  const gatewayKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICcnJycnJycnJycnJycnJycnJycnJycnJycnJycnJycn";

  it("its host key and user replace the inventory's in ssh checks and check-in reads", () => {
    const pins = new Map([
      ["dns-a", { hostKey: overlayKey, user: "root" }],
      ["gw-b", { hostKey: gatewayKey, user: "root", address: "127.77.0.2", port: 22 }],
    ]);
    const plain = new Map(buildTargets(inventory, catalog).targets.map((t) => [t.key, t]));
    const pinned = new Map(buildTargets(inventory, catalog, undefined, { pins }).targets.map((t) => [t.key, t]));
    expect(plain.get("server-ssh/dns-a")?.params.hostKey).not.toBe(overlayKey);
    expect(pinned.get("server-ssh/dns-a")?.params).toMatchObject({ hostKey: overlayKey, user: "root" });
    expect(pinned.get("server-ssh/gw-b")?.params).toMatchObject({ hostKey: gatewayKey, user: "root" });
    expect(pinned.get("device-checkin/PKD-0002/PKD-0002-F")?.params).toMatchObject({ gateway: "gw-b", hostKey: gatewayKey, user: "root" });
    // A station whose secondary is gw-b reads it with gw-b's pins too.
    expect(pinned.get("device-checkin/PKD-0001/PKD-0001-F")?.params).toMatchObject({ secondary: "gw-b", secondaryHostKey: gatewayKey, secondaryUser: "root" });
    // A server the overlay does not name keeps the inventory's pin (the model refuses such an overlay for a campaign).
    expect(pinned.get("server-ssh/gw-a")?.params.hostKey).toBe(plain.get("server-ssh/gw-a")?.params.hostKey);
    // Only ssh checks carry a host key.
    expect(pinned.get("server-icmp/dns-a")?.params.hostKey).toBeUndefined();
  });

  it("without a user, the inventory's user stays", () => {
    const pinned = new Map(buildTargets(inventory, catalog, undefined, { pins: new Map([["dns-a", { hostKey: overlayKey }]]) }).targets.map((t) => [t.key, t]));
    expect(pinned.get("server-ssh/dns-a")?.params).toMatchObject({ hostKey: overlayKey, user: inventory.serversById.get("dns-a")?.ssh.user });
  });
});

describe("--select", () => {
  const cases: [string, number][] = [
    ["district=pakdasht", 15],
    ["operator=tci", 6],
    ["operator=tci|mci,check=link-icmp", 5],
    ["check!=server-ssh,server=gw-a|gw-b", 4],
    ["station=PKD-0003", 3],
  ];
  it.each(cases)("%s selects %i targets", (expr, n) => {
    expect(buildTargets(inventory, catalog, parseSelect(expr)).targets).toHaveLength(n);
  });

  it.each([
    ["distrct=x", /unknown key "distrct" \(did you mean "district"\?\)/],
    ["district", /is not KEY=VALUE/],
    [",", /selects nothing/],
  ])("rejects %s", (expr, message) => {
    expect(() => parseSelect(expr)).toThrow(message);
  });
});
