#!/usr/bin/env node
// The check-in recorder: the small step behind a gateway's nginx that turns
// each accepted device connection into one check-in record (ADR 0004).
//
// nginx terminates the device's mutual TLS and proxies `POST /checkin` to this
// program's unix socket with the client certificate (X-Client-Cert, URL-escaped
// PEM), the source address (X-Source-Address), the TLS version (X-TLS-Protocol)
// and the device's own X-Amadegi-Station and X-Amadegi-Link. nginx gives the
// certificate, not the fingerprint of its public key: that is computed here.
//
// Plain JavaScript, Node >= 20 built-ins only: it is copied to gateway servers
// as one file and run as
//
//   node checkin-recorder.js --socket PATH --log PATH --links PATH --gateway ID --pid PATH
//
// --links is a JSON object: source address -> {"station", "link", "serial",
// "fingerprint"} (the operators' pools and each station's device serial and key
// fingerprint, from the inventory). A check-in counts only from a listed address,
// for that address's station, with a certificate of that station's device (CN = its
// serial) carrying the declared key (SHA-256 of its SubjectPublicKeyInfo). Signals: SIGHUP reopens the log (after
// rotation) and re-reads --links; SIGTERM (or SIGINT) closes and removes the
// socket and the pid file. --token is an nginx snippet with the token the local
// nginx sends (X-Amadegi-Token): a request without it is refused, so only that
// nginx can hand over check-ins. Exit 2 when it cannot start. What it answers is in
// docs/rehearsal.md ("The check-in recorder").
import { Buffer } from "node:buffer";
import { createHash, timingSafeEqual, X509Certificate } from "node:crypto";
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { createServer } from "node:http";
import { connect } from "node:net";
import { dirname } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const USAGE = "usage: node checkin-recorder.js --socket PATH --log PATH --links PATH --gateway ID --pid PATH [--token PATH]";
/** A device sends no body; anything larger than this is not a check-in. */
const MAX_BODY = 8192;
/** Every text field of a record is at most this long (the reader's limit too). */
const MAX_TEXT = 128;
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

class StartError extends Error {}

/** 1 to MAX_TEXT characters, none of them a control character (a record is one line). */
function printable(text) {
  if (text.length === 0 || text.length > MAX_TEXT) return false;
  for (const ch of text) {
    const code = ch.codePointAt(0);
    if (code < 0x20 || code === 0x7f) return false;
  }
  return true;
}

function say(line) {
  process.stderr.write(`${new Date().toISOString()} checkin-recorder: ${line}\n`);
}

function options(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        socket: { type: "string" },
        log: { type: "string" },
        links: { type: "string" },
        gateway: { type: "string" },
        pid: { type: "string" },
        token: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new StartError(`${error.message}\n${USAGE}`);
  }
  if (values.help === true) return undefined;
  const missing = ["socket", "log", "links", "gateway", "pid"].filter((name) => typeof values[name] !== "string" || values[name] === "");
  if (missing.length > 0) throw new StartError(`missing ${missing.map((m) => `--${m}`).join(", ")}\n${USAGE}`);
  if (!ID.test(values.gateway)) throw new StartError(`--gateway ${JSON.stringify(values.gateway)} is not an inventory server id`);
  return values;
}

/** links.json: address -> {station, link}. Every bad entry is named, with the file. */
function parseLinks(text, file) {
  let data;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new StartError(`${file}: not JSON (${error.message})`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw new StartError(`${file}: expected an object of source address -> {"station", "link"}`);
  const links = new Map();
  const problems = [];
  for (const [address, entry] of Object.entries(data)) {
    if (!IPV4.test(address)) problems.push(`${JSON.stringify(address)} is not an IPv4 address`);
    else if (typeof entry !== "object" || entry === null || typeof entry.station !== "string" || typeof entry.link !== "string" || !ID.test(entry.station) || !ID.test(entry.link)) {
      problems.push(`${address}: expected {"station": "<id>", "link": "<id>", "serial": "<device serial>"}`);
    } else if (entry.serial !== undefined && (typeof entry.serial !== "string" || !printable(entry.serial))) {
      problems.push(`${address}: "serial" must be the station's device serial (printable text)`);
    } else if (entry.fingerprint !== undefined && (typeof entry.fingerprint !== "string" || !FINGERPRINT.test(entry.fingerprint))) {
      problems.push(`${address}: "fingerprint" must be the device key's SHA256:<43 base64 characters>`);
    } else {
      links.set(address, {
        station: entry.station,
        link: entry.link,
        ...(entry.serial === undefined ? {} : { serial: entry.serial }),
        ...(entry.fingerprint === undefined ? {} : { fingerprint: entry.fingerprint }),
      });
    }
  }
  if (problems.length > 0) throw new StartError(`${file}: ${problems.length} bad entries: ${problems.slice(0, 5).join("; ")}${problems.length > 5 ? "; …" : ""}`);
  return links;
}

/** The token in --token's nginx snippet (`proxy_set_header X-Amadegi-Token "<64 hex>";`): what only the local nginx sends. */
function readToken(file) {
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new StartError(`${file}: cannot read the token file (${error.code ?? error.message})`);
  }
  const match = /X-Amadegi-Token "([0-9a-f]{64})"/.exec(text);
  if (match === null) throw new StartError(`${file}: no X-Amadegi-Token "<64 hex digits>" in it; remove it and start again to make a new one`);
  return Buffer.from(match[1], "utf8");
}

/** Whether the request carries the token (compared in constant time). */
function fromNginx(headers, token) {
  if (token === undefined) return true;
  const given = headers["x-amadegi-token"];
  if (typeof given !== "string" || given.length !== token.length) return false;
  return timingSafeEqual(Buffer.from(given, "utf8"), token);
}

/** The certificate subject's one CN (Node prints the subject as `K=V` lines). */
function commonName(cert) {
  const names = cert.subject.split("\n").filter((line) => line.startsWith("CN=")).map((line) => line.slice(3));
  return names.length === 1 ? names[0] : undefined;
}

/** `SHA256:` + unpadded base64 of SHA-256 over the SubjectPublicKeyInfo (DER): the inventory's device.fingerprint form. */
function spkiFingerprint(cert) {
  const der = cert.publicKey.export({ type: "spki", format: "der" });
  return `SHA256:${createHash("sha256").update(der).digest("base64").replace(/=+$/, "")}`;
}

function header(headers, name) {
  const value = headers[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * Judge one check-in from the headers nginx passed: a record to append, or a
 * refusal (status and reason).
 */
function judge(headers, links, gateway, now = new Date()) {
  const missing = ["x-client-cert", "x-source-address", "x-amadegi-station", "x-amadegi-link"].filter((name) => header(headers, name) === undefined);
  if (missing.length > 0) return { status: 400, reason: `missing header ${missing.join(", ")}` };
  // Where nginx passes $ssl_client_verify, anything but SUCCESS is not a verified device.
  const verify = headers["x-client-verify"];
  if (verify !== undefined && verify !== "SUCCESS") return { status: 403, reason: `the gateway did not verify the client certificate (${String(verify).slice(0, 64)})` };
  const station = header(headers, "x-amadegi-station");
  const link = header(headers, "x-amadegi-link");
  const source = header(headers, "x-source-address");
  if (!ID.test(station)) return { status: 400, reason: "X-Amadegi-Station is not a station id" };
  if (!ID.test(link)) return { status: 400, reason: "X-Amadegi-Link is not a link id" };
  if (!IPV4.test(source)) return { status: 400, reason: "X-Source-Address is not an IPv4 address" };
  let cert;
  try {
    cert = new X509Certificate(decodeURIComponent(header(headers, "x-client-cert")));
  } catch {
    return { status: 400, reason: "X-Client-Cert is not a URL-escaped PEM certificate" };
  }
  const serial = commonName(cert);
  if (serial === undefined || !printable(serial)) return { status: 400, reason: "the client certificate's subject has no single printable CN (the device serial)" };
  // The station and link are the network's word (the source address), never only the device's (issue 17).
  // A refusal here is an attempt by a certificate the CA signed: kept as a rejected attempt (a security event).
  const known = links.get(source);
  const attempt = (reason, detail) => ({
    status: 403,
    reason: detail,
    attempt: {
      v: 1,
      kind: "rejected",
      time: now.toISOString(),
      reason,
      detail,
      serial,
      claimedStation: station,
      ...(known === undefined ? {} : { station: known.station, sourceLink: known.link }),
      source,
      gateway,
      certFingerprint: spkiFingerprint(cert),
    },
  });
  if (known === undefined) {
    return attempt("unlisted-source", `source ${source} is none of the link addresses this gateway serves; the device ${serial} claims station ${station}`);
  }
  if (known.station !== station) {
    return attempt("other-station", `source ${source} is link ${known.link} of station ${known.station}; the device ${serial} claims station ${station}`);
  }
  if (known.serial !== undefined && known.serial !== serial) {
    return attempt("other-device", `the client certificate is device ${serial}'s; station ${known.station}'s device is ${known.serial}`);
  }
  // The certificate names the right serial, but its key must be the one the inventory declares for that device.
  const certFingerprint = spkiFingerprint(cert);
  if (known.fingerprint !== undefined && known.fingerprint !== certFingerprint) {
    return attempt("other-key", `device ${serial}'s certificate carries key ${certFingerprint}; the inventory declares ${known.fingerprint}`);
  }
  const tls = header(headers, "x-tls-protocol");
  const record = {
    v: 1,
    time: now.toISOString(),
    serial,
    station,
    link,
    sourceLink: known.link,
    source,
    gateway,
    certFingerprint,
    ...(tls !== undefined && printable(tls) ? { tlsVersion: tls } : {}),
  };
  return { status: 204, record };
}

/**
 * Which rejected attempts are written: the first of a key (a certificate's fingerprint and the reason) in each
 * window; the others are counted and the count goes with the next one written. Bounded: past
 * `maxKeys` keys the table starts again (a flood of distinct certificates is still one a minute each).
 */
export class Rejections {
  constructor(windowMs = 60_000, maxKeys = 10_000) {
    this.windowMs = windowMs;
    this.maxKeys = maxKeys;
    this.keys = new Map();
  }

  /** undefined: do not write it; a number: write it, with this many suppressed before it. */
  admit(key, now) {
    const seen = this.keys.get(key);
    if (seen !== undefined && now - seen.at < this.windowMs) {
      seen.suppressed += 1;
      return undefined;
    }
    const suppressed = seen?.suppressed ?? 0;
    if (seen === undefined && this.keys.size >= this.maxKeys) this.keys.clear();
    this.keys.set(key, { at: now, suppressed: 0 });
    return suppressed;
  }
}

/** The log, opened O_APPEND: each record is one write at the end, whatever else appends. */
class Log {
  constructor(path) {
    this.path = path;
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, "a", 0o640);
    /** A write that failed half-way leaves a fragment: the next record starts on a line of its own. */
    this.broken = false;
  }

  append(line) {
    const bytes = Buffer.from(this.broken ? `\n${line}` : line, "utf8");
    let written = 0;
    try {
      // One write in practice (a record is < 1 KiB); a short write (disk full) is finished or marked broken.
      while (written < bytes.length) written += writeSync(this.fd, bytes, written, bytes.length - written);
      this.broken = false;
    } catch (error) {
      if (written > 0) this.broken = true;
      throw error;
    }
  }

  reopen() {
    const fd = openSync(this.path, "a", 0o640);
    const old = this.fd;
    this.fd = fd;
    this.broken = false;
    closeSync(old);
  }

  close() {
    closeSync(this.fd);
  }
}

/** Remove a socket file nobody answers on; refuse a live one or a path that is not a socket. */
async function clearStaleSocket(path) {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new StartError(`${path} exists and is not a socket: remove it or choose another --socket`);
  const live = await new Promise((resolve) => {
    const probe = connect(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
  if (live) throw new StartError(`${path}: another process is listening on it (another recorder?); stop it first`);
  rmSync(path, { force: true });
}

function writePid(path) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${process.pid}\n`, { mode: 0o644 });
  renameSync(tmp, path);
}

function answer(res, status, reason) {
  if (status === 204) {
    res.writeHead(204);
    res.end();
    return;
  }
  const body = `${reason}\n`;
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

async function main() {
  const opts = options(process.argv.slice(2));
  if (opts === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const readLinks = () => {
    let text;
    try {
      text = readFileSync(opts.links, "utf8");
    } catch (error) {
      throw new StartError(`${opts.links}: cannot read the links file (${error.code ?? error.message})`);
    }
    return parseLinks(text, opts.links);
  };
  let links = readLinks();
  const token = opts.token === undefined ? undefined : readToken(opts.token);
  const log = new Log(opts.log);
  const rejections = new Rejections();
  await clearStaleSocket(opts.socket);
  mkdirSync(dirname(opts.socket), { recursive: true });

  const server = createServer({ headersTimeout: 5_000, requestTimeout: 10_000 }, (req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/checkin") return answer(res, 404, "not found: the recorder answers POST /checkin only");
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      return answer(res, 405, "method not allowed: POST /checkin");
    }
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
    });
    req.on("end", () => {
      if (size > MAX_BODY) return answer(res, 413, `a check-in has no body (got ${size} bytes)`);
      if (!fromNginx(req.headers, token)) {
        say("refused 403: a request without this gateway's nginx token (not through nginx)");
        return answer(res, 403, "not from this gateway's nginx");
      }
      const verdict = judge(req.headers, links, opts.gateway);
      if (verdict.record === undefined) {
        say(`refused ${verdict.status} from ${String(req.headers["x-source-address"] ?? "?").slice(0, 64)}: ${verdict.reason}`);
        if (verdict.attempt !== undefined) {
          // Kept, at most one a minute per certificate and reason (the rest counted in the next): a flood cannot drown the log.
          const suppressed = rejections.admit(`${verdict.attempt.certFingerprint} ${verdict.attempt.reason}`, Date.now());
          if (suppressed !== undefined) {
            try {
              log.append(`${JSON.stringify(suppressed > 0 ? { ...verdict.attempt, suppressed } : verdict.attempt)}\n`);
            } catch (error) {
              say(`could not append to ${opts.log}: ${error.code ?? error.message}`);
            }
          }
        }
        return answer(res, verdict.status, verdict.reason);
      }
      try {
        log.append(`${JSON.stringify(verdict.record)}\n`);
      } catch (error) {
        say(`could not append to ${opts.log}: ${error.code ?? error.message}`);
        return answer(res, 503, "the check-in could not be recorded");
      }
      return answer(res, 204);
    });
    req.on("error", () => undefined);
  });

  // The socket is created 0660 from the start: no moment in which others could connect.
  const umask = process.umask(0o117);
  try {
    await new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.socket, resolve);
    });
  } catch (error) {
    throw new StartError(`cannot listen on ${opts.socket}: ${error.code ?? error.message}`);
  } finally {
    process.umask(umask);
  }
  chmodSync(opts.socket, 0o660);

  process.on("SIGHUP", () => {
    try {
      log.reopen();
    } catch (error) {
      say(`SIGHUP: could not reopen ${opts.log} (${error.code ?? error.message}); still writing to the old file`);
    }
    try {
      links = readLinks();
      say(`SIGHUP: reopened ${opts.log}; ${links.size} link addresses`);
    } catch (error) {
      say(`SIGHUP: ${error.message}; keeping the previous ${links.size} link addresses`);
    }
  });
  let stopping = false;
  const stop = (signal) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping`);
    server.close(() => {
      log.close();
      rmSync(opts.socket, { force: true });
      try {
        if (readFileSync(opts.pid, "utf8").trim() === String(process.pid)) rmSync(opts.pid, { force: true });
      } catch {
        // no pid file: nothing to remove
      }
    });
    server.closeAllConnections();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  // Ready only now, with its signals handled: a stop command that reads the pid file, or anyone
  // who saw this line, may signal it at once (a signal before its handler would kill it instead).
  writePid(opts.pid);
  say(`gateway ${opts.gateway}: listening on ${opts.socket}, appending to ${opts.log}, ${links.size} link addresses`);
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  main().catch((error) => {
    say(error instanceof StartError ? error.message : `failed: ${error.stack ?? error}`);
    process.exitCode = 2;
  });
}
