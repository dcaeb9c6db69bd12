/**
 * IPv4 addresses and CIDRs, strictly: four decimal octets without leading
 * zeros (so `010.1.1.1` is not silently read as octal by some other tool).
 * Addresses are data only: nothing in the model ever sends a packet.
 */
const OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

export function parseIpv4(text: string): number | undefined {
  const m = IPV4.exec(text);
  if (m === null) return undefined;
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

export type CidrResult =
  { readonly ok: true; readonly base: number; readonly bits: number } | { readonly ok: false; readonly reason: string; readonly suggestion?: string };

export function parseCidr(text: string): CidrResult {
  const slash = text.indexOf("/");
  if (slash < 0) return { ok: false, reason: "a CIDR needs a prefix length, e.g. 10.20.0.0/16" };
  const base = parseIpv4(text.slice(0, slash));
  const bitsText = text.slice(slash + 1);
  const bits = /^(3[0-2]|[12]?\d)$/.test(bitsText) ? Number(bitsText) : -1;
  if (base === undefined) return { ok: false, reason: `"${text.slice(0, slash)}" is not an IPv4 address` };
  if (bits < 0) return { ok: false, reason: `"/${bitsText}" is not a prefix length 0–32` };
  if ((base & mask(bits)) >>> 0 !== base) {
    return {
      ok: false,
      reason: "host bits are set",
      suggestion: `${formatIpv4((base & mask(bits)) >>> 0)}/${bits}`,
    };
  }
  return { ok: true, base, bits };
}

/** An aligned CIDR block: the base address (host bits zero) and the prefix length. */
export interface Block {
  readonly base: number;
  readonly bits: number;
}

/** The network mask of a prefix length. */
export function mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

export function cidrContains(cidr: Block, address: number): boolean {
  return (address & mask(cidr.bits)) >>> 0 === cidr.base;
}

function blockContains(outer: Block, inner: Block): boolean {
  return outer.bits <= inner.bits && (inner.base & mask(outer.bits)) >>> 0 === outer.base;
}

export function formatBlock(block: Block): string {
  return `${formatIpv4(block.base)}/${block.bits}`;
}

/**
 * The fewest aligned blocks covering exactly the union of `blocks`, in address
 * order: contained blocks dropped, aligned siblings merged until nothing
 * changes. The one home of this arithmetic: the central services' allow
 * ranges (render/ranges.ts) and the rehearsal's routes (rehearsal/plan.ts).
 */
export function aggregate(blocks: readonly Block[]): Block[] {
  const sorted = [...blocks].sort((a, b) => a.base - b.base || a.bits - b.bits);
  let list: Block[] = [];
  for (const b of sorted) {
    const last = list[list.length - 1];
    if (last !== undefined && blockContains(last, b)) continue;
    list.push(b);
  }
  for (let changed = true; changed;) {
    changed = false;
    const next: Block[] = [];
    for (const b of list) {
      const last = next[next.length - 1];
      if (last !== undefined && last.bits === b.bits && b.bits > 0) {
        const parent = { base: (last.base & mask(b.bits - 1)) >>> 0, bits: b.bits - 1 };
        if (parent.base === last.base && blockContains(parent, b)) {
          next[next.length - 1] = parent;
          changed = true;
          continue;
        }
      }
      next.push(b);
    }
    list = next;
  }
  return list;
}

/**
 * The fewest aligned blocks that hold exactly the given addresses and nothing
 * else: the rehearsal routes and answers these, so a block may never swallow an
 * address the inventory gives to another operator (two mobile operators'
 * stations interleave in the sample's pools).
 */
export function exactCover(addresses: Iterable<number>): Block[] {
  return aggregate([...new Set(addresses)].map((base) => ({ base, bits: 32 })));
}
