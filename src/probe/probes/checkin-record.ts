import { isFingerprint, parseIpv4 } from "../../model/index.ts";

/**
 * One check-in record, as a gateway writes it: one JSON object per line
 * (ADR 0004). A device connected out, over one of its station's links, to a
 * gateway, with its client certificate. Unknown fields are ignored (a newer
 * gateway may add some); a missing or malformed required field rejects the
 * line, with the reason.
 */
export interface CheckinRecord {
  /** Format version: 1. */
  readonly v: 1;
  /** ISO 8601 time the gateway accepted the connection. */
  readonly time: string;
  /** The device's serial, from its client certificate's subject. */
  readonly serial: string;
  /** The station id the device is enrolled at (as it reports it). */
  readonly station: string;
  /** The link id the device says it used. */
  readonly link: string;
  /** The link id the gateway derived from the source address (the operator's pool), when it could. */
  readonly sourceLink?: string;
  /** IPv4 source address of the connection, as the gateway saw it. */
  readonly source: string;
  /** The gateway server's inventory id. */
  readonly gateway: string;
  /** SHA256 fingerprint of the client certificate's public key (SPKI), `SHA256:` + base64 without padding. */
  readonly certFingerprint: string;
  /** The negotiated TLS version, e.g. TLSv1.3. */
  readonly tlsVersion?: string;
}

const MAX_TEXT = 128;

export type RecordResult = { readonly ok: true; readonly record: CheckinRecord } | { readonly ok: false; readonly reason: string };

function text(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= MAX_TEXT;
}

/** The line as a JSON object, or why it is not one. */
export function jsonObject(line: string): { readonly ok: true; readonly r: Record<string, unknown> } | { readonly ok: false; readonly reason: string } {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    return { ok: false, reason: "not JSON" };
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) return { ok: false, reason: "not a JSON object" };
  return { ok: true, r: data as Record<string, unknown> };
}

/** The first of `fields` that is not a short string, as a reason. */
function missingText(r: Record<string, unknown>, fields: readonly string[]): string | undefined {
  const field = fields.find((f) => !text(r[f]));
  return field === undefined ? undefined : `${field} is missing or not a short string`;
}

/** What check-ins and rejected attempts both carry, checked: the time, the source address, the certificate's fingerprint. */
function badIdentity(r: Record<string, unknown>): string | undefined {
  const time = r.time as string;
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(time) || Number.isNaN(Date.parse(time)))
    return `time ${JSON.stringify(time)} is not an ISO 8601 time with a zone`;
  if (parseIpv4(r.source as string) === undefined) return `source ${JSON.stringify(r.source)} is not an IPv4 address`;
  if (!isFingerprint(r.certFingerprint as string)) return "certFingerprint is not SHA256:<43 base64 characters>";
  return undefined;
}

export function parseRecord(line: string): RecordResult {
  const parsed = jsonObject(line);
  return parsed.ok ? recordFrom(parsed.r) : parsed;
}

/** A record from an object already parsed (a line of the log, or a link's latest in the table). */
export function recordFrom(r: Record<string, unknown>): RecordResult {
  if (r.v !== 1) return { ok: false, reason: `unknown format version ${JSON.stringify(r.v)} (expected 1)` };
  const bad = missingText(r, ["time", "serial", "station", "link", "source", "gateway", "certFingerprint"]) ?? badIdentity(r);
  if (bad !== undefined) return { ok: false, reason: bad };
  const time = r.time as string;
  if (r.sourceLink !== undefined && r.sourceLink !== null && !text(r.sourceLink)) return { ok: false, reason: "sourceLink is not a short string" };
  if (r.tlsVersion !== undefined && !text(r.tlsVersion)) return { ok: false, reason: "tlsVersion is not a short string" };
  const record: CheckinRecord = {
    v: 1,
    time,
    serial: r.serial as string,
    station: r.station as string,
    link: r.link as string,
    ...(typeof r.sourceLink === "string" ? { sourceLink: r.sourceLink } : {}),
    source: r.source as string,
    gateway: r.gateway as string,
    certFingerprint: r.certFingerprint as string,
    ...(typeof r.tlsVersion === "string" ? { tlsVersion: r.tlsVersion } : {}),
  };
  return { ok: true, record };
}

/**
 * A rejected attempt, as a gateway's recorder keeps it (issue 17): a certificate the CA signed,
 * refused because its source is none of the gateway's link addresses (`unlisted-source`), is
 * another station's link (`other-station`), is not that station's device (`other-device`), or is
 * that device's serial with another key than the declared fingerprint (`other-key`), or the station's
 * device checking in faster than the recorder's limit (`flood`: answered 429).
 * A security event, never a check-in. `station`/`sourceLink` are the network's (the source's), when
 * the source is listed; `suppressed` counts the same certificate's attempts not written before it.
 */
export interface RejectedAttempt {
  readonly time: string;
  readonly reason: string;
  readonly detail: string;
  readonly serial: string;
  readonly source: string;
  readonly gateway: string;
  readonly certFingerprint: string;
  readonly station?: string;
  readonly sourceLink?: string;
  readonly suppressed: number;
}

export const REJECTION_REASONS: readonly string[] = ["unlisted-source", "other-station", "other-device", "other-key", "flood", "revoked"];

/** Whether a line is a rejected attempt (its own format), not a check-in record. */
export function isAttemptLine(line: string): boolean {
  return line.includes('"kind":"rejected"');
}

export type AttemptResult = { readonly ok: true; readonly attempt: RejectedAttempt } | { readonly ok: false; readonly reason: string };

export function parseAttempt(line: string): AttemptResult {
  const parsed = jsonObject(line);
  return parsed.ok ? attemptFrom(parsed.r) : parsed;
}

/** A rejected attempt from an object already parsed (a line of the log, or a link's latest in the table). */
export function attemptFrom(r: Record<string, unknown>): AttemptResult {
  if (r.v !== 1 || r.kind !== "rejected") return { ok: false, reason: "not a rejected attempt of format 1" };
  if (typeof r.reason !== "string" || !REJECTION_REASONS.includes(r.reason))
    return { ok: false, reason: `reason ${JSON.stringify(r.reason)} is not one of ${REJECTION_REASONS.join(", ")}` };
  const missing = missingText(r, ["time", "serial", "source", "gateway", "certFingerprint"]);
  if (missing !== undefined) return { ok: false, reason: missing };
  if (typeof r.detail !== "string" || r.detail.length > 512) return { ok: false, reason: "detail is missing or too long" };
  const bad = badIdentity(r);
  if (bad !== undefined) return { ok: false, reason: bad };
  const time = r.time as string;
  for (const field of ["station", "sourceLink"] as const) {
    if (r[field] !== undefined && !text(r[field])) return { ok: false, reason: `${field} is not a short string` };
  }
  const suppressed = r.suppressed === undefined ? 0 : r.suppressed;
  if (typeof suppressed !== "number" || !Number.isSafeInteger(suppressed) || suppressed < 0) return { ok: false, reason: "suppressed is not a count" };
  return {
    ok: true,
    attempt: {
      time,
      reason: r.reason,
      detail: r.detail,
      serial: r.serial as string,
      source: r.source as string,
      gateway: r.gateway as string,
      certFingerprint: r.certFingerprint as string,
      ...(typeof r.station === "string" ? { station: r.station } : {}),
      ...(typeof r.sourceLink === "string" ? { sourceLink: r.sourceLink } : {}),
      suppressed,
    },
  };
}
