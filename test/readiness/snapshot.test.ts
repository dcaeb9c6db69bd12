// The gate's inventory snapshot: the same verdict as a fresh validation, and a
// miss whenever an inventory file, the committee file or the day changes; a
// damaged snapshot is ignored.
import { appendFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { gate } from "../../src/readiness/gate.ts";
import { loadInventory } from "../../src/model/index.ts";
import { decodeStations, encodeStations, loadForGate } from "../../src/readiness/snapshot.ts";
import { DISTRICT, edit, fixtureCopy, resultsFor } from "./helpers.ts";

const NOW = new Date("2027-02-17T08:00:00Z");

describe("inventory snapshot", () => {
  it("gives the gate the same verdict as a fresh validation", async () => {
    const root = await fixtureCopy();
    const results = await resultsFor(root, { now: NOW, edit: (r) => (r.key === "link-icmp/R-1/R-1-F" ? { ...r, status: "down" } : r) });
    const cacheDir = join(root, "cache");
    const options = { inventory: join(root, "inventory"), results, now: NOW, milestone: "T-7" };
    const fresh = (await gate(options)).result;
    expect((await loadForGate(options.inventory, { cacheDir, today: "2027-02-17" })).fromSnapshot).toBe(false);
    const first = (await gate({ ...options, cacheDir, date: "2027-02-17" })).result;
    const cached = await loadForGate(options.inventory, { cacheDir, today: "2027-02-17" });
    expect(cached.fromSnapshot).toBe(true);
    const second = (await gate({ ...options, cacheDir, date: "2027-02-17" })).result;
    expect(second).toEqual(first);
    expect({ ...second, date: fresh.date }).toEqual(fresh);
    expect(second.milestone.where).toMatch(/election\.yaml:17:5$/);
  });

  it("misses when an inventory file changes, and keeps one snapshot", async () => {
    const root = await fixtureCopy();
    const cacheDir = join(root, "cache");
    const inventory = join(root, "inventory");
    await loadForGate(inventory, { cacheDir, today: "2027-02-17" });
    await edit(
      root,
      DISTRICT,
      "gateways: { primary: gw-a, secondary: gw-b }\n    device: { serial: DEV-1",
      "gateways: { primary: gw-x, secondary: gw-b }\n    device: { serial: DEV-1",
    );
    const changed = await loadForGate(inventory, { cacheDir, today: "2027-02-17" });
    expect(changed.fromSnapshot).toBe(false);
    expect(changed.hardErrorCount).toBe(1);
    const again = await loadForGate(inventory, { cacheDir, today: "2027-02-17" });
    expect(again).toMatchObject({ fromSnapshot: true, hardErrorCount: 1 });
    expect(again.hardErrors[0]?.message).toMatch(/primary gateway "gw-x" — no such server/);
    expect(await readdir(cacheDir)).toHaveLength(2); // one snapshot: its head and its body
    expect((await loadForGate(inventory, { cacheDir, today: "2027-02-18" })).fromSnapshot).toBe(false);
    await appendFile(join(root, "governance/committee.yaml"), "# changed\n");
    expect((await loadForGate(inventory, { cacheDir, today: "2027-02-18" })).fromSnapshot).toBe(false);
  });

  it("codes the sample inventory's 1,415 stations losslessly, and refuses a field it does not know", async () => {
    const { inventory } = await loadInventory(join(import.meta.dirname, "..", "..", "inventory"));
    if (inventory === undefined) throw new Error("the sample inventory does not load");
    const encoded = encodeStations(inventory.stations);
    if (encoded === undefined) throw new Error("not encoded");
    const files = new Map(inventory.districts.flatMap((d) => d.counties.map((c) => [`${d.id}\u0000${c.id}`, c.file] as const)));
    const decoded = decodeStations(JSON.parse(JSON.stringify(encoded)) as typeof encoded, files);
    expect(decoded).toEqual(inventory.stations);
    expect(decoded.some((st) => st.links.some((l) => l.survey?.date !== undefined))).toBe(true);
    expect(decoded.some((st) => st.links.some((l) => l.circuit !== undefined && l.lifecycle.committed !== undefined))).toBe(true);
    const [first, ...rest] = inventory.stations;
    if (first === undefined) throw new Error("no station");
    expect(encodeStations([{ ...first, links: [{ ...first.links[0], vlan: 12 } as unknown as (typeof first.links)[number]] }, ...rest])).toBeUndefined();
    expect(encodeStations([{ ...first, device: { ...first.device, firmware: "1.2" } } as typeof first])).toBeUndefined();
  });

  it("ignores a damaged snapshot", async () => {
    const root = await fixtureCopy();
    const cacheDir = join(root, "cache");
    const inventory = join(root, "inventory");
    await loadForGate(inventory, { cacheDir, today: "2027-02-17" });
    const [name] = await readdir(cacheDir);
    await writeFile(join(cacheDir, name ?? ""), "{ torn");
    const loaded = await loadForGate(inventory, { cacheDir, today: "2027-02-17" });
    expect(loaded.fromSnapshot).toBe(false);
    expect((await loaded.full()).stations).toHaveLength(4);
  });
});
