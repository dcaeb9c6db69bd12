// The device responder: `node responder.ts SPEC.json`, started by `amadegi
// rehearsal devices start` inside one operator's namespace
// (amadegi-r-op-<operator>), where that operator's station link addresses are
// local. It acts for every station device whose links the operator carries:
// over each such link it checks in to the station's gateway as the device
// would — a fresh mutual-TLS connection from the link's address, `POST
// /checkin` — on a jittered interval, and writes what happened per link.
// SIGTERM stops it (in-flight check-ins are abandoned, connections held to its
// routers' port closed, the status is written a last time). docs/rehearsal.md "Devices".
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { request, type RequestOptions } from "node:https";
import { createServer, type Socket } from "node:net";
import { checkServerIdentity, type ConnectionOptions, createSecureContext, type PeerCertificate, type SecureContext } from "node:tls";
import { writeFileAtomic } from "../lib/fs.ts";

export interface ResponderGateway {
  /** The gateway's inventory server id. */
  readonly id: string;
  readonly address: string;
  readonly port: number;
}

export interface ResponderDevice {
  readonly serial: string;
  readonly station: string;
  /** Its key and the certificate the stack issued (files). */
  readonly key: string;
  readonly cert: string;
  /** Gateway ids in the order tried: primary, then secondary. */
  readonly gateways: readonly string[];
  /** The links of this operator it checks in over. */
  readonly links: readonly { readonly id: string; readonly address: string }[];
}

export interface ResponderSpec {
  readonly version: 1;
  readonly operator: string;
  /** The rehearsal CA (PEM file): the only one trusted for the gateways' server certificates. */
  readonly ca: string;
  /** sha256 of the CA and the issued certificates when the spec was made (a re-issue changes the spec). */
  readonly trust?: string;
  /** JSON lines, rewritten whole: a header, then one line per link (LinkStatus). */
  readonly status: string;
  /** JSON lines, appended: one line per change of a link's state (LinkEvent). */
  readonly events: string;
  /** Mean time between two check-ins of one link. */
  readonly intervalMs: number;
  /** Each wait is intervalMs × (1 ± jitter), uniformly; 0 ≤ jitter < 1. */
  readonly jitter: number;
  /** Check-ins in flight at once; more wait their turn. */
  readonly maxInFlight: number;
  /** One connection attempt to one gateway: connect, handshake, answer. */
  readonly timeoutMs: number;
  /** How often the status file is rewritten (when something changed). */
  readonly statusEveryMs: number;
  readonly gateways: readonly ResponderGateway[];
  readonly devices: readonly ResponderDevice[];
}

/** Why one check-in failed (the ADR 0004 classes where they apply). */
export type CheckinFailure = "timeout" | "refused" | "reset" | "no-route" | "no-address" | "tls" | "http" | "internal";

export interface Attempt {
  /** When the attempt started (after waiting for a slot). */
  readonly at: string;
  /** When it ended: the answer that decided it arrived, or the last gateway was given up. The times below derive from this. */
  readonly end: string;
  readonly ok: boolean;
  /** The gateway that answered (ok), or the last one tried. */
  readonly gateway: string;
  readonly status?: number;
  readonly failure?: CheckinFailure;
  readonly error?: string;
  readonly ms: number;
  /** The primary failed first (how), and the secondary was tried. */
  readonly primaryFailed?: { readonly gateway: string; readonly failure: CheckinFailure; readonly error: string };
}

export type LinkState = "pending" | "ok" | "failing" | "no-certificate";

export interface LinkStatus {
  readonly type: "link";
  readonly operator: string;
  readonly serial: string;
  readonly station: string;
  readonly link: string;
  readonly address: string;
  state: LinkState;
  attempts: number;
  successes: number;
  last?: Attempt;
  lastSuccessAt?: string;
  /** The gateway of the latest success, and when the first success through it ended (a failover, or a return to the primary). */
  gateway?: string;
  gatewaySince?: string;
  /** End of the first failed attempt after a success (or of the first attempt): when the link was seen failing. */
  failedAt?: string;
  /** End of the first successful attempt after `failedAt`: drills measure recovery as recoveredAt − fault. */
  recoveredAt?: string;
  /** Why the device does not check in at all (no-certificate). */
  error?: string;
}

export interface ResponderHeader {
  readonly type: "responder";
  readonly operator: string;
  readonly pid: number;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly intervalMs: number;
  readonly links: number;
  readonly inFlight: number;
  readonly waiting: number;
  readonly stopped: boolean;
}

export interface LinkEvent {
  readonly at: string;
  readonly operator: string;
  readonly serial: string;
  readonly station: string;
  readonly link: string;
  readonly address: string;
  /** first success; failing (from ok or from the start); recovered (failing → ok); gateway (ok → ok through another gateway than the previous success). */
  readonly event: "ok" | "failed" | "recovered" | "gateway";
  readonly gateway: string;
  readonly failure?: CheckinFailure;
  readonly error?: string;
  readonly failedAt?: string;
}

const TLS_CODES = new Set([
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
]);

/** An error of one connection attempt → its class; `timedOut` says the attempt's own deadline fired. */
export function classify(error: unknown, timedOut: boolean): { failure: CheckinFailure; error: string } {
  const code = typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : "";
  const message = error instanceof Error ? error.message : String(error);
  const text = code === "" ? message : `${code}: ${message}`;
  if (timedOut) return { failure: "timeout", error: "no answer in time" };
  if (code === "ECONNREFUSED") return { failure: "refused", error: text };
  if (code === "ECONNRESET" || code === "EPIPE" || code === "ECONNABORTED") return { failure: "reset", error: text };
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH") return { failure: "no-route", error: text };
  if (code === "EADDRNOTAVAIL") return { failure: "no-address", error: text };
  if (code === "ETIMEDOUT") return { failure: "timeout", error: text };
  if (TLS_CODES.has(code) || code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_") || /alert|handshake/i.test(message))
    return { failure: "tls", error: text };
  return { failure: "internal", error: text };
}

/** The gateway's certificate must carry its address (IP SAN) or its inventory id (DNS SAN). */
function gatewayIdentity(gateway: ResponderGateway): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const byAddress = checkServerIdentity(gateway.address, cert);
    if (byAddress === undefined) return undefined;
    return checkServerIdentity(gateway.id, cert) === undefined ? undefined : byAddress;
  };
}

interface Outcome {
  readonly ok: boolean;
  readonly status?: number;
  readonly failure?: CheckinFailure;
  readonly error?: string;
}

/** One check-in: a new connection (no agent, no keep-alive, no session reuse) from `source` to the gateway. */
function checkin(
  gateway: ResponderGateway,
  source: string,
  context: SecureContext,
  headers: Record<string, string>,
  timeoutMs: number,
  stop: AbortSignal,
): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    let timedOut = false;
    const done = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    // https passes secureContext on to tls.connect (its types do not say so): the device's key,
    // certificate and trusted CA (Entry.context).
    const options: RequestOptions & Pick<ConnectionOptions, "secureContext"> = {
      host: gateway.address,
      port: gateway.port,
      method: "POST",
      path: "/checkin",
      family: 4,
      localAddress: source,
      agent: false,
      secureContext: context,
      checkServerIdentity: gatewayIdentity(gateway),
      headers: { ...headers, "content-length": "0", connection: "close" },
      signal: stop,
    };
    const req = request(options);
    const timer = setTimeout(() => {
      timedOut = true;
      req.destroy(new Error("timeout"));
    }, timeoutMs);
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        done(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status, failure: "http", error: `HTTP ${status}` });
      });
      res.on("error", (error) => done({ ok: false, ...classify(error, timedOut) }));
    });
    req.on("error", (error) => done({ ok: false, ...classify(error, timedOut) }));
    req.end();
  });
}

interface Entry {
  readonly status: LinkStatus;
  readonly device: ResponderDevice;
  readonly address: string;
  /**
   * The device's TLS context, built anew for each check-in from its key and certificate (read once):
   * a context kept per device was most of a responder's memory, about 45 KiB each, and a national
   * rehearsal has 58,640 devices (ADR 0013, "The links' prober"). Building one costs about 0.6 ms of
   * CPU; the check-in's full handshake costs more.
   */
  readonly context?: () => SecureContext;
  timer?: NodeJS.Timeout;
  /**
   * The status's line in the status file, kept until the status changes: the file is rewritten
   * every statusEveryMs, and serializing all of a national operator's 43,200 links each time was
   * 4.9 % of a busy responder's samples (perf; 0.07 % with the lines kept, ADR 0015).
   */
  line?: string | undefined;
}

/**
 * Frees a check-in's TLS context now. Its OpenSSL memory (about 36 KiB) would otherwise wait for V8 to
 * collect the context's wrapper, which a handshake keeps long enough to reach the old generation:
 * held at 2,000 stations, responders that dropped their contexts grew 200 MiB in 30 s (ADR 0013).
 * Node's SecureContext has `close()` for this, not in its documentation: where it is missing, the
 * context waits for the collector as before. A socket still open keeps its own reference (OpenSSL
 * counts them), so closing ours never breaks a handshake.
 */
function closeContext(context: SecureContext): void {
  const inner = (context as { context?: { close?: () => void } }).context;
  if (typeof inner?.close === "function") inner.close();
}

/**
 * The status file is written in pieces of this many lines (about 40 KiB), never as one string: a
 * national operator's file is 13–18 MiB every statusEveryMs, and made whole it was a large object
 * that only a full collection frees. Held at national size, the responders spent over a quarter of
 * their CPU collecting their old generation; in pieces, the four took 0.43 cores instead of 0.69
 * (issue 20, ADR 0013).
 */
const STATUS_PIECE_LINES = 100;

export function runResponder(spec: ResponderSpec): { stop: () => Promise<void> } {
  const startedAt = new Date().toISOString();
  const stopController = new AbortController();
  const gateways = new Map(spec.gateways.map((g) => [g.id, g]));
  let ca: Buffer | undefined;
  let caError: string | undefined;
  try {
    ca = readFileSync(spec.ca);
  } catch (error) {
    caError = `cannot read the rehearsal CA ${spec.ca}: ${error instanceof Error ? error.message : String(error)}`;
  }
  const entries: Entry[] = [];
  for (const device of spec.devices) {
    let context: (() => SecureContext) | undefined;
    let error = caError;
    if (ca !== undefined) {
      try {
        const options = { key: readFileSync(device.key), cert: readFileSync(device.cert), ca, minVersion: "TLSv1.2" } as const;
        // Built once here, so a key that does not fit its certificate is told at start; then dropped.
        createSecureContext(options);
        context = () => createSecureContext(options);
      } catch (failure) {
        const reason = failure instanceof Error ? failure.message : String(failure);
        error = `device ${device.serial}: no usable key and certificate (${device.key}, ${device.cert}): ${reason}`;
      }
    }
    for (const link of device.links) {
      const status: LinkStatus = {
        type: "link",
        operator: spec.operator,
        serial: device.serial,
        station: device.station,
        link: link.id,
        address: link.address,
        state: context === undefined ? "no-certificate" : "pending",
        attempts: 0,
        successes: 0,
        ...(context === undefined && error !== undefined ? { error } : {}),
      };
      entries.push({ status, device, address: link.address, ...(context === undefined ? {} : { context }) });
    }
  }

  const eventsFd = openSync(spec.events, "a", 0o644);
  const event = (e: LinkEvent): void => {
    // One write per line on an O_APPEND descriptor: a reader never sees half a line.
    writeSync(eventsFd, `${JSON.stringify(e)}\n`);
  };

  let inFlight = 0;
  const waiting: (() => void)[] = [];
  const acquire = async (): Promise<void> => {
    if (inFlight < spec.maxInFlight) {
      inFlight += 1;
      return;
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
  };
  const release = (): void => {
    const next = waiting.shift();
    if (next !== undefined) next();
    else inFlight -= 1;
  };

  let dirty = true;
  let stopped = false;
  let writing: Promise<void> = Promise.resolve();
  const writeStatus = (): Promise<void> => {
    dirty = false;
    const header: ResponderHeader = {
      type: "responder",
      operator: spec.operator,
      pid: process.pid,
      startedAt,
      updatedAt: new Date().toISOString(),
      intervalMs: spec.intervalMs,
      links: entries.length,
      inFlight,
      waiting: waiting.length,
      stopped,
    };
    const lines = (function* (): Generator<string> {
      yield `${JSON.stringify(header)}\n`;
      for (let from = 0; from < entries.length; from += STATUS_PIECE_LINES) {
        let piece = "";
        for (const e of entries.slice(from, from + STATUS_PIECE_LINES)) piece += `${(e.line ??= JSON.stringify(e.status))}\n`;
        yield piece;
      }
    })();
    writing = writing
      .then(() => writeFileAtomic(spec.status, lines, 0o644))
      .catch((error: unknown) => {
        process.stderr.write(`responder ${spec.operator}: cannot write ${spec.status}: ${error instanceof Error ? error.message : String(error)}\n`);
      });
    return writing;
  };

  const wait = (): number => spec.intervalMs * (1 + spec.jitter * (2 * Math.random() - 1));

  const attempt = async (entry: Entry, contextOf: () => SecureContext): Promise<void> => {
    await acquire();
    try {
      if (stopped) return;
      const context = contextOf();
      try {
        await checkInOnce(entry, context);
      } finally {
        closeContext(context);
      }
    } finally {
      release();
    }
  };

  const checkInOnce = async (entry: Entry, context: SecureContext): Promise<void> => {
    const at = new Date();
    const started = performance.now();
    const headers = { "x-amadegi-station": entry.device.station, "x-amadegi-link": entry.status.link };
    let result: Attempt | undefined;
    let primaryFailed: Attempt["primaryFailed"];
    // Primary first, every time; the secondary only when the primary did not take the check-in.
    for (const id of entry.device.gateways) {
      const gateway = gateways.get(id);
      if (gateway === undefined) continue;
      const outcome = await checkin(gateway, entry.address, context, headers, spec.timeoutMs, stopController.signal);
      if (stopped) return;
      result = {
        at: at.toISOString(),
        end: new Date().toISOString(),
        ok: outcome.ok,
        gateway: id,
        ...(outcome.status === undefined ? {} : { status: outcome.status }),
        ...(outcome.failure === undefined ? {} : { failure: outcome.failure }),
        ...(outcome.error === undefined ? {} : { error: outcome.error }),
        ms: Math.round(performance.now() - started),
        ...(primaryFailed === undefined ? {} : { primaryFailed }),
      };
      if (outcome.ok) break;
      primaryFailed ??= { gateway: id, failure: outcome.failure ?? "internal", error: outcome.error ?? "" };
    }
    if (result === undefined) return;
    record(entry, result);
  };

  const record = (entry: Entry, result: Attempt): void => {
    const status = entry.status;
    entry.line = undefined;
    const before = status.state;
    const previousGateway = status.gateway;
    status.attempts += 1;
    status.last = result;
    dirty = true;
    const base = {
      at: result.end,
      operator: status.operator,
      serial: status.serial,
      station: status.station,
      link: status.link,
      address: status.address,
      gateway: result.gateway,
    };
    if (result.ok) {
      status.successes += 1;
      status.lastSuccessAt = result.end;
      status.state = "ok";
      if (previousGateway !== result.gateway) {
        status.gateway = result.gateway;
        status.gatewaySince = result.end;
      }
      if (before === "failing") {
        status.recoveredAt = result.end;
        event({ ...base, event: "recovered", ...(status.failedAt === undefined ? {} : { failedAt: status.failedAt }) });
      } else if (before === "pending") event({ ...base, event: "ok" });
      else if (previousGateway !== undefined && previousGateway !== result.gateway) event({ ...base, event: "gateway" });
      return;
    }
    status.state = "failing";
    if (before !== "failing") {
      status.failedAt = result.end;
      event({
        ...base,
        event: "failed",
        ...(result.failure === undefined ? {} : { failure: result.failure }),
        ...(result.error === undefined ? {} : { error: result.error }),
      });
    }
  };

  const schedule = (entry: Entry, context: () => SecureContext, delay: number): void => {
    entry.timer = setTimeout(() => {
      void attempt(entry, context).then(() => {
        if (!stopped) schedule(entry, context, wait());
      });
    }, delay);
  };
  // The first round is spread over one interval: no burst of handshakes at start.
  for (const entry of entries) if (entry.context !== undefined) schedule(entry, entry.context, Math.random() * spec.intervalMs);

  const statusTimer = setInterval(() => {
    if (dirty) void writeStatus();
  }, spec.statusEveryMs);
  void writeStatus();
  const ready = entries.filter((e) => e.context !== undefined).length;
  process.stderr.write(
    `${startedAt} responder ${spec.operator}: ${spec.devices.length} devices, ${entries.length} links (${entries.length - ready} without a certificate), ` +
      `every ${spec.intervalMs} ms ± ${Math.round(spec.jitter * 100)} %\n`,
  );
  if (caError !== undefined) process.stderr.write(`responder ${spec.operator}: ${caError}\n`);

  return {
    stop: async () => {
      if (stopped) return;
      stopped = true;
      clearInterval(statusTimer);
      for (const entry of entries) clearTimeout(entry.timer);
      // In-flight check-ins end at once (aborted); those waiting for a slot then see `stopped` and return.
      stopController.abort();
      await writeStatus();
      closeSync(eventsFd);
    },
  };
}

/** Read a responder's status file: its header and its links (undefined when there is none or it is not one). */
export function readResponderStatus(file: string): { header: ResponderHeader; links: LinkStatus[] } | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const lines = text.split("\n").filter((l) => l !== "");
  try {
    const [first, ...rest] = lines.map((l) => JSON.parse(l) as unknown);
    if (typeof first !== "object" || first === null || (first as { type?: unknown }).type !== "responder") return undefined;
    return {
      header: first as ResponderHeader,
      links: rest.filter((l): l is LinkStatus => typeof l === "object" && l !== null && (l as { type?: unknown }).type === "link"),
    };
  } catch {
    return undefined;
  }
}

/** The routers' port's accept queue (listen(2)'s backlog). */
export const ROUTERS_BACKLOG = 4096;

const specFile = process.argv[2];
if (import.meta.filename === process.argv[1] && specFile !== undefined) {
  const spec = JSON.parse(readFileSync(specFile, "utf8")) as ResponderSpec;
  if (spec.version !== 1) throw new Error(`${specFile}: not a responder spec (version 1)`);
  const responder = runResponder(spec);
  // The stations' routers: their management port (checks/links.yaml link-tcp) answers on every link
  // address this operator's namespace holds (`ip route add local`: a socket on 0.0.0.0 gets them all).
  const open = new Set<Socket>();
  const routers = createServer((socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
    socket.on("error", () => undefined);
    socket.end("SSH-2.0-amadegi-rehearsal-router\r\n");
  });
  routers.on("error", (error) => process.stderr.write(`${new Date().toISOString()} responder ${spec.operator}: the routers' port 22: ${error.message}\n`));
  // A deep accept queue: this process's loop also makes the devices' check-ins, and a national campaign's TCP probes
  // arrive by the thousand a second. With node's default (511) the kernel dropped their SYNs (TcpExtListenOverflows:
  // 1,924 in one national check), and each dropped probe waited a second for its retry: the rehearsal's own load,
  // judged as the links' (issue 20). The namespace's net.core.somaxconn (4096 by default) caps it.
  routers.listen({ port: 22, host: "0.0.0.0", backlog: ROUTERS_BACKLOG });
  const stop = (): void => {
    // A peer that keeps its end of a connection open (a probe cut off mid-connection) must not hold the
    // responder after its status is written, until `devices stop` kills it after its grace (issue 20).
    routers.close();
    for (const socket of open) socket.destroy();
    void responder.stop().then(() => process.stderr.write(`${new Date().toISOString()} responder ${spec.operator}: stopped\n`));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.on("SIGHUP", () => undefined);
}
