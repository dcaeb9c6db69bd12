import { aggregate, type Block, formatBlock, mask, parseCidr, parseIpv4 } from "../net.ts";
import type { Inventory } from "../types.ts";

/**
 * Address ranges the central services answer (DNS access-control, NTP
 * allow), derived from the inventory: a station's link addresses are single
 * addresses, so each is widened to its /24 (the pools operators hand out) and
 * neighbouring /24s are merged into the fewest aligned blocks; mobile
 * operators' carrier-NAT `egress` ranges are added as declared.
 */

/** The prefix a link or server address is widened to. */
export const WIDEN_BITS = 24;

/** The rehearsal's plumbing (docs/rehearsal.md): its probing namespace asks from there. */
export const REHEARSAL_PLUMBING = "198.18.0.0/15";

function widen(address: string): Block | undefined {
  const value = parseIpv4(address);
  return value === undefined ? undefined : { base: (value & mask(WIDEN_BITS)) >>> 0, bits: WIDEN_BITS };
}

const stationRangesOf = new WeakMap<Inventory, readonly string[]>();

/**
 * Where the stations ask from: their links' /24s and the operators' egress ranges. Computed once per
 * inventory: every DNS and NTP server's render asks for the same ranges.
 */
export function stationRanges(inventory: Inventory): string[] {
  let ranges = stationRangesOf.get(inventory);
  if (ranges === undefined) {
    ranges = computeStationRanges(inventory);
    stationRangesOf.set(inventory, ranges);
  }
  return [...ranges];
}

function computeStationRanges(inventory: Inventory): string[] {
  const blocks: Block[] = [];
  for (const station of inventory.stations) {
    for (const link of station.links) {
      if (link.address === undefined) continue;
      const b = widen(link.address);
      if (b !== undefined) blocks.push(b);
    }
  }
  for (const operator of inventory.operators) {
    for (const range of operator.egress) {
      const c = parseCidr(range);
      if (c.ok) blocks.push({ base: c.base, bits: c.bits });
    }
  }
  return aggregate(blocks).map(formatBlock);
}

/** The central sites: every server's /24. */
export function siteRanges(inventory: Inventory): string[] {
  return aggregate(inventory.servers.map((s) => widen(s.address)).filter((b): b is Block => b !== undefined)).map(formatBlock);
}
