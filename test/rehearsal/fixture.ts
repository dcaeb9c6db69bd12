// A rehearsal-sized inventory: the sample's Pakdasht district with the real
// operators and servers, copied into a temp dir at the start of a test file
// so that edits to inventory/ by others never change a run half-way.
import { copyFile, mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadInventory } from "../../src/model/index.ts";
import type { Inventory } from "../../src/model/types.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";

export async function pakdashtInventory(): Promise<{ root: string; inventory: string }> {
  const root = await mkdtemp(join(tmpdir(), "amadegi-rehearsal-"));
  const inventory = join(root, "inventory");
  await mkdir(join(inventory, "districts"), { recursive: true });
  await mkdir(join(root, "governance"), { recursive: true });
  for (const file of ["election.yaml", "operators.yaml", "servers.yaml", "waivers.yaml", "districts/pakdasht.yaml"]) {
    await copyFile(join(repoRoot, "inventory", file), join(inventory, file));
  }
  await copyFile(join(repoRoot, "governance", "committee.yaml"), join(root, "governance", "committee.yaml"));
  return { root, inventory };
}

/** The Pakdasht copy, loaded: the temp root (to remove after) and the typed inventory. */
export async function pakdashtModel(): Promise<{ root: string; inventory: Inventory }> {
  const fixture = await pakdashtInventory();
  const loaded = await loadInventory(fixture.inventory);
  if (loaded.inventory === undefined) throw new Error("the Pakdasht fixture does not load");
  return { root: fixture.root, inventory: loaded.inventory };
}
