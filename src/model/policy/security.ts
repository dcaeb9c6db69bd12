import { cidrContains, parseCidr, parseIpv4 } from "../net.ts";
import { WIDEN_BITS } from "../render/ranges.ts";
import type { Reporter } from "../report.ts";
import type { Inventory } from "../types.ts";

/**
 * Security rules that need the whole model. (Secrets and bidirectional
 * controls are found on the raw text, in scan.ts, so comments are covered.)
 * The inventory is the only place a host key is pinned: without it, the SSH
 * connection would silently accept any key. An address range that opens a
 * central service (the ranges DNS and NTP answer, render/ranges.ts) must lie
 * inside the committee's `policy.serviceRanges`: the operators' staff and the
 * district technicians who edit operators.yaml and districts/ cannot open a
 * service to the internet (issue 13).
 */
export function checkSecurity(inv: Inventory, report: Reporter): void {
  for (const server of inv.servers) {
    if (server.ssh.hostKey === undefined) {
      report(
        "security.host-key-missing",
        server.origin,
        ["ssh"],
        server.id,
        `server ${server.id} has no pinned SSH host key`,
        `add ssh.hostKey: the line \`ssh-keyscan -t ed25519 ${server.address}\` prints, checked out of band`,
      );
    }
  }
  const allowed = inv.election.policy.serviceRanges.map(parseCidr).flatMap((c) => (c.ok ? [{ base: c.base, bits: c.bits }] : []));
  const inside = (base: number, bits: number): boolean => allowed.some((a) => a.bits <= bits && cidrContains(a, base));
  const where = `the committee's policy.serviceRanges (${inv.election.policy.serviceRanges.join(", ") || "none"})`;
  for (const operator of inv.operators) {
    operator.egress.forEach((range, i) => {
      const c = parseCidr(range);
      if (!c.ok || inside(c.base, c.bits)) return;
      report(
        "security.range-outside-policy",
        operator.origin,
        ["egress", i],
        operator.id,
        `operator ${operator.id}: egress ${range} is outside ${where}; the central services would answer it`,
        "narrow the range to the operator's carrier-NAT pool, or ask the IT committee to add it to policy.serviceRanges in election.yaml",
      );
    });
  }
  for (const station of inv.stations) {
    for (const link of station.links) {
      const address = link.address === undefined ? undefined : parseIpv4(link.address);
      if (address === undefined || inside(address, WIDEN_BITS)) continue;
      report(
        "security.range-outside-policy",
        link.origin,
        ["address"],
        link.id,
        `link ${link.id}: address ${link.address ?? ""} (its /${WIDEN_BITS} is opened to DNS and NTP) is outside ${where}`,
        "give the link its private address, or ask the IT committee to add the range to policy.serviceRanges in election.yaml",
      );
    }
  }
}
