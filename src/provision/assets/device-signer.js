#!/usr/bin/env node
// The device signer: the devices' client certificates, signed from their requests and bound to the
// inventory (issue 17). Plain JavaScript, Node >= 20 built-ins only (node:crypto, node:fs), one
// file: the stack sends it to the `pki` server, which keeps the authority's key, with the requests
// (devicesScript and devicesSignScript, src/provision/scripts.ts; ADR 0008), and runs it there.
//
//   node device-signer.js < authority.pem   (the authority's certificate, then its key)
//
// Environment: AMADEGI_REQUESTS (a directory of the devices' `<serial>.csr`, or a tar of them at its
// top: the stack sends one, and 58,640 requests are read from it without being written out as files),
// AMADEGI_ISSUED (where `<serial>.crt`
// and the authority's `ca.crt` go), AMADEGI_DECLARED (a JSON object: serial -> the SHA256
// fingerprint of the device's key, from the inventory's stations[].device), AMADEGI_DECLARED_SHA256
// (optional: the sha256 that file must have), AMADEGI_REVOKED (a file naming the devices the committee
// revoked, one serial a line; required, empty when none) and AMADEGI_UNTIL (the last day of validity, UTC).
//
// A request is signed only if its file's name is a declared serial, its own signature verifies and
// the fingerprint of its key (SHA256: + unpadded base64 of SHA-256 over the SubjectPublicKeyInfo
// DER, as `spkiFingerprint` of the check-in recorder computes it) is the declared one. What the
// request asks for beyond its key is ignored: the certificate is subject CN=<serial>,
// basicConstraints critical CA:FALSE, keyUsage critical digitalSignature, extendedKeyUsage
// clientAuth, valid from now until AMADEGI_UNTIL 23:59:59 UTC.
//
// A device AMADEGI_REVOKED names is issued no certificate again: a certificate it already has is on
// the CRL (made before each signing, ADR 0021), and a new one would not be. The list comes with the
// requests, from the stack's own revocations, every run: a signer without it refuses to sign at all
// (before, it read a file the CRL's command left on the pki server, and signed for everyone when that
// file was gone).
//
// Incremental: AMADEGI_ISSUED/.issued.json holds the authority (sha256 of its certificate), the
// validity and, per certificate, the sha256 of the request and the fingerprint it was signed for.
// Only a new or changed request, a changed declared fingerprint, a certificate that is gone, another
// authority or another validity signs again. The issued directory holds ca.crt and exactly the
// certificates of that manifest: a certificate whose request is now refused, or whose serial left
// the inventory, is removed. AMADEGI_ISSUED/.serials logs every certificate ever issued
// (`<certificate serial> <device serial>`, appended before the certificate is written): a
// revocation puts all of a device's certificates on the CRL (CRL_SCRIPT, ADR 0008).
//
// A refused request does not fail the run: it is named with its reason on stderr ("refused SERIAL:
// reason: detail", the first 100) and in AMADEGI_ISSUED/.refused.json (all of them); stdout is one
// JSON line {"certificates","signed","kept","removed","refusedCount","refused"} (the first 100
// refusals, serial -> "reason: detail"). Reasons: undeclared, revoked, bad-request, bad-signature, other-key.
// Exit 2 when the inputs themselves are wrong (the authority, the declared list, the date).
import { Buffer } from "node:buffer";
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify, X509Certificate } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";

const SHOWN = 100;

class Refused extends Error {
  constructor(reason, detail) {
    super(detail);
    this.reason = reason;
  }
}

class Unusable extends Error {}

// ---- DER, the little of it a request and a certificate need ----

/** The element at `pos` of `buf`: its tag, where its value starts and where it ends. */
function element(buf, pos, limit = buf.length) {
  if (pos + 2 > limit) throw new Error("truncated DER");
  const tag = buf[pos];
  let length = buf[pos + 1];
  let start = pos + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) throw new Error("bad DER length");
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[start + i];
    start += n;
  }
  const end = start + length;
  if (end > limit) throw new Error("truncated DER");
  return { tag, pos, start, end };
}

/** The elements inside a constructed one. */
function children(buf, parent) {
  const list = [];
  for (let pos = parent.start; pos < parent.end;) {
    const child = element(buf, pos, parent.end);
    list.push(child);
    pos = child.end;
  }
  return list;
}

const raw = (buf, e) => buf.subarray(e.pos, e.end);
const value = (buf, e) => buf.subarray(e.start, e.end);

function encode(tag, ...parts) {
  const body = Buffer.concat(parts);
  const n = body.length;
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : n < 0x10000 ? Buffer.from([0x82, n >> 8, n & 0xff]) : null;
  if (length === null) throw new Error("DER element too long");
  return Buffer.concat([Buffer.from([tag]), length, body]);
}

const seq = (...parts) => encode(0x30, ...parts);

function oid(dotted) {
  const [a, b, ...rest] = dotted.split(".").map(Number);
  const bytes = [a * 40 + b];
  for (const arc of rest) {
    const groups = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) groups.unshift((v & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return encode(0x06, Buffer.from(bytes));
}

function dotted(bytes) {
  const arcs = [];
  let v = 0;
  for (const byte of bytes) {
    v = v * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(v);
      v = 0;
    }
  }
  const first = arcs.shift() ?? 0;
  return [first < 80 ? Math.floor(first / 40) : 2, first < 80 ? first % 40 : first - 80, ...arcs].join(".");
}

function time(date) {
  const iso = date.toISOString().replace(/[-:T]|\.\d+/g, "");
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050 ? encode(0x17, Buffer.from(iso.slice(2))) : encode(0x18, Buffer.from(iso));
}

function extension(id, critical, content) {
  return seq(oid(id), ...(critical ? [Buffer.from([0x01, 0x01, 0xff])] : []), encode(0x04, content));
}

// ---- Algorithms ----

const SIGNATURES = new Map([
  ["1.2.840.10045.4.3.2", { hash: "sha256", key: "ec" }],
  ["1.2.840.10045.4.3.3", { hash: "sha384", key: "ec" }],
  ["1.2.840.10045.4.3.4", { hash: "sha512", key: "ec" }],
  ["1.2.840.113549.1.1.11", { hash: "sha256", key: "rsa" }],
  ["1.2.840.113549.1.1.12", { hash: "sha384", key: "rsa" }],
  ["1.2.840.113549.1.1.13", { hash: "sha512", key: "rsa" }],
  ["1.3.101.112", { hash: null, key: "ed25519" }],
]);

/** How the authority signs: the hash and the AlgorithmIdentifier, from its key. */
function signingOf(key) {
  const type = key.asymmetricKeyType;
  if (type === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const hash = { prime256v1: "sha256", secp384r1: "sha384", secp521r1: "sha512" }[curve];
    if (hash === undefined) throw new Unusable(`the authority's curve ${curve} is not one of P-256, P-384, P-521`);
    return { hash, algorithm: seq(oid({ sha256: "1.2.840.10045.4.3.2", sha384: "1.2.840.10045.4.3.3", sha512: "1.2.840.10045.4.3.4" }[hash])) };
  }
  if (type === "rsa") return { hash: "sha256", algorithm: seq(oid("1.2.840.113549.1.1.11"), Buffer.from([0x05, 0x00])) };
  if (type === "ed25519") return { hash: null, algorithm: seq(oid("1.3.101.112")) };
  throw new Unusable(`the authority's key is ${type}: not EC, RSA or Ed25519`);
}

/** SHA256: and the unpadded base64 of SHA-256 over the key's SubjectPublicKeyInfo DER. */
export function fingerprintOf(spki) {
  return `SHA256:${createHash("sha256").update(spki).digest("base64").replace(/=+$/, "")}`;
}

// ---- A request ----

function derOf(text, what) {
  const pem = /-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----([\s\S]+?)-----END (?:NEW )?CERTIFICATE REQUEST-----/.exec(text.toString("latin1"));
  if (pem !== null) return Buffer.from(pem[1].replace(/\s+/g, ""), "base64");
  if (text[0] === 0x30) return text;
  throw new Refused("bad-request", `${what} is not a PKCS#10 request (PEM or DER)`);
}

/**
 * A request's key, once its own signature verifies: the re-encoded SubjectPublicKeyInfo (what the
 * certificate carries and the fingerprint is over) and its fingerprint. Throws Refused.
 */
export function checkRequest(content, what = "the request") {
  const der = derOf(content, what);
  let info, algorithm, signature, spki;
  try {
    const top = element(der, 0);
    if (top.tag !== 0x30 || top.end !== der.length) throw new Error("not one SEQUENCE");
    [info, algorithm, signature] = children(der, top);
    if (info?.tag !== 0x30 || algorithm?.tag !== 0x30 || signature?.tag !== 0x03) throw new Error("not request, algorithm, signature");
    const fields = children(der, info);
    spki = fields[2];
    if (fields[0]?.tag !== 0x02 || fields[1]?.tag !== 0x30 || spki?.tag !== 0x30) throw new Error("no version, subject and key");
  } catch (error) {
    throw new Refused("bad-request", `${what} is not a PKCS#10 request: ${error.message}`);
  }
  let key;
  try {
    key = createPublicKey({ key: raw(der, spki), format: "der", type: "spki" });
  } catch (error) {
    throw new Refused("bad-request", `${what} carries no usable public key: ${error.message}`);
  }
  const algorithmId = children(der, algorithm)[0];
  const name = algorithmId?.tag === 0x06 ? dotted(value(der, algorithmId)) : "?";
  const how = SIGNATURES.get(name);
  if (how === undefined) throw new Refused("bad-signature", `${what} is signed with algorithm ${name}, which the signer does not verify`);
  if (how.key !== key.asymmetricKeyType)
    throw new Refused("bad-signature", `${what} is signed with a ${how.key} algorithm but carries a ${key.asymmetricKeyType} key`);
  const bits = value(der, signature);
  let ok;
  try {
    ok = bits[0] === 0 && verify(how.hash, raw(der, info), key, bits.subarray(1));
  } catch {
    ok = false;
  }
  if (!ok) throw new Refused("bad-signature", `${what}'s signature does not verify with its own key: it was altered or signed by another key`);
  const reencoded = key.export({ type: "spki", format: "der" });
  return { spki: reencoded, fingerprint: fingerprintOf(reencoded) };
}

// ---- The authority ----

function authorityOf(input) {
  // The PEM blocks on stdin: the certificate, and the first other block that is a key. (No key's PEM label is
  // written here: this source is part of the command the stack's state keeps, which must name no key.)
  const blocks = [...input.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----\n[\s\S]+?\n-----END \1-----/g)];
  const cert = blocks.find((b) => b[1] === "CERTIFICATE")?.[0];
  let key;
  for (const b of blocks) {
    if (b[1] === "CERTIFICATE" || key !== undefined) continue;
    try {
      key = createPrivateKey(b[0]);
    } catch {
      // not a key: the next block
    }
  }
  if (cert === undefined || key === undefined) throw new Unusable("no authority certificate and key on standard input");
  const x509 = new X509Certificate(cert);
  if (!x509.ca) throw new Unusable(`the certificate on standard input (${x509.subject}) is not a CA`);
  if (!x509.checkPrivateKey(key)) throw new Unusable("the key on standard input is not the authority certificate's");
  const der = x509.raw;
  const tbs = children(der, element(der, 0))[0];
  const fields = children(der, tbs);
  const at = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = raw(der, fields[at + 4]);
  const spki = children(der, fields[at + 5]);
  let keyId = createHash("sha1").update(value(der, spki[1]).subarray(1)).digest();
  const extensions = fields.find((f) => f.tag === 0xa3);
  if (extensions !== undefined)
    for (const ext of children(der, children(der, extensions)[0])) {
      const parts = children(der, ext);
      if (dotted(value(der, parts[0])) === "2.5.29.14") keyId = Buffer.from(value(der, element(der, parts.at(-1).start)));
    }
  return { pem: `${cert}\n`, id: createHash("sha256").update(der).digest("hex"), key, subject, keyId, signing: signingOf(key) };
}

// ---- A certificate ----

const CLIENT_EXTENSIONS = [
  extension("2.5.29.19", true, seq()),
  extension("2.5.29.15", true, Buffer.from([0x03, 0x02, 0x07, 0x80])),
  extension("2.5.29.37", false, seq(oid("1.3.6.1.5.5.7.3.2"))),
];

/** A certificate's serial number: 16 random bytes, positive, with no leading zero byte. */
function serialNumber() {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] & 0x7f) | 0x40;
  return bytes;
}

/** A client certificate for `serial` and the key `spki`, numbered `number` (serialNumber()), signed by `authority`, as PEM. */
export function certificate(authority, serial, spki, notBefore, notAfter, number) {
  const keyBits = value(spki, children(spki, element(spki, 0))[1]).subarray(1);
  const tbs = seq(
    encode(0xa0, encode(0x02, Buffer.from([2]))),
    encode(0x02, number),
    authority.signing.algorithm,
    authority.subject,
    seq(time(notBefore), time(notAfter)),
    seq(encode(0x31, seq(oid("2.5.4.3"), encode(0x0c, Buffer.from(serial, "utf8"))))),
    spki,
    encode(
      0xa3,
      seq(
        ...CLIENT_EXTENSIONS,
        extension("2.5.29.14", false, encode(0x04, createHash("sha1").update(keyBits).digest())),
        extension("2.5.29.35", false, seq(encode(0x80, authority.keyId))),
      ),
    ),
  );
  const signature = sign(authority.signing.hash, tbs, authority.key);
  const der = seq(tbs, authority.signing.algorithm, encode(0x03, Buffer.from([0]), signature));
  return `-----BEGIN CERTIFICATE-----\n${der.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "")}\n-----END CERTIFICATE-----\n`;
}

// ---- The run ----

function writeAtomic(path, content) {
  const temporary = join(path, "..", `.${path.slice(path.lastIndexOf("/") + 1)}.new`);
  writeFileSync(temporary, content);
  renameSync(temporary, path);
}

function readJson(path, fallback) {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return fallback;
  }
}

function need(env, name) {
  const v = env[name];
  if (v === undefined || v === "") throw new Unusable(`${name} is not set`);
  return v;
}

/** The declared devices: serial -> fingerprint, from AMADEGI_DECLARED (checked against its sha256). */
function declaredOf(path, sha256) {
  let content;
  try {
    content = readFileSync(path);
  } catch (error) {
    throw new Unusable(`the declared devices ${path} cannot be read: ${error.message}`);
  }
  const actual = createHash("sha256").update(content).digest("hex");
  if (sha256 !== undefined && sha256 !== "" && actual !== sha256)
    throw new Unusable(`the declared devices ${path} have sha256 ${actual}, not the ${sha256} the program wrote: run again`);
  const declared = JSON.parse(content.toString("utf8"));
  if (declared === null || typeof declared !== "object" || Array.isArray(declared)) throw new Unusable(`${path} is not a JSON object serial -> fingerprint`);
  return new Map(Object.entries(declared));
}

/** The requests (`<serial>.csr` -> content) in a directory, or at the top of a tar file (ustar, GNU long names). */
function requestsOf(path) {
  const isRequest = (name) => name.endsWith(".csr") && name.length > 4 && !name.includes("/");
  const out = new Map();
  if (!existsSync(path)) return out;
  if (!path.endsWith(".tar")) {
    for (const e of readdirSync(path, { withFileTypes: true })) if (e.isFile() && isRequest(e.name)) out.set(e.name, readFileSync(join(path, e.name)));
    return out;
  }
  const tar = readFileSync(path);
  const text = (header, start, length) => {
    const field = header.subarray(start, start + length);
    const end = field.indexOf(0);
    return field.subarray(0, end < 0 ? length : end).toString("utf8");
  };
  let longName;
  for (let at = 0; at + 512 <= tar.length;) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    if (header[124] & 0x80) throw new Unusable(`${path}: an entry too large for a request at byte ${at}`);
    const size = Number.parseInt(text(header, 124, 12).trim() || "0", 8);
    if (!Number.isSafeInteger(size) || size < 0 || at + 512 + size > tar.length) throw new Unusable(`${path}: not a tar (a header at byte ${at} is damaged)`);
    // POSIX ustar keeps a long path's head in `prefix`; GNU tar (its default format) uses those bytes otherwise.
    const prefix = text(header, 257, 6) === "ustar" ? text(header, 345, 155) : "";
    const name = (longName ?? (prefix === "" ? text(header, 0, 100) : `${prefix}/${text(header, 0, 100)}`)).replace(/^\.\//, "");
    const type = String.fromCharCode(header[156]);
    const data = tar.subarray(at + 512, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
    longName = undefined;
    if (type === "L") longName = data.toString("utf8").replace(/\0+$/, "");
    else if ((type === "0" || type === "\0") && isRequest(name)) out.set(name, data);
  }
  return out;
}

/** The revoked devices' serials, one a line. Required: without the list no device is signed for (fail closed). */
function revokedOf(path) {
  let content;
  try {
    content = readFileSync(path, "utf8");
  } catch (error) {
    throw new Unusable(`the revoked devices ${path} cannot be read (${error.message}): no certificate is signed without that list`);
  }
  return new Set(content.split("\n").filter((line) => line !== ""));
}

export function run(stdin, env = process.env, now = new Date()) {
  const requests = need(env, "AMADEGI_REQUESTS");
  const issued = need(env, "AMADEGI_ISSUED");
  const until = need(env, "AMADEGI_UNTIL");
  const notAfter = new Date(`${until}T23:59:59Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(until) || Number.isNaN(notAfter.getTime())) throw new Unusable(`AMADEGI_UNTIL=${until} is not a date`);
  if (notAfter.getTime() <= now.getTime()) throw new Unusable(`validUntil ${until} has passed: no certificate is issued for a past date`);
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const declared = declaredOf(need(env, "AMADEGI_DECLARED"), env.AMADEGI_DECLARED_SHA256);
  // The devices the committee revoked (the stack's revocations, sent with the requests): none is signed for.
  const revoked = revokedOf(need(env, "AMADEGI_REVOKED"));
  const authority = authorityOf(stdin);

  mkdirSync(issued, { recursive: true });
  const manifestPath = join(issued, ".issued.json");
  const before = readJson(manifestPath, {});
  const same = before.authority === authority.id && before.until === until;
  const previous = same && before.certificates !== null && typeof before.certificates === "object" ? before.certificates : {};
  // Serials are the inventory's and the requests directory's text: never an object's keys (Maps), the earlier manifest read as own keys only.
  const certificates = new Map();
  const refused = new Map();
  let signed = 0;
  let kept = 0;

  const contents = requestsOf(requests);
  const files = [...contents.keys()].sort();
  const present = new Set();
  for (const file of files) {
    const serial = file.slice(0, -4);
    present.add(serial);
    const content = contents.get(file);
    const request = createHash("sha256").update(content).digest("hex");
    const want = declared.get(serial);
    const last = Object.hasOwn(previous, serial) ? previous[serial] : undefined;
    if (want !== undefined && last?.request === request && last.fingerprint === want && existsSync(join(issued, `${serial}.crt`))) {
      certificates.set(serial, last);
      kept++;
      continue;
    }
    try {
      if (serial === "ca") throw new Refused("bad-request", `${file}: "ca" is the authority's certificate's name in the issued directory, not a device's`);
      if (want === undefined) throw new Refused("undeclared", `${file}: ${serial} is not the serial of a device the inventory declares`);
      if (revoked.has(serial)) throw new Refused("revoked", `${file}: the committee revoked ${serial}: no certificate is issued to it again`);
      const { spki, fingerprint } = checkRequest(content, file);
      if (fingerprint !== want) throw new Refused("other-key", `${file} carries key ${fingerprint}; the inventory declares ${want} for ${serial}`);
      const number = serialNumber();
      const pem = certificate(authority, serial, spki, notBefore, notAfter, number);
      // The issuance log, before the certificate exists: a revocation covers every certificate a device was ever issued (ADR 0008).
      appendFileSync(join(issued, ".serials"), `${number.toString("hex").toUpperCase()} ${serial}\n`);
      writeAtomic(join(issued, `${serial}.crt`), pem);
      certificates.set(serial, { request, fingerprint });
      signed++;
    } catch (error) {
      if (!(error instanceof Refused)) throw error;
      refused.set(serial, `${error.reason}: ${error.message}`);
    }
  }
  // A certificate whose request is gone stays while its serial is declared with the key it was signed for.
  for (const [serial, last] of Object.entries(previous))
    if (!present.has(serial) && declared.get(serial) === last.fingerprint && existsSync(join(issued, `${serial}.crt`))) {
      certificates.set(serial, last);
      kept++;
    }
  // The issued directory holds ca.crt and exactly the manifest's certificates.
  let removed = 0;
  for (const name of readdirSync(issued))
    if (name.endsWith(".crt") && name !== "ca.crt" && !certificates.has(name.slice(0, -4))) {
      rmSync(join(issued, name), { force: true });
      removed++;
    }
  writeAtomic(join(issued, "ca.crt"), authority.pem);
  // The manifest of the signer before this one (the authority's openssl fingerprint and the requests' sha256).
  rmSync(join(issued, ".requests"), { force: true });
  // Object.fromEntries defines own properties: a serial named __proto__ is data here too.
  writeAtomic(join(issued, ".refused.json"), `${JSON.stringify(Object.fromEntries(refused), null, 1)}\n`);
  writeAtomic(manifestPath, JSON.stringify({ authority: authority.id, until, certificates: Object.fromEntries(certificates) }));

  const refusals = [...refused];
  // A name with a control character (a line break) is shown quoted: one refusal, one line of the log.
  const shown = (text) => (/^[\x20-\x7e]*$/.test(text) ? text : JSON.stringify(text));
  const messages = refusals.slice(0, SHOWN).map(([serial, why]) => `refused ${shown(serial)}: ${shown(why)}`);
  if (refusals.length > SHOWN) messages.push(`… and ${refusals.length - SHOWN} more refused: ${join(issued, ".refused.json")}`);
  const total = certificates.size;
  messages.push(`signed ${signed} of ${files.length} device requests (${total} certificates, ${refusals.length} refused, ${removed} removed)`);
  const summary = { certificates: total, signed, kept, removed, refusedCount: refusals.length, refused: Object.fromEntries(refusals.slice(0, SHOWN)) };
  return { summary, messages };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const { summary, messages } = run(readFileSync(0, "utf8"));
    process.stderr.write(`${messages.join("\n")}\n`);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } catch (error) {
    process.stderr.write(`device signer: ${error instanceof Unusable ? error.message : error.stack}\n`);
    process.exitCode = error instanceof Unusable ? 2 : 1;
  }
}
