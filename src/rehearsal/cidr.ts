import { formatIpv4 } from "../model/net.ts";

export interface Block {
  readonly base: number;
  readonly bits: number;
}

/**
 * The fewest aligned CIDR blocks that hold exactly the given addresses and
 * nothing else. The rehearsal routes and answers these blocks, so a block may
 * never swallow an address the inventory gives to another operator (two mobile
 * operators' stations interleave in the sample's pools).
 */
export function exactCover(addresses: Iterable<number>): Block[] {
  const sorted = [...new Set(addresses)].sort((a, b) => a - b);
  const blocks: Block[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === (sorted[j] ?? 0) + 1) j += 1;
    let start = sorted[i] ?? 0;
    const end = sorted[j] ?? 0;
    while (start <= end) {
      let size = 1;
      while (size < 2 ** 32 && size * 2 <= end - start + 1 && start % (size * 2) === 0) size *= 2;
      blocks.push({ base: start, bits: 32 - Math.log2(size) });
      start += size;
    }
    i = j + 1;
  }
  return blocks;
}

export function formatBlock(block: Block): string {
  return `${formatIpv4(block.base)}/${block.bits}`;
}
