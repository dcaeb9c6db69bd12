import type { BatchProbe, Probe } from "../types.ts";
import { checkinReader, type CheckinReader } from "./checkin.ts";
import { dnsProbe } from "./dns.ts";
import { httpProbe } from "./http.ts";
import { icmpProbe } from "./icmp.ts";
import { ntpProbe } from "./ntp.ts";
import type { ProbeOptions } from "./options.ts";
import { sshProbe } from "./ssh.ts";
import { tcpProbe } from "./tcp.ts";
import { tlsProbe } from "./tls.ts";

/**
 * The probes, keyed by kind. There is no ready-made instance: every probe
 * needs the stack's probe.allow (the guard has no default that allows
 * anything), so a campaign builds its set with `createProbes`.
 */
export interface Probes {
  readonly icmp: BatchProbe;
  readonly tcp: Probe;
  readonly tls: Probe;
  readonly http: Probe;
  readonly dns: Probe;
  readonly ntp: Probe;
  readonly ssh: Probe;
  readonly checkin: CheckinReader;
}

export function createProbes(options: ProbeOptions): Probes {
  return {
    icmp: icmpProbe(options),
    tcp: tcpProbe(options),
    tls: tlsProbe(options),
    http: httpProbe(options),
    dns: dnsProbe(options),
    ntp: ntpProbe(options),
    ssh: sshProbe(options),
    checkin: checkinReader(options),
  };
}

/**
 * ICMP tuned per batch by the campaign (echo count and send interval), the
 * rest of the options (allow, fping command, period) kept.
 */
export function icmpTuned(options: ProbeOptions): (tuning: { readonly count: number; readonly intervalMs: number }) => BatchProbe {
  return (tuning) => icmpProbe({ ...options, icmp: { ...options.icmp, count: tuning.count, intervalMs: tuning.intervalMs } });
}

export type { CheckinBatch, CheckinCursor, CheckinReader } from "./checkin.ts";
export type { CheckinRecord } from "./checkin-record.ts";
export { parseRecord } from "./checkin-record.ts";
export type { IcmpOptions, ProbeOptions, SshOptions, TlsFiles } from "./options.ts";
