import { closeSync, openSync, writeSync } from "node:fs";
import type { Inventory } from "../model/index.ts";
import type { CampaignFooter, CampaignHeader } from "../probe/results.ts";
import { emptyCounts } from "../probe/summary.ts";
import type { ProbeResult } from "../probe/types.ts";

/**
 * Synthetic evidence for tests and benchmarks: a results file in the format of
 * src/probe/results.ts, as a healthy campaign over an inventory would write it
 * (every server probed, every live addressed link pinged, every device checked
 * in over each live link). `edit` changes or drops single results, so a test
 * states only what differs from healthy. Nothing here probes anything.
 */
export interface SyntheticOptions {
  readonly now: Date;
  readonly id?: string;
  readonly stack?: string;
  /** Footer: false marks the campaign invalid; "none" leaves the footer out (an interrupted run). */
  readonly valid?: boolean | "none";
  /** How long before `now` the campaign finished (default 0). */
  readonly ageMs?: number;
  /** Certificates' notAfter (default: election day + 90 days). */
  readonly certNotAfter?: string;
  /** When devices checked in (default: an hour before the campaign finished). */
  readonly checkinAt?: string;
  /** Change a result (return it changed) or drop it (return undefined). */
  readonly edit?: (r: ProbeResult) => ProbeResult | undefined;
}

export function* syntheticResults(inv: Inventory, o: SyntheticOptions): Generator<ProbeResult> {
  const finished = o.now.getTime() - (o.ageMs ?? 0);
  const at = new Date(finished - 60_000).toISOString();
  const checkinAt = o.checkinAt ?? new Date(finished - 3_600_000).toISOString();
  const notAfter = o.certNotAfter ?? new Date(Date.parse(`${inv.election.day}T00:00:00Z`) + 90 * 86_400_000).toISOString();
  const base = { from: "synthetic", status: "up", attempts: 1, timings: { total: 3 }, at } as const;
  const keep = (r: ProbeResult) => (o.edit === undefined ? r : o.edit(r));
  for (const s of inv.servers) {
    const one = (check: string, kind: ProbeResult["kind"], values: ProbeResult["values"], port?: number) =>
      keep({ ...base, key: `${check}/${s.id}`, check, kind, server: s.id, address: s.address, ...(port === undefined ? {} : { port }), values });
    const results = [one("server-icmp", "icmp", { RTT: 1, LOSS: 0 })];
    if (s.roles.includes("gateway")) results.push(one("gateway-https", "http", { STATUS: 200, CERTIFICATE_NOT_AFTER: notAfter }, 443));
    if (s.roles.includes("auth")) results.push(one("auth-tls", "tls", { TLS_VERSION: "TLSv1.3", CERTIFICATE_NOT_AFTER: notAfter }, 443));
    if (s.roles.includes("dns")) results.push(one("dns-answers", "dns", { DNS_RCODE: "NOERROR" }, 53));
    if (s.roles.includes("ntp")) results.push(one("ntp-offset", "ntp", { NTP_OFFSET: 3, STRATUM: 2 }, 123));
    for (const r of results) if (r !== undefined) yield r;
  }
  for (const station of inv.stations) {
    for (const link of station.links) {
      if (link.lifecycle.state !== "live") continue;
      const ids = { station: station.id, link: link.id, district: station.district, operator: link.operator, medium: link.medium };
      if (link.address !== undefined) {
        const r = keep({
          ...base,
          ...ids,
          key: `link-icmp/${station.id}/${link.id}`,
          check: "link-icmp",
          kind: "icmp",
          address: link.address,
          values: { RTT: 12, LOSS: 0 },
        });
        if (r !== undefined) yield r;
      }
      const gateway = inv.serversById.get(station.gateways.primary);
      const c = keep({
        ...base,
        ...ids,
        key: `device-checkin/${station.id}/${link.id}`,
        check: "device-checkin",
        kind: "checkin",
        address: gateway?.address ?? "127.0.0.1",
        values: { CHECKIN_AT: checkinAt, SERIAL: station.device.serial, CHECKIN_AGE: 1 },
      });
      if (c !== undefined) yield c;
    }
  }
}

/** Write a complete results file (header, results, footer) and return how many results it holds. */
export function writeSyntheticResults(path: string, inv: Inventory, o: SyntheticOptions): number {
  const finished = new Date(o.now.getTime() - (o.ageMs ?? 0));
  const id = o.id ?? `synthetic-${finished.toISOString().replace(/[:.]/g, "-")}`;
  const fd = openSync(path, "w");
  const counts = emptyCounts();
  let n = 0;
  let buffer: string[] = [];
  const flush = () => {
    writeSync(fd, buffer.join(""));
    buffer = [];
  };
  try {
    const header: CampaignHeader = {
      type: "campaign",
      version: 1,
      id,
      stack: o.stack ?? "rehearsal",
      from: "synthetic",
      startedAt: new Date(finished.getTime() - 120_000).toISOString(),
      deadlineMs: 120_000,
      targets: 0,
    };
    buffer.push(`${JSON.stringify(header)}\n`);
    for (const r of syntheticResults(inv, o)) {
      counts[r.status]++;
      n++;
      buffer.push(`${JSON.stringify({ type: "result", ...r })}\n`);
      if (buffer.length >= 4096) flush();
    }
    if (o.valid !== "none") {
      const valid = o.valid ?? true;
      const footer: CampaignFooter = {
        type: "end",
        id,
        finishedAt: finished.toISOString(),
        valid,
        invalid: valid ? [] : ["the prober's event loop lagged 900 ms (starved)"],
        interrupted: false,
        counts,
      };
      buffer.push(`${JSON.stringify(footer)}\n`);
    }
    flush();
  } finally {
    closeSync(fd);
  }
  return n;
}
