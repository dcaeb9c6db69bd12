import { ProbeError } from "../../lib/errors.ts";
import type { FailureClass, Observation, ProbeContext, Timings } from "../types.ts";

/**
 * Small pieces every probe shares: one attempt's signal and clock, and the
 * mapping from a socket/TLS/HTTP error to the failure classes of ADR 0004.
 */
export type Values = Record<string, string | number | boolean | readonly string[]>;

/** The attempt ends at the campaign's deadline or the per-attempt timeout, whichever comes first. */
export function attemptSignal(context: ProbeContext): AbortSignal {
  // A campaign's attempt signal has its timer already: a second one, joined by
  // AbortSignal.any, would cost a timer and a dependent signal per attempt.
  if (context.bounded === true) return context.signal;
  return AbortSignal.any([context.signal, AbortSignal.timeout(Math.max(1, context.timeoutMs))]);
}

/** Milliseconds since `start`, rounded to microseconds so results stay short. */
export function since(start: number): number {
  return Math.round((performance.now() - start) * 1000) / 1000;
}

export function failed(failure: FailureClass, detail: string, timings: Timings, values: Values = {}): Observation {
  return { ok: false, failure, detail, timings, values };
}

const BY_CODE: Readonly<Record<string, FailureClass>> = {
  ECONNREFUSED: "refused",
  ECONNRESET: "reset",
  EPIPE: "reset",
  ECONNABORTED: "reset",
  UND_ERR_SOCKET: "reset",
  EHOSTUNREACH: "no-route",
  ENETUNREACH: "no-route",
  EHOSTDOWN: "no-route",
  ENETDOWN: "no-route",
  EADDRNOTAVAIL: "no-route",
  // A local firewall's reject (or `ip route prohibit`) surfaces as EACCES/EPERM.
  EACCES: "no-route",
  EPERM: "no-route",
  ETIMEDOUT: "timeout",
  ETIMEOUT: "timeout",
  UND_ERR_CONNECT_TIMEOUT: "timeout",
  UND_ERR_HEADERS_TIMEOUT: "timeout",
  UND_ERR_BODY_TIMEOUT: "timeout",
  ABORT_ERR: "timeout",
  UND_ERR_ABORTED: "timeout",
  // The peer does not speak TLS at all: that is a protocol failure, not a bad certificate.
  ERR_SSL_WRONG_VERSION_NUMBER: "protocol",
  ERR_SSL_PACKET_LENGTH_TOO_LONG: "protocol",
  ERR_SSL_UNEXPECTED_EOF_WHILE_READING: "reset",
  ERR_SSL_RECORD_LAYER_FAILURE: "protocol",
  ERR_SSL_HTTP_REQUEST: "protocol",
  UND_ERR_INFO: "protocol",
  // undici names its parser failures by class, without a code.
  HTTPParserError: "protocol",
  UND_ERR_RESPONSE_STATUS_CODE: "protocol",
  // Our own code for a peer that closed cleanly before saying what the protocol needs.
  ECLOSED: "protocol",
};

export function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Classifies an error thrown while probing. An aborted attempt is a timeout
 * whatever error the abort produced; a ProbeError (a refused target, a bug in
 * our own inputs) is rethrown: it is not a fact about the target.
 */
export function classify(error: unknown, signal: AbortSignal): { failure: FailureClass; detail: string; code: string } {
  if (error instanceof ProbeError) throw error;
  const code = errorCode(error) ?? (error instanceof Error ? error.name : "unknown");
  const message = error instanceof Error ? error.message : String(error);
  if (signal.aborted) return { failure: "timeout", detail: `no complete answer before the attempt's time ran out (${code})`, code };
  const known = BY_CODE[code];
  if (known !== undefined) return { failure: known, detail: `${code}: ${message}`, code };
  if (code.startsWith("HPE_")) return { failure: "protocol", detail: `not HTTP: ${code}: ${message}`, code };
  if (code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_") || code.startsWith("CERT_") || code.includes("CERT")) {
    return { failure: "tls", detail: `${code}: ${message}`, code };
  }
  if (message.includes("socket disconnected before secure TLS connection")) return { failure: "reset", detail: message, code };
  return { failure: "internal", detail: `${code}: ${message}`, code };
}
