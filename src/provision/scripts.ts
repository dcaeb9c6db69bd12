import { readFileSync } from "node:fs";
import { contentHash } from "../model/render/index.ts";
import { shellQuote as quote } from "../toolchain/ssh.ts";
import { REVOKED_MARK } from "./revocation.ts";

/**
 * The shell the stack's `@pulumi/command` resources run (ADR 0007). Each script is a plain string
 * built here from data, so the state holds the command itself and nothing that points into a
 * checkout: a stack brought up from one clone is updated and destroyed from another. Secrets (the
 * gateways' keys, the authority's key) arrive on standard input, never in a script or an argument.
 *
 * On a server (remote.Command): a role's files are copied to their places by `remote.CopyToRemote`,
 * one resource per file; `roleScript` then checks that each is what the stack copied, writes the
 * role's secret file from stdin, gives every file its mode, removes what an earlier run wrote and
 * this one no longer declares, runs the services' start commands, and prints the hashes the server
 * reads back — what the stack records as provisioned and drift compares (ADR 0006's three sides).
 *
 * On the machine running the stack (local.Command): the election PKI with the openssl CLI.
 */

/** What one role's script needs: the files copied (their hashes), the secret file from stdin, the services. */
export interface RoleScriptInput {
  readonly server: string;
  readonly role: string;
  /** "" in production; the server's root directory in the rehearsal. */
  readonly root: string;
  /** Which build of the servers this is: a new one makes a new script, which runs again. */
  readonly epoch: string;
  /** Files copied by CopyToRemote, with the sha256 of what was copied. */
  readonly copied: readonly { readonly path: string; readonly sha256: string; readonly mode: number }[];
  /** The one file that arrives on stdin (a private key), if any; written with its mode before anything else. */
  readonly secret?: { readonly path: string; readonly mode: number };
  readonly start: readonly string[];
  readonly stop: readonly string[];
}

const MARK = "AMADEGI-HASHES";
/** Where a role's list of files lives on the server (under its root): an update removes what left the list. */
const MANIFESTS = "var/lib/amadegi/roles";
const PRELUDE = ["set -e", "fail() { printf 'amadegi: %s\\n' \"$*\" >&2; exit 3; }"];

function checkPath(server: string, path: string): string {
  if (!path.startsWith("/") || path.split("/").includes("..") || /[\n\r\0\\]/.test(path) || path.endsWith("/")) {
    throw new Error(`server ${server}: file path ${JSON.stringify(path)} must be absolute, without "..": a renderer produced it — fix the renderer`);
  }
  return path.slice(1);
}

function checkRole(role: string): string {
  if (!/^[a-z][a-z0-9-]*$/.test(role)) throw new Error(`role ${JSON.stringify(role)} is not a role name`);
  return role;
}

/** The files' hashes in sha256sum's own format, for `sha256sum -c`. */
function sums(server: string, files: RoleScriptInput["copied"]): string[] {
  return files.map((f) => {
    if (!/^[0-9a-f]{64}$/.test(f.sha256)) throw new Error(`server ${server}: ${f.path} has no sha256`);
    return `${f.sha256}  ${checkPath(server, f.path)}`;
  });
}

function commands(list: readonly string[], what: "start" | "stop"): string[] {
  return list.map((command, i) => `( ${command}\n) || fail "${what} command ${i + 1} failed"`);
}

/** The role's create (and update) script on the server. */
export function roleScript(input: RoleScriptInput): string {
  const role = checkRole(input.role);
  const relative = input.copied.map((f) => checkPath(input.server, f.path));
  const secret = input.secret === undefined ? undefined : checkPath(input.server, input.secret.path);
  const all = [...(secret === undefined ? [] : [secret]), ...relative];
  const lines = [
    ...PRELUDE,
    `# amadegi: ${input.server} ${role}${input.epoch === "" ? "" : `, servers built as generation ${input.epoch}`}`,
    `cd ${quote(input.root === "" ? "/" : input.root)}`,
    "umask 022",
  ];
  if (input.secret !== undefined && secret !== undefined) {
    const dir = secret.includes("/") ? secret.slice(0, secret.lastIndexOf("/")) : ".";
    const temporary = `${dir}/.${secret.slice(secret.lastIndexOf("/") + 1)}.amadegi-new`;
    lines.push(
      `mkdir -p -- ${quote(dir)}`,
      `( umask 077; cat > ${quote(temporary)} )`,
      `[ -s ${quote(temporary)} ] || fail "no secret on standard input for ${input.secret.path}"`,
      `chmod ${input.secret.mode.toString(8)} ${quote(temporary)}`,
      `mv -f -- ${quote(temporary)} ${quote(secret)}`,
    );
  }
  if (relative.length > 0) {
    lines.push(
      `sha256sum -c --quiet --strict <<'AMADEGI_SUMS' || fail "a file on ${input.server} is not what the stack copied there"`,
      ...sums(input.server, input.copied),
      "AMADEGI_SUMS",
    );
    for (const f of input.copied) lines.push(`chmod ${f.mode.toString(8)} ${quote(checkPath(input.server, f.path))}`);
  }
  const manifest = `${MANIFESTS}/${role}.files`;
  lines.push(
    `mkdir -p ${MANIFESTS}`,
    `cat > ${manifest}.new <<'AMADEGI_FILES'`,
    ...all,
    "AMADEGI_FILES",
    // What an earlier run wrote and this one no longer declares.
    `if [ -f ${manifest} ]; then grep -vxF -f ${manifest}.new ${manifest} | while IFS= read -r old; do rm -f -- "./$old"; done; fi`,
    `mv -f ${manifest}.new ${manifest}`,
    ...commands(input.start, "start"),
    `echo ${MARK}`,
  );
  if (all.length > 0) lines.push(`sha256sum -- ${all.map(quote).join(" ")}`);
  return `${lines.join("\n")}\n`;
}

/** The role's delete script: stop its services, remove its files and its list. */
export function removeScript(input: Pick<RoleScriptInput, "server" | "role" | "root" | "copied" | "secret" | "stop">): string {
  const role = checkRole(input.role);
  const paths = [...(input.secret === undefined ? [] : [input.secret.path]), ...input.copied.map((f) => f.path)].map((p) => checkPath(input.server, p));
  return `${[
    ...PRELUDE,
    `# amadegi: ${input.server} ${role}`,
    ...commands(input.stop, "stop"),
    `cd ${quote(input.root === "" ? "/" : input.root)}`,
    `rm -f -- ${[...paths, `${MANIFESTS}/${role}.files`].map(quote).join(" ")}`,
  ].join("\n")}\n`;
}

/**
 * Install the CRL on stdin at `root` + `path` (whole: a temporary sibling, renamed; 0644), then run
 * each `refresh` (the daemons that read it re-read it if they run), then print its hash as a role's
 * script does (parseHashes). Nothing to undo on delete: the gateway role's command removes the file.
 */
export function crlInstallScript(root: string, path: string, refresh: readonly string[]): string {
  const relative = path.replace(/^\/+/, "");
  const q = quote(relative);
  return `${[
    "set -e",
    `cd ${quote(root === "" ? "/" : root)}`,
    `mkdir -p -- "$(dirname -- ${q})"`,
    `cat > ${q}.amadegi-new`,
    `grep -q -- "-----BEGIN X509 CRL-----" ${q}.amadegi-new || { rm -f -- ${q}.amadegi-new; echo "no CRL on standard input" >&2; exit 1; }`,
    `chmod 644 ${q}.amadegi-new`,
    `mv -f -- ${q}.amadegi-new ${q}`,
    ...refresh.map((script) => `( ${script}\n)`),
    `echo ${MARK}`,
    `sha256sum -- ${q}`,
  ].join("\n")}\n`;
}

/** Hashes of the files as `sha256sum` printed them after the marker, by production path. */
export function parseHashes(stdout: string): Record<string, string> {
  const at = stdout.lastIndexOf(`${MARK}\n`);
  const hashes: Record<string, string> = {};
  if (at < 0) return hashes;
  for (const line of stdout.slice(at + MARK.length + 1).split("\n")) {
    const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) hashes[`/${match[2]}`] = match[1];
  }
  return hashes;
}

/** A file's content hash, as the server's sha256sum reports it. */
export const sha256 = contentHash;

// ---- The PKI, on the machine that runs the stack (local.Command, /bin/sh -c) ----

/** A private temporary directory, removed on exit; the days left until $AMADEGI_UNTIL (23:59:59 UTC). */
const PKI_PRELUDE = [
  "set -e",
  "umask 077",
  "d=$(mktemp -d) && trap 'rm -rf -- \"$d\"' EXIT",
  'until=$(date -u -d "$AMADEGI_UNTIL 23:59:59" +%s) || { echo "AMADEGI_UNTIL=$AMADEGI_UNTIL is not a date" >&2; exit 2; }',
  "days=$(( (until - $(date -u +%s)) / 86400 ))",
  '[ "$days" -ge 1 ] || { echo "validUntil $AMADEGI_UNTIL has passed: no certificate is issued for a past date" >&2; exit 2; }',
  // openssl says little on success and what went wrong on failure: keep its words for the error.
  'ossl() { openssl "$@" 2>"$d/err" || { cat "$d/err" >&2; exit 1; }; }',
  'serial() { echo "0x$(openssl rand -hex 16)"; }',
];
const EC_KEY = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";

/**
 * The authority: an EC P-256 key and a self-signed certificate for $AMADEGI_CN, printed as the
 * certificate then the key (stdout is a secret output; the command's logging is off).
 */
export const AUTHORITY_SCRIPT = [
  ...PKI_PRELUDE,
  `ossl req -x509 ${EC_KEY} -keyout "$d/ca.key" -out "$d/ca.crt" -days "$days" -subj "/CN=$AMADEGI_CN" -set_serial "$(serial)" \\`,
  '  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign"',
  'cat "$d/ca.crt" "$d/ca.key"',
].join("\n");

/**
 * A server certificate (serverAuth) for $AMADEGI_CN with $AMADEGI_SAN, signed by the authority
 * whose certificate and key arrive on stdin; printed as the certificate then the new key.
 */
export const SERVER_CERT_SCRIPT = [
  ...PKI_PRELUDE,
  'cat > "$d/ca.pem"',
  'printf "basicConstraints=critical,CA:FALSE\\nkeyUsage=critical,digitalSignature\\n" > "$d/ext.cnf"',
  'printf "extendedKeyUsage=serverAuth\\nsubjectAltName=%s\\n" "$AMADEGI_SAN" >> "$d/ext.cnf"',
  `ossl req -new ${EC_KEY} -keyout "$d/leaf.key" -out "$d/leaf.csr" -subj "/CN=$AMADEGI_CN"`,
  'ossl x509 -req -in "$d/leaf.csr" -CA "$d/ca.pem" -CAkey "$d/ca.pem" -set_serial "$(serial)" -days "$days" \\',
  '  -extfile "$d/ext.cnf" -out "$d/leaf.crt"',
  'cat "$d/leaf.crt" "$d/leaf.key"',
].join("\n");

/** The device signer (issue 17): one file of Node built-ins, also what a `pki` server would run. */
export const DEVICE_SIGNER = readFileSync(new URL("./assets/device-signer.js", import.meta.url), "utf8");
if (DEVICE_SIGNER.split("\n").includes("AMADEGI_SIGNER")) throw new Error("src/provision/assets/device-signer.js has a line AMADEGI_SIGNER: rename it");

/**
 * The devices' client certificates (clientAuth), bound to the inventory (issue 17): the device
 * signer (src/provision/assets/device-signer.js, written into the script itself so the state holds
 * the command and nothing that points into a checkout) signs $AMADEGI_REQUESTS/<serial>.csr into
 * $AMADEGI_ISSUED/<serial>.crt beside the authority's ca.crt — only a request whose serial is in
 * $AMADEGI_DECLARED (serial -> key fingerprint, a file the Pki component writes; its sha256 in
 * $AMADEGI_DECLARED_SHA256 so that a change of the declared devices runs this again), whose
 * signature verifies and whose key is the declared one. The certificate is CN=<serial>, CA:FALSE,
 * digitalSignature, clientAuth, until $AMADEGI_UNTIL, whatever the request asked for.
 *
 * Incremental: only a new or changed request (or declared key, or a certificate that is gone, or
 * another authority or validity) is signed again. A refused request does not fail the command: it
 * is named with its reason on stderr, its certificate (if an earlier one was issued) is removed, and
 * stdout is one JSON line {certificates, signed, kept, removed, refusedCount, refused} that the
 * component exposes (`devices`, `refused`). Exit 2 when the inputs themselves are wrong.
 * $AMADEGI_DIGEST (of the requests) is there so that a new or changed request runs this again.
 */
export const DEVICES_SCRIPT = [
  ...PKI_PRELUDE,
  'command -v node >/dev/null || { echo "node is not on PATH: the device signer is a Node program" >&2; exit 2; }',
  "cat > \"$d/sign.mjs\" <<'AMADEGI_SIGNER'",
  DEVICE_SIGNER.replace(/\n$/, ""),
  "AMADEGI_SIGNER",
  "umask 022",
  'node "$d/sign.mjs"',
].join("\n");

/** Removes what DEVICES_SCRIPT wrote, and the declared devices beside it. */
export const DEVICES_DELETE_SCRIPT = 'rm -rf -- "$AMADEGI_ISSUED"\n[ -z "${AMADEGI_DECLARED:-}" ] || rm -f -- "$AMADEGI_DECLARED"';

/** A public file on the machine running the stack ($AMADEGI_PATH), its content on stdin, replaced whole. */
export const LOCAL_FILE_SCRIPT = [
  "set -e",
  'mkdir -p -- "$(dirname -- "$AMADEGI_PATH")"',
  'cat > "$AMADEGI_PATH.amadegi-new"',
  'mv -f -- "$AMADEGI_PATH.amadegi-new" "$AMADEGI_PATH"',
].join("\n");

export const LOCAL_FILE_DELETE_SCRIPT = 'rm -f -- "$AMADEGI_PATH"';

/**
 * The authority's CRL (issue 17, ADR 0008), printed (PEM, public). Stdin: the authority's
 * certificate and key, the line REVOKED_MARK (src/provision/revocation.ts), then one
 * `<device> <reason> <ISO time>` line per revoked device. Every certificate ever issued to a
 * revoked device is on it: those the issuance log `$AMADEGI_ISSUED/.serials` names
 * (`<certificate serial> <device>`), and the one in `$AMADEGI_ISSUED/<device>.crt`. `openssl ca
 * -gencrl` over an index made here; its number is the time (it only grows); its nextUpdate the
 * day after the certificates' validity ends ($AMADEGI_UNTIL), so it never lapses while a
 * certificate it covers is valid (the stack publishes a new one at each change instead).
 */
export const CRL_SCRIPT = [
  ...PKI_PRELUDE,
  'cat > "$d/in"',
  `mark=${quote(REVOKED_MARK)}`,
  'grep -qxF -- "$mark" "$d/in" || { echo "the CRL command got no revoked list on stdin" >&2; exit 2; }',
  'sed "/^$mark\\$/,\\$d" "$d/in" > "$d/ca.pem"',
  'sed "1,/^$mark\\$/d" "$d/in" > "$d/revoked"',
  'expiry=$(date -u -d "$AMADEGI_UNTIL 23:59:59" +%y%m%d%H%M%SZ)',
  ': > "$d/index.txt"; n=0',
  "while read -r device reason time; do",
  '  [ -n "$device" ] || continue',
  '  at=$(date -u -d "$time" +%y%m%d%H%M%SZ) || { echo "revocation of $device: $time is not a time" >&2; exit 2; }',
  '  { if [ -f "$AMADEGI_ISSUED/.serials" ]; then awk -v dev="$device" \'$2 == dev { print toupper($1) }\' "$AMADEGI_ISSUED/.serials"; fi',
  '    if [ -f "$AMADEGI_ISSUED/$device.crt" ]; then openssl x509 -in "$AMADEGI_ISSUED/$device.crt" -noout -serial | sed "s/^serial=//"; fi',
  '  } | sort -u > "$d/serials"',
  "  while read -r serial; do",
  '    printf "R\\t%s\\t%s,%s\\t%s\\tunknown\\t/CN=%s\\n" "$expiry" "$at" "$reason" "$serial" "$device" >> "$d/index.txt"; n=$((n + 1))',
  '  done < "$d/serials"',
  'done < "$d/revoked"',
  'printf "%016X\\n" "$(date -u +%s)" > "$d/crlnumber"',
  'printf "[ca]\\ndefault_ca = x\\n[x]\\ndatabase = %s\\ncrlnumber = %s\\n" "$d/index.txt" "$d/crlnumber" > "$d/ca.cnf"',
  'printf "default_md = sha256\\ncrl_extensions = ext\\n" >> "$d/ca.cnf"',
  'printf "[ext]\\nauthorityKeyIdentifier = keyid:always\\n" >> "$d/ca.cnf"',
  'next=$(date -u -d "@$((until + 86400))" +%Y%m%d%H%M%SZ)',
  'ossl ca -batch -gencrl -config "$d/ca.cnf" -cert "$d/ca.pem" -keyfile "$d/ca.pem" -crl_nextupdate "$next" -out "$d/crl.pem"',
  'echo "CRL: $n certificates of $(grep -c . "$d/revoked" || true) revoked devices" >&2',
  'cat "$d/crl.pem"',
].join("\n");

/** A certificate and its key from a PKI script's output; throws naming `what` if either is missing. */
export function splitIssued(what: string, stdout: string): { certPem: string; keyPem: string } {
  const cert = /-----BEGIN CERTIFICATE-----\n[\s\S]+?\n-----END CERTIFICATE-----/.exec(stdout)?.[0];
  const key = /-----BEGIN PRIVATE KEY-----\n[\s\S]+?\n-----END PRIVATE KEY-----/.exec(stdout)?.[0];
  if (cert === undefined || key === undefined) throw new Error(`${what}: openssl printed no certificate and key`);
  return { certPem: `${cert}\n`, keyPem: `${key}\n` };
}
