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
//     --table PATH [--token PATH] [--ca PATH] [--crl PATH] [--log-max-bytes N] [--log-keep K] [--rate N] [--burst N]
//
// --links is a JSON object: source address -> {"station", "link", "serial",
// "fingerprint"} (the operators' pools and each station's device serial and key
// fingerprint, from the inventory). A check-in counts only from a listed address,
// for that address's station, with a certificate of that station's device (CN = its
// serial) carrying the declared key (SHA-256 of its SubjectPublicKeyInfo). Signals: SIGHUP reopens the log (after
// rotation) and re-reads --links; SIGTERM (or SIGINT) closes and removes the
// socket and the pid file. --token is an nginx snippet with the token the local
// nginx sends (X-Amadegi-Token): a request without it is refused, so only that
// nginx can hand over check-ins. --ca is the devices' CA: a certificate nginx found on its
// CRL (X-Client-Verify "FAILED:certificate revoked") that this CA signed is kept as a
// rejected attempt (`revoked`, ADR 0008). Exit 2 when it cannot start. What it answers is in
// docs/rehearsal.md ("The check-in recorder").
//
// GET /metrics (through nginx, which lets only the monitor servers ask) is the table in
// Prometheus's text format: each link's latest check-in time and rejected attempts, and the
// nextUpdate of the devices' CRL nginx checks (--crl; read by openssl when the file changed): a
// lapsed CRL makes nginx refuse every device, so the monitor alerts before it lapses.
//
// --table is the latest check-in and the rejected attempts per listed <station>/<link>
// (ADR 0004, "The check-in table"): what a campaign reads. Bounded by construction (a
// key only for a link in --links, one summary for every unlisted source), written
// atomically at most once a second while it changes and on stop, read back at start.
// The log (every accepted and rejected attempt) rotates at --log-max-bytes, keeping
// --log-keep files (.1 the newest), between two records. A certificate checks in at
// most --rate times a minute after a burst of --burst (a token bucket): past that it
// is answered 429 and counted, with one `flood` rejected attempt a minute written.
import { Buffer } from "node:buffer";
import { createHash, timingSafeEqual, X509Certificate } from "node:crypto";
import {
  chmodSync,
  closeSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import { connect } from "node:net";
import { dirname } from "node:path";
import process from "node:process";
import { clearTimeout, setTimeout } from "node:timers";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const USAGE =
  "usage: node checkin-recorder.js --socket PATH --log PATH --links PATH --gateway ID --pid PATH --table PATH [--token PATH] [--ca PATH] [--crl PATH]" +
  " [--log-max-bytes N] [--log-keep K] [--rate PER_MINUTE] [--burst N]";
/** A device sends no body; anything larger than this is not a check-in. */
const MAX_BODY = 8192;
/** Every text field of a record is at most this long (the reader's limit too). */
const MAX_TEXT = 128;
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** What nginx's $ssl_client_verify says of a certificate on its CRL (OpenSSL's X509_V_ERR_CERT_REVOKED). */
const REVOKED = "FAILED:certificate revoked";
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
/** Defaults: the log rotates at 16 MiB keeping 5 files; a certificate checks in 10 times a minute after a burst of 20. */
const DEFAULTS = { logMaxBytes: 16 * 1024 * 1024, logKeep: 5, rate: 10, burst: 20 };
/** The table is written at most this often while it changes. */
const TABLE_EVERY_MS = 1000;
/** A link's rejected-attempt count starts again after this long (the reader shows a day's). */
const REJECTED_PERIOD_MS = 24 * 3_600_000;
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
        ca: { type: "string" },
        crl: { type: "string" },
        table: { type: "string" },
        "log-max-bytes": { type: "string" },
        "log-keep": { type: "string" },
        rate: { type: "string" },
        burst: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new StartError(`${error.message}\n${USAGE}`);
  }
  if (values.help === true) return undefined;
  const missing = ["socket", "log", "links", "gateway", "pid", "table"].filter((name) => typeof values[name] !== "string" || values[name] === "");
  if (missing.length > 0) throw new StartError(`missing ${missing.map((m) => `--${m}`).join(", ")}\n${USAGE}`);
  if (!ID.test(values.gateway)) throw new StartError(`--gateway ${JSON.stringify(values.gateway)} is not an inventory server id`);
  const count = (name, fallback, min) => {
    const text = values[name];
    if (text === undefined) return fallback;
    const n = /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN;
    if (!(n >= min)) throw new StartError(`--${name} ${JSON.stringify(text)} is not a whole number of at least ${min}`);
    return n;
  };
  return {
    ...values,
    logMaxBytes: count("log-max-bytes", DEFAULTS.logMaxBytes, 1024),
    logKeep: count("log-keep", DEFAULTS.logKeep, 1),
    rate: count("rate", DEFAULTS.rate, 1),
    burst: count("burst", DEFAULTS.burst, 1),
  };
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
    } else if (entry.district !== undefined && (typeof entry.district !== "string" || !ID.test(entry.district))) {
      problems.push(`${address}: "district" must be the station's district id`);
    } else {
      links.set(address, {
        station: entry.station,
        link: entry.link,
        ...(entry.district === undefined ? {} : { district: entry.district }),
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

/** --ca: the devices' CA certificate (PEM), which a revoked certificate must have been signed by to be kept. */
function readCa(file) {
  try {
    return new X509Certificate(readFileSync(file));
  } catch (error) {
    throw new StartError(`${file}: not a readable PEM certificate (${error.code ?? error.message})`);
  }
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
function judge(headers, links, gateway, now = new Date(), ca = undefined) {
  // Where nginx passes $ssl_client_verify, anything but SUCCESS is not a verified device; a revoked one
  // the election CA signed is kept as a rejected attempt (below), any other failure is refused unrecorded.
  const verify = headers["x-client-verify"];
  const revoked = verify === REVOKED;
  if (verify !== undefined && verify !== "SUCCESS" && !revoked)
    return { status: 403, reason: `the gateway did not verify the client certificate (${String(verify).slice(0, 64)})` };
  if (revoked && ca === undefined) return { status: 403, reason: "the client certificate is revoked" };
  const missing = ["x-client-cert", "x-source-address", "x-amadegi-station", "x-amadegi-link"].filter((name) => header(headers, name) === undefined);
  if (missing.length > 0) return { status: revoked ? 403 : 400, reason: `missing header ${missing.join(", ")}` };
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
  const certFingerprint = spkiFingerprint(cert);
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
      certFingerprint,
    },
  });
  if (revoked) {
    // nginx found it on the CRL: a security event only if the election CA really signed it (no forger fills the log).
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return { status: 403, reason: "a revoked client certificate the election CA did not sign" };
    return attempt("revoked", `device ${serial}'s certificate ${cert.serialNumber} is revoked (on the gateway's CRL)`);
  }
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

/**
 * Which check-ins a certificate may make: a token bucket per key (a certificate's fingerprint) of
 * `burst` tokens, refilled at `perMinute`. Bounded: past `maxKeys` keys the full buckets are
 * forgotten (a full bucket is what a new one is), and if that is not enough the table starts again.
 */
export class Buckets {
  constructor(perMinute, burst, maxKeys = 10_000) {
    this.perMs = perMinute / 60_000;
    this.burst = burst;
    this.maxKeys = maxKeys;
    this.keys = new Map();
  }

  /** 0: take it; else the seconds until a token is there (the request is over the limit). */
  take(key, now) {
    let bucket = this.keys.get(key);
    if (bucket === undefined) {
      if (this.keys.size >= this.maxKeys) this.forgetFull(now);
      bucket = { tokens: this.burst, at: now };
      this.keys.set(key, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + Math.max(0, now - bucket.at) * this.perMs);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs / 1000));
  }

  forgetFull(now) {
    for (const [key, b] of this.keys) if (b.tokens + (now - b.at) * this.perMs >= this.burst) this.keys.delete(key);
    if (this.keys.size >= this.maxKeys) this.keys.clear();
  }
}

/**
 * The log, opened O_APPEND: each record is one write at the end. Past `maxBytes` it rotates before
 * the next record (`.1` the newest of `keep`): the recorder writes synchronously, so no record is
 * between two files or lost. SIGHUP's reopen serves an outside logrotate too.
 */
class Log {
  constructor(path, maxBytes = Number.POSITIVE_INFINITY, keep = 1, onProblem = say) {
    this.path = path;
    this.maxBytes = maxBytes;
    this.keep = keep;
    this.onProblem = onProblem;
    mkdirSync(dirname(path), { recursive: true });
    this.open();
    /** A write that failed half-way leaves a fragment: the next record starts on a line of its own. */
    this.broken = false;
  }

  open() {
    const fd = openSync(this.path, "a", 0o640);
    const old = this.fd;
    this.fd = fd;
    this.size = fstatSync(fd).size;
    if (old !== undefined) closeSync(old);
  }

  append(line) {
    const bytes = Buffer.from(this.broken ? `\n${line}` : line, "utf8");
    if (this.size > 0 && this.size + bytes.length > this.maxBytes) this.rotate();
    let written = 0;
    try {
      // One write in practice (a record is < 1 KiB); a short write (disk full) is finished or marked broken.
      while (written < bytes.length) written += writeSync(this.fd, bytes, written, bytes.length - written);
      this.broken = false;
    } catch (error) {
      if (written > 0) this.broken = true;
      throw error;
    } finally {
      this.size += written;
    }
  }

  /** path.K-1 -> path.K … path -> path.1, then a new path. A rename that fails leaves it writing where it was. */
  rotate() {
    try {
      for (let i = this.keep - 1; i >= 1; i--) {
        try {
          renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
        } catch (error) {
          if (error.code !== "ENOENT") throw error;
        }
      }
      renameSync(this.path, `${this.path}.1`);
      this.open();
      this.broken = false;
    } catch (error) {
      this.onProblem(`could not rotate ${this.path} (${error.code ?? error.message}); still appending to it`);
      this.size = 0;
    }
  }

  reopen() {
    this.open();
    this.broken = false;
  }

  close() {
    closeSync(this.fd);
  }
}

/**
 * The latest check-in and the rejected attempts per `<station>/<link>` of the links file, and one
 * summary for every source that is none of them: at most (links + 1) entries, whatever arrives.
 * Keys are only ever the links file's validated ids, in a Map.
 */
class Table {
  constructor(gateway, links) {
    this.gateway = gateway;
    this.entries = new Map();
    /**
     * Each entry's JSON, kept until the entry changes, and the entries' keys in the file's order, kept
     * until one comes or goes: the table is written every second while devices check in, and a write
     * is then one join of the lines kept. For a national gateway's 500 links, 0.09–0.11 ms of CPU a
     * write instead of 0.24–0.37 ms sorting and serializing them all (issue 20, ADR 0013).
     */
    this.lines = new Map();
    this.order = undefined;
    this.unlisted = undefined;
    this.setLinks(links);
  }

  /** The links' keys; entries of links no longer listed go (SIGHUP with another links file). */
  setLinks(links) {
    this.allowed = new Set([...links.values()].map((l) => `${l.station}/${l.link}`));
    for (const key of this.entries.keys()) if (!this.allowed.has(key)) this.remove(key);
  }

  entry(station, link) {
    const key = `${station}/${link}`;
    if (!this.allowed.has(key)) return undefined;
    let e = this.entries.get(key);
    if (e === undefined) {
      this.entries.set(key, (e = { station, link }));
      this.order = undefined;
    }
    this.lines.delete(key);
    return e;
  }

  remove(key) {
    this.entries.delete(key);
    this.lines.delete(key);
    this.order = undefined;
  }

  checkin(record) {
    const e = this.entry(record.station, record.sourceLink);
    if (e !== undefined) e.checkin = record;
  }

  /** One rejected attempt (`count` of them: a suppressed one counts too), at its source's link or in the unlisted summary. */
  rejected(attempt, now) {
    const e = attempt.station === undefined ? undefined : this.entry(attempt.station, attempt.sourceLink);
    const seen = e === undefined ? this.unlisted : e.rejected;
    const fresh = seen === undefined || now - Date.parse(seen.since) >= REJECTED_PERIOD_MS;
    const summary = { count: fresh ? 1 : seen.count + 1, since: fresh ? attempt.time : seen.since, latest: attempt };
    if (e === undefined) this.unlisted = summary;
    else e.rejected = summary;
  }

  /**
   * The table as Prometheus's text format (GET /metrics, through nginx: the monitor scrapes it): each listed
   * link's latest check-in time and its day's rejected attempts, labelled with its station, link and district.
   */
  metrics(links) {
    const district = new Map([...links.values()].map((l) => [`${l.station}/${l.link}`, l.district]));
    const labels = (e) => {
      const d = district.get(`${e.station}/${e.link}`);
      return `{station="${metricValue(e.station)}",link="${metricValue(e.link)}"${d === undefined ? "" : `,district="${metricValue(d)}"`}}`;
    };
    const entries = [...this.entries.values()];
    const out = [
      "# HELP amadegi_checkin_last_timestamp_seconds When the link's device last checked in at this gateway.",
      "# TYPE amadegi_checkin_last_timestamp_seconds gauge",
      ...entries.filter((e) => e.checkin !== undefined).map((e) => `amadegi_checkin_last_timestamp_seconds${labels(e)} ${Date.parse(e.checkin.time) / 1000}`),
      "# HELP amadegi_checkin_rejected_attempts The link's rejected check-in attempts in the current day's count.",
      "# TYPE amadegi_checkin_rejected_attempts gauge",
      ...entries.filter((e) => e.rejected !== undefined).map((e) => `amadegi_checkin_rejected_attempts${labels(e)} ${e.rejected.count}`),
      "# HELP amadegi_checkin_links The links this gateway takes check-ins from.",
      "# TYPE amadegi_checkin_links gauge",
      `amadegi_checkin_links ${this.allowed.size}`,
    ];
    return `${out.join("\n")}\n`;
  }

  /** The file (ADR 0004): one JSON document. */
  text(now) {
    this.order ??= [...this.entries.values()]
      .sort((a, b) => (a.station < b.station ? -1 : a.station > b.station ? 1 : a.link < b.link ? -1 : 1))
      .map((e) => `${e.station}/${e.link}`);
    const links = this.order.map((key) => {
      let line = this.lines.get(key);
      if (line === undefined) this.lines.set(key, (line = JSON.stringify(this.entries.get(key))));
      return line;
    });
    const head = JSON.stringify({ v: 1, kind: "checkin-table", gateway: this.gateway, written: now.toISOString() });
    const unlisted = this.unlisted === undefined ? "" : `,"unlisted":${JSON.stringify(this.unlisted)}`;
    return `${head.slice(0, -1)},"links":[${links.join(",")}]${unlisted}}\n`;
  }

  /** Take back what an earlier run wrote: entries of links still listed; anything malformed is left out (and said). */
  restore(text, file) {
    let data;
    try {
      data = JSON.parse(text);
    } catch {
      return `${file}: not JSON; starting with an empty table`;
    }
    if (typeof data !== "object" || data === null || data.v !== 1 || data.kind !== "checkin-table" || !Array.isArray(data.links))
      return `${file}: not a check-in table of format 1; starting with an empty table`;
    let dropped = 0;
    for (const item of data.links) {
      const ok = typeof item === "object" && item !== null && typeof item.station === "string" && typeof item.link === "string";
      const e = ok ? this.entry(item.station, item.link) : undefined;
      if (e === undefined) {
        dropped += 1;
        continue;
      }
      if (isObject(item.checkin) && item.checkin.station === item.station && item.checkin.sourceLink === item.link) e.checkin = item.checkin;
      if (isSummary(item.rejected)) e.rejected = item.rejected;
      if (e.checkin === undefined && e.rejected === undefined) this.remove(`${e.station}/${e.link}`);
    }
    if (isSummary(data.unlisted)) this.unlisted = data.unlisted;
    return dropped === 0 ? undefined : `${file}: ${dropped} entries of links not in the links file (or malformed) left out`;
  }
}

/**
 * The nextUpdate of the devices' CRL (seconds since the epoch), read by openssl when the file's
 * identity (inode, size, mtime) changed since the last read; undefined while it cannot be read.
 */
class CrlWatch {
  constructor(file) {
    this.file = file;
    this.seen = undefined;
    this.nextUpdate = undefined;
  }

  async read() {
    let st;
    try {
      st = statSync(this.file);
    } catch {
      this.seen = undefined;
      this.nextUpdate = undefined;
      return undefined;
    }
    const seen = `${st.ino}/${st.size}/${st.mtimeMs}`;
    if (seen === this.seen) return this.nextUpdate;
    const stdout = await new Promise((resolve) => {
      execFile("openssl", ["crl", "-noout", "-nextupdate", "-dateopt", "iso_8601", "-in", this.file], { timeout: 5_000 }, (error, out) =>
        resolve(error === null ? out : undefined),
      );
    });
    const at = stdout === undefined ? undefined : /^nextUpdate=(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)Z$/m.exec(stdout);
    const ms = at === null || at === undefined ? Number.NaN : Date.parse(`${at[1]}T${at[2]}Z`);
    this.seen = seen;
    this.nextUpdate = Number.isFinite(ms) ? ms / 1000 : undefined;
    return this.nextUpdate;
  }
}

/** The CRL's lines of /metrics (none while it cannot be read: the rule sees the series vanish). */
function crlMetrics(nextUpdate) {
  if (nextUpdate === undefined) return "";
  return [
    "# HELP amadegi_device_crl_next_update_timestamp_seconds When the devices' CRL this gateway's nginx checks stops being valid (its nextUpdate).",
    "# TYPE amadegi_device_crl_next_update_timestamp_seconds gauge",
    `amadegi_device_crl_next_update_timestamp_seconds ${nextUpdate}`,
    "",
  ].join("\n");
}

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isSummary(value) {
  return isObject(value) && Number.isSafeInteger(value.count) && value.count > 0 && typeof value.since === "string" && isObject(value.latest);
}

/** Write `text` to `path` whole or not at all: a temporary file beside it, synced, renamed over it (0640). */
function writeAtomic(path, text) {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o640);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
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

/** A label value in Prometheus's text format: backslash, double quote and line feed escaped. */
function metricValue(text) {
  return text.replace(/[\\"\n]/g, (c) => (c === "\\" ? "\\\\" : c === '"' ? '\\"' : "\\n"));
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
  const ca = opts.ca === undefined ? undefined : readCa(opts.ca);
  const crl = opts.crl === undefined ? undefined : new CrlWatch(opts.crl);
  const log = new Log(opts.log, opts.logMaxBytes, opts.logKeep);
  const rejections = new Rejections();
  const buckets = new Buckets(opts.rate, opts.burst);
  // Before the table is touched: a live recorder on this socket keeps its own.
  await clearStaleSocket(opts.socket);
  mkdirSync(dirname(opts.socket), { recursive: true });
  const table = new Table(opts.gateway, links);
  let previous;
  try {
    previous = readFileSync(opts.table, "utf8");
  } catch (error) {
    if (error.code !== "ENOENT") say(`${opts.table}: cannot read the table (${error.code ?? error.message}); starting with an empty one`);
  }
  if (previous !== undefined) {
    const problem = table.restore(previous, opts.table);
    if (problem !== undefined) say(problem);
  }
  // Written at once: a table that exists says the recorder has run (the reader tells "none yet" from "no table").
  mkdirSync(dirname(opts.table), { recursive: true });
  let tableTimer;
  let tableWrittenAt = 0;
  const writeTable = () => {
    tableTimer = undefined;
    tableWrittenAt = Date.now();
    try {
      writeAtomic(opts.table, table.text(new Date()));
    } catch (error) {
      say(`could not write ${opts.table}: ${error.code ?? error.message}`);
    }
  };
  writeTable();
  /** The table changed: written within a second, never more often than once a second. */
  const changed = () => {
    if (tableTimer === undefined) tableTimer = setTimeout(writeTable, Math.max(0, tableWrittenAt + TABLE_EVERY_MS - Date.now()));
  };
  /** A rejected attempt: in the table always; in the log at most one a minute per certificate and reason (the rest counted in the next). */
  const keep = (attempt, now) => {
    table.rejected(attempt, now);
    changed();
    const suppressed = rejections.admit(`${attempt.certFingerprint} ${attempt.reason}`, now);
    if (suppressed === undefined) return false;
    try {
      log.append(`${JSON.stringify(suppressed > 0 ? { ...attempt, suppressed } : attempt)}\n`);
    } catch (error) {
      say(`could not append to ${opts.log}: ${error.code ?? error.message}`);
    }
    return true;
  };
  const server = createServer({ headersTimeout: 5_000, requestTimeout: 10_000 }, (req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path === "/metrics" && req.method === "GET") {
      if (!fromNginx(req.headers, token)) return answer(res, 403, "not from this gateway's nginx");
      const send = (nextUpdate) => {
        const body = table.metrics(links) + crlMetrics(nextUpdate);
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", "content-length": Buffer.byteLength(body) });
        res.end(body);
      };
      if (crl === undefined) return send(undefined);
      crl.read().then(send, () => send(undefined));
      return;
    }
    if (path !== "/checkin") return answer(res, 404, "not found: the recorder answers POST /checkin and GET /metrics only");
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
      const now = new Date();
      const verdict = judge(req.headers, links, opts.gateway, now, ca);
      const from = String(req.headers["x-source-address"] ?? "?").slice(0, 64);
      if (verdict.record === undefined) {
        // Said once per attempt kept in the log: a flood of refusals is not a flood of this log either.
        const written = verdict.attempt === undefined || keep(verdict.attempt, now.getTime());
        if (written) say(`refused ${verdict.status} from ${from}: ${verdict.reason}`);
        return answer(res, verdict.status, verdict.reason);
      }
      const { record } = verdict;
      const wait = buckets.take(record.certFingerprint, now.getTime());
      if (wait > 0) {
        // A flood: answered, counted at its link, never a check-in; the link's latest check-in stays what it was.
        const attempt = {
          v: 1,
          kind: "rejected",
          time: record.time,
          reason: "flood",
          detail: `device ${record.serial} checks in more than ${opts.rate} times a minute (burst ${opts.burst}) from ${record.source}`,
          serial: record.serial,
          claimedStation: record.station,
          station: record.station,
          sourceLink: record.sourceLink,
          source: record.source,
          gateway: record.gateway,
          certFingerprint: record.certFingerprint,
        };
        if (keep(attempt, now.getTime())) say(`refused 429 from ${from}: ${attempt.detail}`);
        res.setHeader("retry-after", String(wait));
        return answer(res, 429, `too many check-ins from this certificate; retry after ${wait} s`);
      }
      try {
        log.append(`${JSON.stringify(record)}\n`);
      } catch (error) {
        say(`could not append to ${opts.log}: ${error.code ?? error.message}`);
        return answer(res, 503, "the check-in could not be recorded");
      }
      table.checkin(record);
      changed();
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
      table.setLinks(links);
      changed();
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
      clearTimeout(tableTimer);
      writeTable();
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
  say(`gateway ${opts.gateway}: listening on ${opts.socket}, appending to ${opts.log}, the table in ${opts.table}, ${links.size} link addresses`);
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  main().catch((error) => {
    say(error instanceof StartError ? error.message : `failed: ${error.stack ?? error}`);
    process.exitCode = 2;
  });
}
