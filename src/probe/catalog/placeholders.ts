import type { ProbeKind } from "../types.ts";

/**
 * The placeholders a condition may name, each with its type and the probe
 * kinds that measure it. The condition parser reads this table, so a new
 * measured value is one entry here (and its name in ADR 0004).
 */
export type ValueType = "duration" | "percent" | "integer" | "string" | "version" | "list" | "key";

export interface PlaceholderSpec {
  readonly type: ValueType;
  /** Durations: the unit the probe reports in (the condition's value is converted to it). */
  readonly unit?: "ms" | "h" | "d";
  /** Compared by magnitude (an NTP offset of -80 ms is 80 ms off). */
  readonly magnitude?: boolean;
  /** May be compared with `election±N` (days left against election day). */
  readonly electionRelative?: boolean;
  readonly kinds: readonly ProbeKind[];
  readonly doc: string;
}

const timed: readonly ProbeKind[] = ["icmp", "tcp", "tls", "http", "dns", "ntp", "ssh"];

export const PLACEHOLDERS = {
  RTT: { type: "duration", unit: "ms", kinds: timed, doc: "round trip (icmp: average reply; others: the whole attempt)" },
  LOSS: { type: "percent", kinds: ["icmp"], doc: "packets lost, 0–100 %" },
  JITTER: { type: "duration", unit: "ms", kinds: ["icmp"], doc: "spread of the round trips" },
  STATUS: { type: "integer", kinds: ["http"], doc: "HTTP status code" },
  BODY: { type: "string", kinds: ["http"], doc: "response body (first 64 KiB)" },
  CERTIFICATE_EXPIRATION: {
    type: "duration",
    unit: "d",
    electionRelative: true,
    kinds: ["tls", "http"],
    doc: "time left on the leaf certificate (https only for http)",
  },
  TLS_VERSION: { type: "version", kinds: ["tls", "http"], doc: "negotiated TLS version, 1.0–1.3" },
  DNS_ANSWERS: { type: "list", kinds: ["dns"], doc: "addresses in the answer section" },
  NTP_OFFSET: { type: "duration", unit: "ms", magnitude: true, kinds: ["ntp"], doc: "clock offset, compared by magnitude" },
  STRATUM: { type: "integer", kinds: ["ntp"], doc: "NTP stratum of the server" },
  HOST_KEY: { type: "key", kinds: ["ssh"], doc: "the server's SSH host key" },
  BANNER: { type: "string", kinds: ["ssh"], doc: "the SSH identification line" },
  CHECKIN_AGE: { type: "duration", unit: "h", kinds: ["checkin"], doc: "time since the device last checked in over this link" },
  REJECTED_ATTEMPTS: {
    type: "integer",
    kinds: ["checkin"],
    doc: "certificates the station's gateways refused at this link (another station's device, another device's): security events",
  },
} as const satisfies Record<string, PlaceholderSpec>;

export type Placeholder = keyof typeof PLACEHOLDERS;

export const PLACEHOLDER_NAMES = Object.keys(PLACEHOLDERS) as Placeholder[];

export function isPlaceholder(name: string): name is Placeholder {
  return Object.hasOwn(PLACEHOLDERS, name);
}

export function spec(name: Placeholder): PlaceholderSpec {
  return PLACEHOLDERS[name];
}

/** The placeholders a probe kind produces, for "did you mean" and docs. */
export function placeholdersOf(kind: ProbeKind): Placeholder[] {
  return PLACEHOLDER_NAMES.filter((p) => (PLACEHOLDERS[p].kinds as readonly ProbeKind[]).includes(kind));
}

/** Operators each value type may use; `warn` bands only on the ordering ones. */
export const OPERATORS_BY_TYPE: Record<ValueType, readonly string[]> = {
  duration: ["<", "<=", ">", ">=", "==", "!="],
  percent: ["<", "<=", ">", ">=", "==", "!="],
  integer: ["==", "!=", "<", "<=", ">", ">="],
  version: [">=", ">", "==", "!=", "<", "<="],
  string: ["==", "!=", "contains", "matches"],
  list: ["==", "contains"],
  key: ["==", "!="],
};

export const ALL_OPERATORS = ["==", "!=", "<", "<=", ">", ">=", "contains", "matches"] as const;
export type Operator = (typeof ALL_OPERATORS)[number];

export { DURATION_UNITS, type DurationUnit } from "../../lib/duration.ts";
