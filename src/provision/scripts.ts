import { readFileSync } from "node:fs";
import { type Silence, SILENCE_TAG_GREP, SILENCE_TAG_PREFIX } from "../model/index.ts";
import { contentHash, PKI_FILES } from "../model/render/index.ts";
import { shellQuote as quote } from "../toolchain/ssh.ts";
import { REVOKED_MARK } from "./revocation.ts";

/**
 * The shell the stack's `@pulumi/command` resources run (ADR 0007). Each script is a plain string
 * built here from data, so the state holds the command itself and nothing that points into a
 * checkout: a stack brought up from one clone is updated and destroyed from another. Secrets (the
 * gateways' keys) arrive on standard input, never in a script or an argument.
 *
 * On a server (remote.Command): a role's files are copied to their places by one `remote.CopyToRemote`
 * of an archive (ADR 0012); `roleScript` then checks that each is what the stack copied, writes the
 * role's secret file from stdin, gives every file its mode, removes what an earlier run wrote and
 * this one no longer declares, runs the services' start commands, and prints the hashes the server
 * reads back — what the stack records as provisioned and drift compares (ADR 0006's three sides).
 *
 * The election PKI with the openssl CLI: an issuing CA on the inventory's `pki` server, whose key
 * never leaves it (remote.Command); the devices' requests go there and their certificates come back
 * over one ssh (a local.Command: 58,640 certificates never pass through the state).
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

/** Into the server's root: "/" in production, its own directory in the rehearsal. */
function cdRoot(root: string): string {
  return `cd ${quote(root === "" ? "/" : root)}`;
}

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
    cdRoot(input.root),
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
    cdRoot(input.root),
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
    cdRoot(root),
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

// ---- The PKI: an issuing CA on the inventory's `pki` server (ADR 0008) ----

/** PKI_FILES.dir under the server's root: no script prints the key there, and the state holds none of it. */
const PKI_DIR = PKI_FILES.dir.replace(/^\/+/, "");

/** Where a PKI script runs, and what makes it a new script (so that it runs again). */
export interface PkiPlace {
  /** "" in production; the `pki` server's root directory in the rehearsal. */
  readonly root: string;
  /** The servers' generation ("" in production): a rehearsal server rebuilt starts without an authority. */
  readonly epoch: string;
}

/**
 * A private temporary directory, removed on exit; the days left until $AMADEGI_UNTIL (23:59:59 UTC).
 * $P is the CA's directory: a remote script has changed to the server's root first (pkiHeader).
 */
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
const NEEDS_AUTHORITY =
  '[ -s "$P/ca.key" ] && [ -s "$P/ca.crt" ] || { echo "no authority on this server ($P): the stack\'s election-ca makes it" >&2; exit 2; }';

/** The lines a script on the `pki` server starts with: what it is, its root, the CA's directory, its inputs (quoted: data, never code). */
function pkiHeader(what: string, place: PkiPlace, inputs: Readonly<Record<string, string>>): string[] {
  if (/[\n\r]/.test(what)) throw new Error(`a PKI script's name ${JSON.stringify(what)} has a line break`);
  return [
    "set -e",
    `# amadegi: ${what}${place.epoch === "" ? "" : `, servers built as generation ${place.epoch}`}`,
    cdRoot(place.root),
    `P=${PKI_DIR}`,
    ...Object.entries(inputs).map(([name, value]) => {
      if (!/^AMADEGI_[A-Z0-9_]+$/.test(name)) throw new Error(`${what}: ${name} is not an input's name`);
      return `${name}=${quote(value)}`;
    }),
  ];
}

/**
 * The authority, on the `pki` server: an EC P-256 key made there once (0600) and a self-signed
 * certificate for `commonName` until `until`, made again (same key) when either changes. Prints the
 * certificate only.
 */
export function authorityScript(place: PkiPlace, commonName: string, until: string): string {
  return [
    ...pkiHeader("the election's issuing CA", place, { AMADEGI_CN: commonName, AMADEGI_UNTIL: until }),
    ...PKI_PRELUDE,
    'mkdir -p -- "$P" && chmod 700 "$P"',
    'if [ ! -s "$P/ca.key" ]; then',
    '  ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$P/ca.key.amadegi-new"',
    '  mv -f -- "$P/ca.key.amadegi-new" "$P/ca.key"; rm -f -- "$P/ca.crt"',
    "fi",
    'want="$AMADEGI_CN $AMADEGI_UNTIL"',
    'if [ ! -s "$P/ca.crt" ] || [ "$(cat -- "$P/ca.made" 2>/dev/null)" != "$want" ]; then',
    `  ossl req -x509 -new -key "$P/ca.key" -out "$P/ca.crt.amadegi-new" -days "$days" -subj "/CN=$AMADEGI_CN" -set_serial "$(serial)" \\`,
    '    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign"',
    '  chmod 644 "$P/ca.crt.amadegi-new" && mv -f -- "$P/ca.crt.amadegi-new" "$P/ca.crt"',
    '  printf "%s\\n" "$want" > "$P/ca.made"',
    "fi",
    'cat -- "$P/ca.crt"',
  ].join("\n");
}

/** Removes the authority, its key and every certificate it issued from the `pki` server (the stack's destroy). */
export function authorityDeleteScript(place: PkiPlace): string {
  return [...pkiHeader("the election's issuing CA, removed", place, {}), 'rm -rf -- "$P"'].join("\n");
}

/**
 * A server certificate (serverAuth) for `commonName` with `san`, signed on the `pki` server by the
 * authority whose certificate has sha256 `authority` (a new authority makes a new script); printed
 * as the certificate then the server's new key (a secret output: the key goes to its server).
 */
export function serverCertScript(place: PkiPlace, authority: string, commonName: string, san: string, until: string): string {
  return [
    ...pkiHeader(`a server certificate from the authority ${authority.slice(0, 16)}`, place, {
      AMADEGI_CN: commonName,
      AMADEGI_SAN: san,
      AMADEGI_UNTIL: until,
    }),
    ...PKI_PRELUDE,
    NEEDS_AUTHORITY,
    'printf "basicConstraints=critical,CA:FALSE\\nkeyUsage=critical,digitalSignature\\n" > "$d/ext.cnf"',
    'printf "extendedKeyUsage=serverAuth\\nsubjectAltName=%s\\n" "$AMADEGI_SAN" >> "$d/ext.cnf"',
    `ossl req -new ${EC_KEY} -keyout "$d/leaf.key" -out "$d/leaf.csr" -subj "/CN=$AMADEGI_CN"`,
    'ossl x509 -req -in "$d/leaf.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -set_serial "$(serial)" -days "$days" \\',
    '  -extfile "$d/ext.cnf" -out "$d/leaf.crt"',
    'cat "$d/leaf.crt" "$d/leaf.key"',
  ].join("\n");
}
/** The device signer (issue 17): one file of Node built-ins, run on the `pki` server. */
export const DEVICE_SIGNER = readFileSync(new URL("./assets/device-signer.js", import.meta.url), "utf8");
if (DEVICE_SIGNER.split("\n").includes("AMADEGI_SIGNER")) throw new Error("src/provision/assets/device-signer.js has a line AMADEGI_SIGNER: rename it");

/**
 * The signing half of the devices' issuance, on the `pki` server. Standard input: a tar of the
 * device signer (`sign.mjs`), the declared devices (`declared.json`) and the requests
 * (`<serial>.csr`). The signer (src/provision/assets/device-signer.js) signs them with the
 * authority's key, which it reads there, into `$P/devices` (its certificates, `.issued.json` and the
 * issuance log `.serials` stay on the server). Standard output: a tar of the summary
 * (`summary.json`), every certificate's name (`names`), the refusals (`.refused.json`), and the
 * certificates this run wrote or the machine lacks (its `have` came with the requests) — only those,
 * so a change travels back as one certificate.
 */
export function devicesSignScript(place: PkiPlace, until: string, declaredSha256: string): string {
  return [
    ...pkiHeader("the devices' certificates", place, { AMADEGI_UNTIL: until, AMADEGI_DECLARED_SHA256: declaredSha256 }),
    ...PKI_PRELUDE,
    NEEDS_AUTHORITY,
    'command -v node >/dev/null || { echo "node is not on the pki server\'s PATH: the device signer is a Node program" >&2; exit 2; }',
    // The requests stay in their tar: the signer reads them from it, 58,640 of them without a file each.
    'mkdir "$d/in" "$d/out" && cat > "$d/requests.tar" && tar -xf "$d/requests.tar" -C "$d/in" sign.mjs declared.json have revoked',
    "umask 022",
    'mkdir -p -- "$P/devices"',
    'touch "$d/stamp"',
    'cat -- "$P/ca.crt" "$P/ca.key" | AMADEGI_REQUESTS="$d/requests.tar" AMADEGI_ISSUED="$P/devices" AMADEGI_DECLARED="$d/in/declared.json" \\',
    '  AMADEGI_DECLARED_SHA256="$AMADEGI_DECLARED_SHA256" AMADEGI_REVOKED="$d/in/revoked" AMADEGI_UNTIL="$AMADEGI_UNTIL" \\',
    '  node "$d/in/sign.mjs" > "$d/out/summary.json"',
    "export LC_ALL=C",
    '(cd "$P/devices" && find . -maxdepth 1 -type f -name "*.crt" -printf "%P\\n" | sort) > "$d/out/names"',
    // What this run wrote, and what this machine lacks (its list, `have`, came with the requests).
    '(cd "$P/devices" && find . -maxdepth 1 -type f -name "*.crt" -newer "$d/stamp" -printf "%P\\n") > "$d/written"',
    'sort "$d/in/have" | comm -23 "$d/out/names" - | sort -u - "$d/written" > "$d/changed"',
    'cp -- "$P/devices/.refused.json" "$d/out/.refused.json"',
    'tar -cf - -C "$d/out" summary.json names .refused.json -C "$PWD/$P/devices" -T "$d/changed"',
  ].join("\n");
}

/**
 * The devices' client certificates (clientAuth), bound to the inventory (issue 17), signed on the
 * `pki` server (ADR 0008): this machine sends the requests $AMADEGI_REQUESTS/<serial>.csr (only
 * those: never a key beside them), the declared devices $AMADEGI_DECLARED (serial -> key
 * fingerprint, a file the Pki component writes; its sha256 in the signing script, so that a change
 * of the declared devices runs this again), the revoked devices $AMADEGI_REVOKED (one serial a line,
 * required, empty when none: the signer signs none of them, and without the list nothing) and the
 * signer, over one `ssh` to the server
 * (`remote`: the pinned argv, the signing script its last word; the login key arrives in
 * $AMADEGI_SSH_KEY, a secret, and is written only to this run's private directory). What comes
 * back lands in $AMADEGI_ISSUED: the certificates signed in this run or missing here (each renamed
 * into place whole), the authority's `ca.crt`; a certificate the server no longer has is removed.
 *
 * The signer signs only a request whose serial is declared, whose signature verifies and whose key
 * is the declared one; the certificate is CN=<serial>, CA:FALSE, digitalSignature, clientAuth,
 * until $AMADEGI_UNTIL, whatever the request asked for. Incremental: only a new or changed request
 * (or declared key, or another authority or validity) is signed again. A refused request does not
 * fail the command: it is named with its reason on stderr, and stdout is one JSON line
 * {certificates, signed, kept, removed, refusedCount, refused} that the component exposes
 * (`devices`, `refused`). Exit 2 when the inputs themselves are wrong. $AMADEGI_DIGEST (of the
 * requests) is there so that a new or changed request runs this again.
 */
export function devicesScript(remote: readonly string[], knownHosts: string): string {
  return [
    ...PKI_PRELUDE,
    "export LC_ALL=C",
    'mkdir "$d/send" "$d/back"',
    "cat > \"$d/send/sign.mjs\" <<'AMADEGI_SIGNER'",
    DEVICE_SIGNER.replace(/\n$/, ""),
    "AMADEGI_SIGNER",
    'cp -- "$AMADEGI_DECLARED" "$d/send/declared.json"',
    // The devices the committee revoked, one serial a line (empty when none): the signer signs for none of them, and without the list for nobody.
    '[ "${AMADEGI_REVOKED+set}" = set ] || { echo "AMADEGI_REVOKED is not set: no certificate is signed without the revoked devices" >&2; exit 2; }',
    'printf "%s" "$AMADEGI_REVOKED" > "$d/send/revoked"',
    '(cd "$AMADEGI_REQUESTS" && find . -maxdepth 1 -type f -name "*.csr" -printf "%P\\n") > "$d/requests"',
    ': > "$d/send/have"',
    '[ ! -d "$AMADEGI_ISSUED" ] || (cd "$AMADEGI_ISSUED" && find . -maxdepth 1 -type f -name "*.crt" -printf "%P\\n") > "$d/send/have"',
    'tar -cf "$d/send.tar" -C "$d/send" sign.mjs declared.json have revoked -C "$(cd "$AMADEGI_REQUESTS" && pwd)" -T "$d/requests"',
    'printf "%s\\n" "${AMADEGI_SSH_KEY:-}" > "$d/login_key"',
    `printf "%s" ${quote(knownHosts)} > "$d/known_hosts"`,
    "rc=0",
    `(cd "$d" && ${remote.map(quote).join(" ")}) < "$d/send.tar" > "$d/back.tar" || rc=$?`,
    '[ "$rc" -eq 0 ] || { echo "signing on the pki server failed (exit $rc)" >&2; exit "$rc"; }',
    'tar -xf "$d/back.tar" -C "$d/back" summary.json names .refused.json',
    'issued=$AMADEGI_ISSUED; mkdir -p -- "$issued"; rm -rf -- "$issued/.incoming"; mkdir -- "$issued/.incoming"',
    // Into a directory beside the certificates, then renamed into place: a device never reads half a certificate.
    'tar -xf "$d/back.tar" -C "$issued/.incoming" --wildcards "*.crt"',
    // find, not a glob: 58,640 names are more than one command line holds.
    'find "$issued/.incoming" -maxdepth 1 -type f -name "*.crt" -exec chmod 644 -- {} +',
    'find "$issued/.incoming" -maxdepth 1 -type f -name "*.crt" -exec mv -f -t "$issued" -- {} +',
    'rmdir -- "$issued/.incoming"',
    '(cd "$issued" && find . -maxdepth 1 -type f -name "*.crt" -printf "%P\\n" | sort | comm -23 - "$d/back/names" | xargs -r rm -f --)',
    'mv -f -- "$d/back/.refused.json" "$issued/.refused.json" && chmod 644 "$issued/.refused.json"',
    'cat "$d/back/summary.json"',
  ].join("\n");
}

/** Removes the certificates on this machine, and the declared devices beside them. */
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
 * The authority's CRL (issue 17, ADR 0008), made on the `pki` server and printed (PEM, public).
 * Stdin: the line REVOKED_MARK (src/provision/revocation.ts), then one `<device> <reason> <ISO time>`
 * line per revoked device. Every certificate ever issued to a revoked device is on it: those the
 * issuance log `$P/devices/.serials` names (`<certificate serial> <device>`), and the one in
 * `$P/devices/<device>.crt`. `openssl ca -gencrl` over an index made here; its number is the time
 * (it only grows); its nextUpdate the day after the certificates' validity ends (`until`), so it
 * never lapses while a certificate it covers is valid (the stack publishes a new one at each
 * change instead). The stack makes it before the devices' signing, and the signer issues none of
 * the revoked devices a certificate again (their list travels with the requests: devicesScript,
 * ADR 0021), so a CRL made before a signing covers every certificate of a revoked device that
 * signing leaves. The script names its `authority` (the sha256 of its certificate): a new authority
 * makes it again.
 */
export function crlScript(place: PkiPlace, until: string, authority: string): string {
  return [
    ...pkiHeader(`the CRL of authority ${authority.slice(0, 16)}`, place, { AMADEGI_UNTIL: until }),
    ...PKI_PRELUDE,
    NEEDS_AUTHORITY,
    'AMADEGI_ISSUED="$P/devices"',
    '{ cat -- "$P/ca.crt" "$P/ca.key"; cat; } > "$d/in"',
    ...CRL_BODY,
  ].join("\n");
}

/** The CRL from "$d/in": the authority's certificate and key, REVOKED_MARK, the revoked devices; over $AMADEGI_ISSUED's log. */
const CRL_BODY = [
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
];

/** The first PEM block labelled `label` (e.g. "CERTIFICATE", "X509 CRL") in a PKI script's output, with its line end. */
export function pemBlock(label: "CERTIFICATE" | "PRIVATE KEY" | "X509 CRL", stdout: string): string | undefined {
  const block = new RegExp(`-----BEGIN ${label}-----\\n[\\s\\S]+?\\n-----END ${label}-----`).exec(stdout)?.[0];
  return block === undefined ? undefined : `${block}\n`;
}

/** A certificate and its key from a PKI script's output; throws naming `what` if either is missing. */
export function splitIssued(what: string, stdout: string): { certPem: string; keyPem: string } {
  const certPem = pemBlock("CERTIFICATE", stdout);
  const keyPem = pemBlock("PRIVATE KEY", stdout);
  if (certPem === undefined || keyPem === undefined) throw new Error(`${what}: openssl printed no certificate and key`);
  return { certPem, keyPem };
}

/**
 * Shell that makes Alertmanager's silences the waivers' (`silencesOf`), idempotently: a silence
 * whose tag is there already is left alone, a missing one is added (`amtool silence add --end`),
 * and one of amadegi's whose waiver is gone or changed is expired. Prints the tags active after.
 */
export function silencesScript(url: string, silences: readonly Silence[]): string {
  const u = quote(`--alertmanager.url=${url}`);
  const add = silences.map(
    (s) =>
      `printf '%s\\n' "$have" | grep -F -q -- ${quote(s.tag)} || ` +
      `amtool ${u} silence add --author=amadegi --comment=${quote(s.comment)} --end=${quote(s.endsAt)} ${s.matchers.map(quote).join(" ")} >/dev/null`,
  );
  // Tags are amadegi-waiver-<id>-<hex>: ids are [A-Za-z0-9._-], so a case pattern matches them literally.
  const keep = silences.length === 0 ? "" : `${silences.map((s) => `*${s.tag}*`).join("|")}) ;;\n      `;
  return [
    "set -eu",
    `have=$(amtool ${u} silence query -o extended) || { echo ${quote(`amtool cannot reach Alertmanager at ${url}`)} >&2; exit 1; }`,
    ...add,
    `printf '%s\\n' "$have" | grep -F -- ${SILENCE_TAG_PREFIX} | while read -r id rest; do`,
    `  case "$rest" in`,
    `      ${keep}*) amtool ${u} silence expire "$id" ;;`,
    "  esac",
    "done",
    `amtool ${u} silence query -o extended | grep -o '${SILENCE_TAG_GREP}' | sort -u || true`,
  ].join("\n");
}
