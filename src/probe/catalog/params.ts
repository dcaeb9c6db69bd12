import type { ProbeKind } from "../types.ts";
import type { ParamValue } from "./schema.ts";

/**
 * The parameters each probe kind takes from the catalog (besides what the
 * inventory gives: address, ports, pinned keys). The probes read them from
 * `Target.params` under these names.
 */
export interface ParamSpec {
  readonly type: "text" | "integer" | "boolean" | "list";
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  readonly required?: boolean;
  readonly doc: string;
}

const tlsParams = {
  hostname: { type: "text", doc: "name for SNI, Host and the certificate check (default: the server id)" },
  ca: { type: "text", doc: "PEM file of the election CA the chain must lead to (default: the stack's)" },
  cert: { type: "text", doc: "PEM client certificate, for mTLS endpoints" },
  key: { type: "text", doc: "PEM key of the client certificate" },
} as const satisfies Record<string, ParamSpec>;

export const PARAMS: Record<ProbeKind, Readonly<Record<string, ParamSpec>>> = {
  icmp: { count: { type: "integer", min: 1, max: 20, doc: "echo requests per host (default 3)" } },
  tcp: {},
  tls: tlsParams,
  http: {
    ...tlsParams,
    scheme: { type: "text", values: ["http", "https"], doc: "http | https (default http)" },
    path: { type: "text", doc: "request path (default /)" },
    method: { type: "text", values: ["GET", "HEAD"], doc: "GET | HEAD (default GET)" },
  },
  dns: {
    name: { type: "text", required: true, doc: "the name to resolve" },
    type: { type: "text", values: ["A", "AAAA", "CNAME", "TXT", "NS", "SOA", "PTR"], doc: "record type (default A)" },
  },
  ntp: {},
  ssh: { keyType: { type: "text", values: ["ed25519", "ecdsa", "rsa"], doc: "host key type to ask for (default: the pin's)" } },
  checkin: {
    table: { type: "text", doc: "the gateway's check-in table (default /var/lib/amadegi/checkin/checkin-latest.json)" },
    maxBytes: { type: "integer", min: 4096, max: 268_435_456, doc: "the largest table read (default 8 MiB): a larger one is not read" },
  },
};

/** Default port per kind when the check names none (ssh and checkin use the inventory's). */
export function defaultPort(kind: ProbeKind, params: Readonly<Record<string, ParamValue>>): number | undefined {
  switch (kind) {
    case "tls":
      return 443;
    case "http":
      return params.scheme === "https" ? 443 : 80;
    case "dns":
      return 53;
    case "ntp":
      return 123;
    default:
      return undefined;
  }
}

/** Why a value does not fit its spec, or undefined. */
export function checkParam(spec: ParamSpec, value: ParamValue): string | undefined {
  switch (spec.type) {
    case "integer":
      if (typeof value !== "number" || !Number.isInteger(value)) return "expected a whole number";
      if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) return `${value} is outside ${spec.min}…${spec.max}`;
      return undefined;
    case "boolean":
      return typeof value === "boolean" ? undefined : "expected true or false";
    case "list":
      return Array.isArray(value) ? undefined : "expected a list";
    case "text":
      if (typeof value !== "string") return "expected text (quote it)";
      if (spec.values !== undefined && !spec.values.includes(value)) return `"${value}" is not one of ${spec.values.join(", ")}`;
      return undefined;
  }
}
