// The rehearsal picture's fixtures: the whole sample inventory (copied first, so that edits to
// inventory/ by others never change a run half-way) and statuses as `rehearsal status` reports them.
import { cp, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Inventory, loadInventory } from "../../../src/model/index.ts";
import type { Plan } from "../../../src/rehearsal/plan.ts";
import type { RehearsalStatus } from "../../../src/rehearsal/status.ts";
import { repoRoot } from "../../../src/toolchain/paths.ts";

/** The sample inventory, copied first so that edits to inventory/ by others never change a run half-way. */
export async function sampleModel(): Promise<{ root: string; inventory: Inventory }> {
  const root = await mkdtemp(join(tmpdir(), "amadegi-picture-"));
  await cp(join(repoRoot, "inventory"), join(root, "inventory"), { recursive: true });
  await cp(join(repoRoot, "governance", "committee.yaml"), join(root, "governance", "committee.yaml"));
  const loaded = await loadInventory(join(root, "inventory"));
  if (loaded.inventory === undefined) throw new Error("the sample inventory does not load");
  return { root, inventory: loaded.inventory };
}

/** A status as `rehearsal status` reports a whole rehearsal of `plan`. */
export function wholeStatus(plan: Plan): RehearsalStatus {
  return {
    exists: true,
    whole: true,
    matchesInventory: true,
    marker: { complete: true, startedAt: "2025-01-02T03:04:05.000Z", finishedAt: "2025-01-02T03:05:00.000Z", steps: 40, hash: plan.hash },
    planHash: plan.hash,
    namespaces: plan.namespaces.map((n) => ({ name: n.name, role: n.role, exists: true, problems: [] })),
    strayNamespaces: [],
    servers: plan.servers.map((s, i) => ({ id: s.id, address: s.address, port: s.port, listening: true, pid: 1000 + i, restarts: 0 })),
    supervisor: { pid: 999, alive: true },
    pins: true,
    problems: [],
  };
}

/** The same with mci's namespace gone and two servers' sshd not listening, as status.ts words it. */
export function brokenStatus(plan: Plan): RehearsalStatus {
  const whole = wholeStatus(plan);
  const deaf = new Set(["gw-teh1-01", "dns-teh1-01"]);
  return {
    ...whole,
    whole: false,
    namespaces: whole.namespaces.map((n) => (n.name === "amadegi-r-op-mci" ? { ...n, exists: false, problems: ["does not exist"] } : n)),
    servers: whole.servers.map((s) => (deaf.has(s.id) ? { id: s.id, address: s.address, port: s.port, listening: false } : s)),
    problems: ["namespace amadegi-r-op-mci: does not exist", "2 servers' sshd do not listen: gw-teh1-01, dns-teh1-01"],
  };
}
