import { addDays, type Inventory, midnightIn } from "../model/index.ts";
import type { EvalContext } from "./catalog/evaluate.ts";

/**
 * What conditions need from the inventory when a campaign starts: the end of
 * election day (certificates must outlive it, plus the catalog's margin) and
 * the addresses of each server role (expected DNS answers).
 */
export function evalContext(inventory: Inventory, now: number): EvalContext {
  const byRole = new Map<string, string[]>();
  for (const server of inventory.servers) {
    for (const role of server.roles) {
      const list = byRole.get(role) ?? [];
      list.push(server.address);
      byRole.set(role, list);
    }
  }
  return {
    now,
    electionEnd: midnightIn(addDays(inventory.election.day, 1), inventory.election.timeZone),
    roleAddresses: (role) => byRole.get(role) ?? [],
  };
}
