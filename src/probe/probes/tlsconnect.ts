import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { connect, createSecureContext, type SecureContext, type TLSSocket } from "node:tls";
import { ProbeError } from "../../lib/errors.ts";
import type { AllowList } from "../allow.ts";
import type { Target } from "../types.ts";
import { guardedConnect } from "./connect.ts";
import { since, type Values } from "./observe.ts";
import { requirePort, stringParam, type TlsFiles } from "./options.ts";

/**
 * A TLS handshake over a guarded socket, for the tls and https probes.
 * Verification is done after the handshake, by us, instead of by OpenSSL
 * aborting it: an expired, foreign or misnamed certificate is still measured
 * (days left, version, issuer) and then classified, which is what a readiness
 * report needs. Each attempt is a fresh handshake: no session is offered.
 */
export interface Handshake {
  readonly socket: TLSSocket;
  readonly connectMs: number;
  readonly tlsMs: number;
  readonly values: Values;
  /** Why the peer must not be trusted, or undefined when chain and name verified. */
  readonly problem?: string;
}

const DAY_MS = 86_400_000;
/** How long to wait, after a TLS 1.3 handshake with a client certificate, for the server to accept or reject it. */
const CLIENT_CERT_VERDICT_MS = 500;

const files = new Map<string, Promise<Buffer>>();

/** Trust material is read once per path per process: a campaign makes thousands of handshakes. */
function material(target: Target, path: string, what: string): Promise<Buffer> {
  let pending = files.get(path);
  if (pending === undefined) {
    pending = readFile(path).catch((cause: unknown) => {
      files.delete(path);
      throw new ProbeError(`target ${target.key}: cannot read the ${what} ${path}`, {
        hint: `check the path given for check ${target.check} (params or the stack's TLS settings)`,
        cause,
      });
    });
    files.set(path, pending);
  }
  return pending;
}

const contexts = new Map<string, SecureContext>();

/**
 * One OpenSSL context per set of trust material: building it (parsing the CA
 * bundle, the client key) per handshake was an eighth of an HTTPS probe's CPU.
 * Sharing it offers no session to the server: Node resumes a TLS session only
 * when given one explicitly, and we never do.
 */
function secureContext(paths: readonly (string | undefined)[], ca: Buffer, cert: Buffer | undefined, key: Buffer | undefined): SecureContext {
  const id = paths.join("\0");
  let context = contexts.get(id);
  if (context === undefined) {
    context = createSecureContext({ ca, ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }) });
    contexts.set(id, context);
  }
  return context;
}

/**
 * `awaitClientVerdict`: with a client certificate over TLS 1.3, wait for the
 * server's verdict on it (the tls probe). The https probe does not wait: the
 * HTTP answer, or its absence, is the verdict.
 */
export async function tlsHandshake(
  target: Target,
  allow: AllowList,
  tlsFiles: TlsFiles | undefined,
  signal: AbortSignal,
  use: { readonly alpn?: readonly string[]; readonly awaitClientVerdict?: boolean } = {},
): Promise<Handshake> {
  const port = requirePort(target);
  const caFile = stringParam(target, "ca") ?? tlsFiles?.caFile;
  if (caFile === undefined) {
    throw new ProbeError(`target ${target.key}: no CA bundle to verify ${target.address}:${port} against`, {
      hint: "give the election CA bundle (the stack's TLS settings, or params.ca of the check)",
    });
  }
  const certFile = stringParam(target, "cert") ?? tlsFiles?.certFile;
  const keyFile = stringParam(target, "key") ?? tlsFiles?.keyFile;
  const [ca, cert, key] = await Promise.all([
    material(target, caFile, "CA bundle"),
    certFile === undefined ? undefined : material(target, certFile, "client certificate"),
    keyFile === undefined ? undefined : material(target, keyFile, "client key"),
  ]);
  const start = performance.now();
  const raw = await guardedConnect({ key: target.key, address: target.address, port }, allow, signal);
  const connectMs = since(start);
  const name = target.hostname ?? target.address;
  const socket = connect({
    socket: raw,
    secureContext: secureContext([caFile, certFile, keyFile], ca, cert, key),
    // SNI carries names only, never an address (RFC 6066).
    ...(isIP(name) === 0 ? { servername: name } : {}),
    rejectUnauthorized: false,
    // The name is judged by judge() below, from the X509Certificate; `authorized` is then the chain's verdict alone.
    checkServerIdentity: () => undefined,
    ...(use.alpn === undefined ? {} : { ALPNProtocols: [...use.alpn] }),
  });
  skipIdentityCertificate(socket);
  try {
    await settle(socket, signal, "secureConnect");
    // Judged at once: the peer certificate is gone once the socket closes.
    const judged = judge(socket, name);
    if (use.awaitClientVerdict === true && cert !== undefined && socket.getProtocol() === "TLSv1.3") await clientCertVerdict(socket, signal);
    const tlsMs = since(start) - connectMs;
    return { socket, connectMs, tlsMs: Math.round(tlsMs * 1000) / 1000, ...judged };
  } catch (error) {
    socket.destroy();
    raw.destroy();
    throw error;
  }
}

/**
 * Node hands checkServerIdentity the peer's certificate as getPeerCertificate(true)
 * builds it (every field of every certificate in the chain: fingerprints, keys,
 * raw bytes) once OpenSSL has verified the chain, even when the check is ours and
 * reads nothing: a sixth of an HTTPS probe's CPU. The first call on this socket,
 * that one, gets an empty object; later calls are node's own again. If node ever
 * stops asking, nothing changes but the time.
 */
function skipIdentityCertificate(socket: TLSSocket): void {
  Object.defineProperty(socket, "getPeerCertificate", {
    configurable: true,
    value: () => {
      delete (socket as { getPeerCertificate?: unknown }).getPeerCertificate;
      return {};
    },
  });
}

/**
 * Reads the peer certificate through X509Certificate, whose fields are
 * fetched from OpenSSL on demand: getPeerCertificate() builds every field
 * (three fingerprints, the public key, …) for each handshake, a tenth of an
 * HTTPS probe's CPU.
 */
function judge(socket: TLSSocket, name: string): { values: Values; problem?: string } {
  const peer = socket.getPeerX509Certificate();
  const values: Values = { TLS_VERSION: socket.getProtocol() ?? "unknown" };
  if (peer === undefined) {
    return { values: { ...values, CERTIFICATE_VERIFIED: false, CERTIFICATE_ERROR: "NO_PEER_CERTIFICATE" }, problem: "the server sent no certificate" };
  }
  const notAfter = peer.validToDate;
  const days = Math.round(((notAfter.getTime() - Date.now()) / DAY_MS) * 100) / 100;
  const authError = socket.authorizationError as unknown;
  // Node folds its own hostname check into `authorized`; the name is judged separately below.
  const authCode = socket.authorized ? "" : authErrorCode(authError);
  const chainError = authCode.startsWith("ERR_TLS_CERT_ALTNAME") ? "" : authCode;
  const nameMatches = (isIP(name) === 0 ? peer.checkHost(name) : peer.checkIP(name)) !== undefined;
  const nameCode = nameMatches ? "" : "ERR_TLS_CERT_ALTNAME_INVALID";
  const subject = commonName(peer.subject);
  const issuer = commonName(peer.issuer);
  Object.assign(values, {
    CERTIFICATE_EXPIRATION: days,
    CERTIFICATE_NOT_AFTER: notAfter.toISOString(),
    CERTIFICATE_SUBJECT: subject,
    CERTIFICATE_ISSUER: issuer,
    CERTIFICATE_SHA256: peer.fingerprint256,
    CERTIFICATE_VERIFIED: chainError === "",
    CERTIFICATE_HOSTNAME: nameMatches,
    CERTIFICATE_ERROR: chainError === "" ? nameCode : chainError,
  });
  if (chainError === "CERT_HAS_EXPIRED") {
    return { values, problem: `certificate of ${subject} expired on ${notAfter.toISOString()} (${-days} days ago)` };
  }
  if (chainError !== "") {
    return { values, problem: `certificate of ${subject} (issuer ${issuer}) does not verify against the election CA bundle: ${chainError}` };
  }
  if (!nameMatches) {
    return { values, problem: `certificate is for ${peer.subjectAltName ?? subject}, not ${name}` };
  }
  return { values };
}

function authErrorCode(error: unknown): string {
  if (typeof error === "string") return error;
  if (error instanceof Error) return (error as { code?: string }).code ?? error.message;
  return "UNVERIFIED";
}

/** The CN of an X509Certificate subject or issuer ("C=IR\nCN=gw.election.ir", one attribute a line). */
function commonName(distinguishedName: string): string {
  const names = distinguishedName
    .split("\n")
    .filter((line) => line.startsWith("CN="))
    .map((line) => line.slice(3));
  return names.length === 0 ? "(no CN)" : names.join(",");
}

/** Resolves on `event`, rejects on error, close or abort. */
function settle(socket: TLSSocket, signal: AbortSignal, event: "secureConnect"): Promise<void> {
  return new Promise((resolve, reject) => {
    const finish = (error?: unknown): void => {
      signal.removeEventListener("abort", onAbort);
      socket.off(event, onEvent).off("error", onError).off("close", onClose);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onEvent = (): void => finish();
    const onError = (error: Error): void => finish(error);
    const onClose = (): void => finish(Object.assign(new Error("closed during the TLS handshake"), { code: "ECONNRESET" }));
    const onAbort = (): void => finish(signal.reason);
    if (signal.aborted) {
      finish(signal.reason);
      return;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once(event, onEvent).once("error", onError).once("close", onClose);
  });
}

/**
 * In TLS 1.3 the client finishes its handshake before the server has judged
 * the client certificate. A server that refuses it sends an alert (OpenSSL)
 * or just closes (Node); one that accepts it sends a session ticket or data,
 * or waits for our request. So: an alert or a close before anything else is
 * a refusal; a ticket, data, or silence for a moment is acceptance.
 */
function clientCertVerdict(socket: TLSSocket, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(), CLIENT_CERT_VERDICT_MS);
    const finish = (error?: unknown): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      socket.off("session", onAccept).off("data", onAccept).off("error", onError).off("end", onEnd);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onAccept = (): void => finish();
    const onError = (error: Error): void => finish(error);
    const onEnd = (): void =>
      finish(
        Object.assign(new Error("the server closed the connection after the handshake: it refused our client certificate"), {
          code: "ERR_TLS_CLIENT_CERT_REFUSED",
        }),
      );
    const onAbort = (): void => finish(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("session", onAccept).once("data", onAccept).once("error", onError).once("end", onEnd);
  });
}
