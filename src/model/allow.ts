import { ProbeError } from "../lib/errors.ts";
import { cidrContains, parseCidr, parseIpv4 } from "./net.ts";

/**
 * The network-safety guard (ADR 0004), one home for probing, provisioning and
 * drift: a packet goes only to an address inside the ranges the stack declares
 * as its own (`probe.allow`).
 * Every probe calls `assertAllowed` at the lowest level it sends from (the
 * socket helper, the fping host list, the argv of ssh), so a campaign bug, a
 * typo in the inventory or a new probe kind cannot reach an address the
 * stack does not own.
 */
export interface AllowRange {
  readonly text: string;
  readonly base: number;
  readonly bits: number;
}

export interface AllowList {
  readonly ranges: readonly AllowRange[];
  /** Where the ranges came from, named in errors (e.g. `stacks/Pulumi.rehearsal.yaml amadegi:probe.allow`). */
  readonly source: string;
}

const SETTING = "probe.allow";

/** Parses CIDR ranges; every bad entry is reported at once. An empty list allows nothing. */
export function parseAllow(entries: readonly string[], source = SETTING): AllowList {
  const ranges: AllowRange[] = [];
  const bad: string[] = [];
  for (const text of entries) {
    const trimmed = text.trim();
    const parsed = parseCidr(trimmed);
    if (parsed.ok) ranges.push({ text: trimmed, base: parsed.base, bits: parsed.bits });
    else bad.push(`"${text}": ${parsed.reason}${parsed.suggestion === undefined ? "" : ` (did you mean ${parsed.suggestion}?)`}`);
  }
  if (bad.length > 0) {
    throw new ProbeError(`${source}: ${bad.length} bad range(s): ${bad.join("; ")}`, {
      hint: `write each entry of ${SETTING} as an IPv4 CIDR such as 10.99.0.0/16`,
    });
  }
  return { ranges, source };
}

export function checkAllowed(address: string, allow: AllowList): boolean {
  const value = parseIpv4(address);
  if (value === undefined) return false;
  return allow.ranges.some((range) => cidrContains(range, value));
}

function describeRanges(allow: AllowList): string {
  return allow.ranges.length === 0 ? "none declared" : allow.ranges.map((r) => r.text).join(", ");
}

/** The refusal, as an error a campaign can also record (failure class `not-allowed`). */
export function notAllowedError(key: string, address: string, allow: AllowList): ProbeError {
  const what = parseIpv4(address) === undefined ? `"${address}" is not an IPv4 address` : `address ${address} is outside`;
  return new ProbeError(`target ${key}: ${what} ${SETTING} (${describeRanges(allow)}; from ${allow.source}); nothing was sent`, {
    hint:
      `if ${address} belongs to this stack, declare its range in the stack's ${SETTING} ` +
      `(stacks/Pulumi.<stack>.yaml); otherwise fix the inventory's address`,
  });
}

/** Throws a ProbeError naming the target unless its address is allowed. Call it before any socket or process. */
export function assertAllowed(key: string, address: string, allow: AllowList): void {
  if (!checkAllowed(address, allow)) throw notAllowedError(key, address, allow);
}
