import { type Inventory, popChainOf, type Server } from "../../model/index.ts";
import { ANSWERING_STATES } from "../plan.ts";

/**
 * What a drill looks at: the links of the stations of one district (or of
 * every district), with the points of presence each depends on, and the
 * central servers. Derived from the inventory alone — the topology the
 * attribution reasons with ("these links share that exchange"), never from
 * what a drill injected.
 */
export interface ScopeLink {
  readonly id: string;
  readonly station: string;
  readonly district: string;
  readonly operator: string;
  readonly medium: string;
  readonly address: string;
  readonly live: boolean;
  /** Its point of presence, then that one's backhaul, and so on: everything whose loss takes it down. */
  readonly pops: readonly string[];
}

export interface Scope {
  readonly district?: string;
  /** Links of the scope's stations that exist (installed or live) and have an address. */
  readonly links: readonly ScopeLink[];
  readonly linksById: ReadonlyMap<string, ScopeLink>;
  /** Station id → its links in the scope. */
  readonly stations: ReadonlyMap<string, readonly ScopeLink[]>;
  /** Operator id → its link ids in the scope. */
  readonly operators: ReadonlyMap<string, readonly string[]>;
  /** PoP id → the link ids that depend on it (directly or through a backhaul chain). */
  readonly pops: ReadonlyMap<string, readonly string[]>;
  /** PoP id → its operator. */
  readonly popOperator: ReadonlyMap<string, string>;
  /** PoP id → how many PoPs lie above it in its backhaul chain (0: it backhauls through nothing). */
  readonly popDepth: ReadonlyMap<string, number>;
  readonly servers: readonly Server[];
  /** Station id → [primary, secondary] gateway. */
  readonly gateways: ReadonlyMap<string, readonly [string, string]>;
}

/** The drill's scope: `district` (an id of the inventory) or every district. */
export function drillScope(inventory: Inventory, district?: string): Scope {
  const links: ScopeLink[] = [];
  const stations = new Map<string, ScopeLink[]>();
  const gateways = new Map<string, readonly [string, string]>();
  for (const station of inventory.stations) {
    if (district !== undefined && station.district !== district) continue;
    gateways.set(station.id, [station.gateways.primary, station.gateways.secondary]);
    const own: ScopeLink[] = [];
    for (const link of station.links) {
      if (link.address === undefined || !ANSWERING_STATES.has(link.lifecycle.state)) continue;
      const entry: ScopeLink = {
        id: link.id,
        station: station.id,
        district: station.district,
        operator: link.operator,
        medium: link.medium,
        address: link.address,
        live: link.lifecycle.state === "live",
        pops: popChainOf(inventory, link.pop),
      };
      links.push(entry);
      own.push(entry);
    }
    stations.set(station.id, own);
  }
  const operators = new Map<string, string[]>();
  const pops = new Map<string, string[]>();
  for (const link of links) {
    operators.set(link.operator, [...(operators.get(link.operator) ?? []), link.id]);
    for (const pop of link.pops) pops.set(pop, [...(pops.get(pop) ?? []), link.id]);
  }
  const popOperator = new Map(inventory.pops.map((p) => [p.id, p.operator]));
  const popDepth = new Map(inventory.pops.map((p) => [p.id, popChainOf(inventory, p.id).length - 1]));
  return {
    ...(district === undefined ? {} : { district }),
    links,
    linksById: new Map(links.map((l) => [l.id, l])),
    stations,
    operators,
    pops,
    popOperator,
    popDepth,
    servers: inventory.servers,
    gateways,
  };
}
