import { formatIpv4, parseCidr, parseIpv4 } from "../net.ts";
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

interface Block {
  readonly base: number;
  readonly bits: number;
}

function mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

function widen(address: string): Block | undefined {
  const value = parseIpv4(address);
  return value === undefined ? undefined : { base: (value & mask(WIDEN_BITS)) >>> 0, bits: WIDEN_BITS };
}

function contains(outer: Block, inner: Block): boolean {
  return outer.bits <= inner.bits && ((inner.base & mask(outer.bits)) >>> 0) === outer.base;
}

/** The fewest aligned CIDR blocks covering exactly the union of `blocks`, in address order. */
export function aggregate(blocks: readonly Block[]): string[] {
  const sorted = [...blocks].sort((a, b) => a.base - b.base || a.bits - b.bits);
  let list: Block[] = [];
  for (const b of sorted) {
    const last = list[list.length - 1];
    if (last !== undefined && contains(last, b)) continue;
    list.push(b);
  }
  // Merge aligned siblings until nothing changes.
  for (let changed = true; changed; ) {
    changed = false;
    const next: Block[] = [];
    for (const b of list) {
      const last = next[next.length - 1];
      if (last !== undefined && last.bits === b.bits && b.bits > 0) {
        const parent = { base: (last.base & mask(b.bits - 1)) >>> 0, bits: b.bits - 1 };
        if (parent.base === last.base && contains(parent, b)) {
          next[next.length - 1] = parent;
          changed = true;
          continue;
        }
      }
      next.push(b);
    }
    list = next;
  }
  return list.map((b) => `${formatIpv4(b.base)}/${b.bits}`);
}

/** Where the stations ask from: their links' /24s and the operators' egress ranges. */
export function stationRanges(inventory: Inventory): string[] {
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
  return aggregate(blocks);
}

/** The central sites: every server's /24. */
export function siteRanges(inventory: Inventory): string[] {
  return aggregate(inventory.servers.map((s) => widen(s.address)).filter((b): b is Block => b !== undefined));
}
