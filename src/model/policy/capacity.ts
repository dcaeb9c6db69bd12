import type { Reporter } from "../report.ts";
import type { Inventory } from "../types.ts";

/**
 * Capacity: stations per gateway within its declared capacity, also when any
 * one other gateway fails (its stations move to their secondaries), and every
 * station's secondary gateway on another site than its primary.
 */
export function checkCapacity(inv: Inventory, report: Reporter): void {
  const primaries = new Map<string, number>();
  // failover.get(G).get(H): stations whose primary is H and secondary is G.
  const failover = new Map<string, Map<string, number>>();
  for (const station of inv.stations) {
    const { primary, secondary } = station.gateways;
    primaries.set(primary, (primaries.get(primary) ?? 0) + 1);
    let from = failover.get(secondary);
    if (from === undefined) {
      from = new Map();
      failover.set(secondary, from);
    }
    from.set(primary, (from.get(primary) ?? 0) + 1);
    const a = inv.serversById.get(primary);
    const b = inv.serversById.get(secondary);
    if (a !== undefined && b !== undefined && (primary === secondary || a.site === b.site)) {
      report(
        "capacity.same-site",
        station.origin,
        ["gateways", "secondary"],
        station.id,
        `station ${station.id}: secondary gateway ${secondary} is on site ${b.site}, the same as primary ${primary}`,
        "assign a secondary gateway on another site, so one site's outage leaves a path",
      );
    }
  }
  for (const server of inv.servers) {
    const capacity = server.capacity?.stations;
    if (capacity === undefined || !server.roles.includes("gateway")) continue;
    const own = primaries.get(server.id) ?? 0;
    if (own > capacity) {
      report(
        "capacity.gateway-overload",
        server.origin,
        ["capacity", "stations"],
        server.id,
        `gateway ${server.id} is the primary of ${own} stations; its capacity is ${capacity}`,
        "move stations to another gateway, or raise and re-measure its capacity",
      );
      continue;
    }
    let worst = 0;
    let worstFrom = "";
    for (const [from, n] of failover.get(server.id) ?? []) {
      if (from !== server.id && n > worst) {
        worst = n;
        worstFrom = from;
      }
    }
    if (own + worst > capacity) {
      report(
        "capacity.failover-overload",
        server.origin,
        ["capacity", "stations"],
        server.id,
        `gateway ${server.id} would serve ${own + worst} stations if ${worstFrom} failed; its capacity is ${capacity}`,
        `spread ${worstFrom}'s secondaries over more gateways`,
      );
    }
  }
}
