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
  | { readonly ok: true; readonly base: number; readonly bits: number }
  | { readonly ok: false; readonly reason: string; readonly suggestion?: string };

export function parseCidr(text: string): CidrResult {
  const slash = text.indexOf("/");
  if (slash < 0) return { ok: false, reason: "a CIDR needs a prefix length, e.g. 10.20.0.0/16" };
  const base = parseIpv4(text.slice(0, slash));
  const bitsText = text.slice(slash + 1);
  const bits = /^(3[0-2]|[12]?\d)$/.test(bitsText) ? Number(bitsText) : -1;
  if (base === undefined) return { ok: false, reason: `"${text.slice(0, slash)}" is not an IPv4 address` };
  if (bits < 0) return { ok: false, reason: `"/${bitsText}" is not a prefix length 0–32` };
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  if ((base & mask) >>> 0 !== base) {
    return {
      ok: false,
      reason: "host bits are set",
      suggestion: `${formatIpv4((base & mask) >>> 0)}/${bits}`,
    };
  }
  return { ok: true, base, bits };
}

export function cidrContains(cidr: { base: number; bits: number }, address: number): boolean {
  const mask = cidr.bits === 0 ? 0 : (0xffffffff << (32 - cidr.bits)) >>> 0;
  return (address & mask) >>> 0 === cidr.base;
}
