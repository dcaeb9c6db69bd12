/**
 * The contract between the probes, the campaign that runs them and the layers
 * that read their results (readiness, reports, history). ADR 0004 is the
 * written form of the result schema; keep the two in step.
 */

/** The kinds of probe the catalog can name. */
export const PROBE_KINDS = ["icmp", "tcp", "tls", "http", "dns", "ntp", "ssh", "checkin"] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];

/**
 * - up: every condition held on the first try.
 * - degraded: held only after a retry, or a measured value is within the warning band.
 * - down: the target answered wrongly or not at all, confirmed by the retries.
 * - unreachable: not probed, because something it depends on (its gateway, its operator's
 *   interconnect) is down: one failed upstream must not show as thousands of red stations.
 * - unknown: not probed before the deadline (or skipped): never reported as down.
 */
export const STATUSES = ["up", "degraded", "down", "unreachable", "unknown"] as const;
export type Status = (typeof STATUSES)[number];

/** Why a probe failed, when it did. */
export const FAILURE_CLASSES = [
  "timeout",
  "refused",
  "reset",
  "no-route",
  "dns",
  "tls",
  "protocol",
  "assertion",
  "not-allowed",
  "internal",
  /** The prober stalled during every attempt: nothing was judged (issue 12). */
  "starved",
] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

/** What a target and its result both name: the check, the inventory ids, the address. */
export interface TargetIdentity {
  /** Stable id of this target within a campaign: `<check>/<object id>[/<link id>]`. */
  readonly key: string;
  /** The catalog check that produced it. */
  readonly check: string;
  readonly kind: ProbeKind;
  /** Inventory ids this target stands for (the ones that apply). */
  readonly station?: string;
  readonly link?: string;
  readonly server?: string;
  readonly district?: string;
  readonly operator?: string;
  readonly medium?: string;
  /** IPv4 address to probe (always checked against probe.allow before a packet is sent). */
  readonly address: string;
  readonly port?: number;
}

/** What a probe is aimed at, resolved from the inventory by the catalog. */
export interface Target extends TargetIdentity {
  /** Name for SNI / Host / expected certificate name. */
  readonly hostname?: string;
  /** Kind-specific parameters from the catalog (path, expected host key, DNS question…). */
  readonly params: Readonly<Record<string, string | number | boolean | readonly string[]>>;
  /** Keys of targets this one depends on (e.g. its gateway): when one is down, this is unreachable. */
  readonly dependsOn?: readonly string[];
}

/** Time spent in each phase, in milliseconds (only the phases the probe went through). */
export interface Timings {
  readonly dns?: number;
  readonly connect?: number;
  readonly tls?: number;
  readonly firstByte?: number;
  readonly total: number;
}

/** What one probe attempt measured, before the catalog's conditions judge it. */
export interface Observation {
  readonly ok: boolean;
  readonly failure?: FailureClass;
  /** One line for a person: what went wrong, with the observed value. */
  readonly detail?: string;
  readonly timings: Timings;
  /**
   * Measured values the conditions read, by the names of ADR 0004:
   * STATUS, BODY, RTT, LOSS, JITTER, CERTIFICATE_EXPIRATION (days), TLS_VERSION,
   * DNS_ANSWERS, NTP_OFFSET (ms), STRATUM, HOST_KEY, BANNER, CHECKIN_AGE (hours)…
   */
  readonly values: Readonly<Record<string, string | number | boolean | readonly string[]>>;
}

/** One line of a campaign's results file (JSON lines). */
export interface ProbeResult extends TargetIdentity {
  /** Where it was observed from: the probing host / namespace / shard. */
  readonly from: string;
  readonly status: Status;
  readonly failure?: FailureClass;
  readonly detail?: string;
  /** Conditions that did not hold, each with the observed value. */
  readonly failed?: readonly string[];
  readonly attempts: number;
  readonly timings: Timings;
  readonly values: Readonly<Record<string, string | number | boolean | readonly string[]>>;
  /** ISO 8601 time of the last attempt. */
  readonly at: string;
}

export interface ProbeContext {
  /** Aborted at the campaign's deadline or the probe's own timeout. */
  readonly signal: AbortSignal;
  /** The per-attempt timeout, in ms. */
  readonly timeoutMs: number;
  /** The signal already fires at timeoutMs (a campaign's attempt): the probe need not arm a timer of its own. */
  readonly bounded?: boolean;
}

/**
 * A probe measures one target once. It never throws for a failed target: a
 * failure is an Observation with ok=false and a failure class. It throws only
 * for a bug or a refused target (ProbeError).
 */
export interface Probe {
  readonly kind: ProbeKind;
  probe(target: Target, context: ProbeContext): Promise<Observation>;
}

/**
 * ICMP is measured in batches (one fping process for thousands of hosts), so
 * its probe takes many targets at once.
 */
export interface BatchProbe {
  readonly kind: "icmp";
  probeAll(targets: readonly Target[], context: ProbeContext): Promise<Map<string, Observation>>;
}
