import type { Inventory } from "../types.ts";
import type { RoleRender, ServerTarget } from "./types.ts";

export type * from "./types.ts";

/**
 * What the inventory declares server `serverId` runs, role by role: files and
 * services (first version of the signature; the renderers follow).
 */
export function renderServer(inventory: Inventory, serverId: string, target: ServerTarget): RoleRender[] {
  const server = inventory.serversById.get(serverId);
  if (server === undefined) throw new Error(`renderServer: no server "${serverId}" in the inventory (servers.yaml)`);
  void target;
  return [];
}
