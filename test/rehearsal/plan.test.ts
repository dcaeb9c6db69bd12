import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Inventory } from "../../src/model/index.ts";
import { parseIpv4 } from "../../src/model/net.ts";
import { exactCover, formatBlock } from "../../src/model/net.ts";
import { lossPercent, namespaceNames, planRehearsal, PLUMBING_RANGE } from "../../src/rehearsal/plan.ts";
import { pakdashtModel } from "./fixture.ts";

const ip = (text: string): number => parseIpv4(text) ?? Number.NaN;

describe("exactCover", () => {
  const cases: [string, string[], string[]][] = [
    ["nothing", [], []],
    ["one address", ["10.0.0.7"], ["10.0.0.7/32"]],
    ["an aligned run", ["10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.7"], ["10.0.0.4/30"]],
    ["an unaligned run splits", ["10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"], ["10.0.0.3/32", "10.0.0.4/31", "10.0.0.6/32"]],
    ["interleaved operators never swallow each other", ["10.0.0.0", "10.0.0.2", "10.0.0.4"], ["10.0.0.0/32", "10.0.0.2/32", "10.0.0.4/32"]],
    ["duplicates and order do not matter", ["10.0.1.1", "10.0.1.0", "10.0.1.1"], ["10.0.1.0/31"]],
    ["a whole /24", Array.from({ length: 256 }, (_, i) => `10.9.9.${i}`), ["10.9.9.0/24"]],
  ];
  it.each(cases)("%s", (_, addresses, blocks) => {
    expect(exactCover(addresses.map(ip)).map(formatBlock)).toEqual(blocks);
  });
});

describe("link quality", () => {
  it("loss grows as the signal weakens, within 10–50 %", () => {
    expect([-101, -105, -109, -140].map(lossPercent)).toEqual([14, 30, 46, 50]);
    expect(lossPercent(-100.1)).toBe(10);
  });
});

describe("namespace names", () => {
  it("owns only its own role names", () => {
    const r = namespaceNames();
    expect([r.core, r.probe, r.operator("mci")]).toEqual(["amadegi-r-core", "amadegi-r-probe", "amadegi-r-op-mci"]);
    expect(["amadegi-r-core", "amadegi-r-op-tci", "amadegi-r-t12-core", "amadegi-t-x-1", "amadegi-r-other"].map(r.owns)).toEqual([
      true,
      true,
      false,
      false,
      false,
    ]);
    expect(namespaceNames("amadegi-r-t12-").owns("amadegi-r-t12-op-tci")).toBe(true);
    expect(() => namespaceNames("other-")).toThrow(/prefix/);
  });
});

describe("planRehearsal on Pakdasht", () => {
  let root = "";
  let inventory: Inventory;
  beforeAll(async () => {
    ({ root, inventory } = await pakdashtModel());
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("one core, one probe and one namespace per operator; a veth per interconnect", () => {
    const plan = planRehearsal(inventory);
    expect(plan.findings).toEqual([]);
    expect(plan.namespaces.map((n) => n.name)).toEqual([
      "amadegi-r-core",
      "amadegi-r-probe",
      "amadegi-r-op-irancell",
      "amadegi-r-op-mci",
      "amadegi-r-op-rightel",
      "amadegi-r-op-tci",
    ]);
    const interconnects = inventory.operators.reduce((n, o) => n + o.interconnects.length, 0);
    expect(plan.veths).toHaveLength(1 + interconnects);
    expect(plan.servers).toHaveLength(inventory.servers.length);
    // Both ends of every veth are rehearsal namespaces.
    for (const v of plan.veths) expect([v.aNs, v.bNs].every(namespaceNames().owns)).toBe(true);
  });

  it("is deterministic and changes with the inventory", () => {
    const a = planRehearsal(inventory);
    expect(planRehearsal(inventory).hash).toBe(a.hash);
    const moved = { ...inventory, servers: inventory.servers.map((s, i) => (i === 0 ? { ...s, address: "10.10.9.9" } : s)) };
    expect(planRehearsal(moved).hash).not.toBe(a.hash);
  });

  it("the survey's blind spot is down and its weak links are lossy", () => {
    const plan = planRehearsal(inventory);
    const irancell = plan.operators.find((o) => o.id === "irancell");
    expect(irancell?.blind.map((b) => b.link)).toEqual(["PKD-0031-M"]);
    const weak = plan.operators.flatMap((o) => o.weak);
    expect(weak.length).toBeGreaterThan(0);
    expect(weak.every((w) => w.signalDbm < -100 && w.signalDbm >= -110 && w.loss === lossPercent(w.signalDbm))).toBe(true);
    const nft = plan.namespaces.find((n) => n.name === "amadegi-r-op-irancell")?.nft ?? "";
    expect(nft).toContain("elements = { 10.141.0.32 }");
    expect(nft).toMatch(/ip daddr @loss14 numgen random mod 100 < 14 drop/);
  });

  it("the probing namespace routes only into the rehearsal: no default route, nothing outside the inventory", () => {
    const plan = planRehearsal(inventory);
    const probe = plan.namespaces.find((n) => n.role === "probe");
    const routes = (probe?.batch ?? []).filter((l) => l.startsWith("route "));
    expect(routes.length).toBe(plan.reachable.length);
    expect(routes.some((r) => /default|0\.0\.0\.0\/0/.test(r))).toBe(false);
    const known = new Set([
      ...inventory.servers.map((s) => s.address),
      ...inventory.stations.flatMap((s) => s.links.flatMap((l) => (l.address === undefined ? [] : [l.address]))),
    ]);
    let covered = 0;
    for (const block of plan.reachable) {
      const [base, bits] = block.split("/");
      covered += 2 ** (32 - Number(bits));
      expect(known.has(base ?? "")).toBe(true);
    }
    expect(covered).toBe(known.size);
  });

  it("answers only installed and live links, routes every addressed one", () => {
    const plan = planRehearsal(inventory);
    const rightel = plan.operators.find((o) => o.id === "rightel");
    expect(rightel).toMatchObject({ addresses: 1, answering: 0 });
  });

  it("refuses an inventory that uses the plumbing range", () => {
    const bad = { ...inventory, servers: inventory.servers.map((s, i) => (i === 0 ? { ...s, address: "198.18.3.4" } : s)) };
    const plan = planRehearsal(bad);
    expect(plan.findings).toEqual([
      `server ${inventory.servers[0]?.id} has address 198.18.3.4, inside the rehearsal's plumbing range ${PLUMBING_RANGE} ` +
        `(RFC 2544 benchmarking): give it an address outside that range`,
    ]);
  });
});
