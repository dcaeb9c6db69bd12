import type { Inventory, Link, Station } from "./types.ts";

/**
 * The link rules (ADR 0002, Policies), one home for validate's redundancy
 * policy and the gate's criteria: which links count, a point of presence's
 * chain, a blind spot, a diverse pair.
 */

/** A point of presence's chain: itself, its backhaul, that one's backhaul… (a cycle in the inventory stops the walk). */
export function popChainOf(inv: Inventory, pop: string): string[] {
  const chain: string[] = [];
  for (let id: string | undefined = pop; id !== undefined && !chain.includes(id); id = inv.popsById.get(id)?.backhaul) chain.push(id);
  return chain;
}

/** The points of presence a link depends on: its pop and the pop's backhaul chain. */
export function popChain(inv: Inventory, link: Link): string[] {
  return popChainOf(inv, link.pop);
}

/** A mobile link surveyed below the committee's threshold: it does not count. */
export function isBlindSpot(inv: Inventory, link: Link): boolean {
  return link.medium === "mobile" && link.survey !== undefined && link.survey.signalDbm < inv.election.policy.blindSpotDbm;
}

/** A link that counts toward a station's paths: not retired, not a blind spot. */
export function countingLinks(inv: Inventory, station: Station): Link[] {
  return station.links.filter((l) => l.lifecycle.state !== "retired" && !isBlindSpot(inv, l));
}

/**
 * Why two links are not diverse — the same operator, or a point of presence
 * both depend on — or undefined when they are.
 */
export function sameness(a: Link, b: Link, popsOf: (l: Link) => readonly string[]): string | undefined {
  if (a.operator === b.operator) return `${a.id} and ${b.id} are both ${a.operator}`;
  const other = popsOf(b);
  const shared = popsOf(a).find((p) => other.includes(p));
  return shared === undefined ? undefined : `${a.id} and ${b.id} both depend on ${shared}`;
}

/** The first reason no pair of `links` is diverse, or undefined when one pair is. */
export function noDiversePair(links: readonly Link[], popsOf: (l: Link) => readonly string[]): { reason: string } | undefined {
  let reason = "";
  for (let i = 0; i < links.length; i++) {
    for (let j = i + 1; j < links.length; j++) {
      const a = links[i];
      const b = links[j];
      if (a === undefined || b === undefined) continue;
      const why = sameness(a, b, popsOf);
      if (why === undefined) return undefined;
      if (reason === "") reason = why;
    }
  }
  return { reason };
}

/** popChain, remembered per pop: a national inventory asks for the same few hundred chains. */
export function popChains(inv: Inventory): (link: Link) => readonly string[] {
  const chains = new Map<string, readonly string[]>();
  return (link) => {
    let chain = chains.get(link.pop);
    if (chain === undefined) {
      chain = popChain(inv, link);
      chains.set(link.pop, chain);
    }
    return chain;
  };
}
