// npm run bench:issuance [-- --devices N] [--only floor,openssl,ca,node,peculiar] [--peculiar DIR] [--ssh] — the devices'
// certificates bound to the inventory (issue 17), the ways the field offers, side by side in one run
// on N requests (default 2,000), each with its own key and declared fingerprint:
//
//   floor     one `openssl x509 -req` per device, one after another, no checks: the floor the ratios are to
//   openssl   one process per device with the checks (openssl req -verify -pubkey, the key's sha256 against
//             the declared one, openssl x509 -req with -subj CN=serial), in parallel, one per processor
//   ca        the same checks per device, then `openssl ca -batch -infiles` signing a batch of requests
//             in one process (policy: the CN only; extensions not copied), batches in parallel
//   node      the devices' issuance as the stack runs it: the requests in a tar to the pki server's half (through sh; with --ssh,
//             over ssh to an sshd on 127.0.0.1, as the stack sends it), the device signer there
//             (src/provision/assets/device-signer.js, Node built-ins: node:crypto) in one process, incremental,
//             and only the certificates it wrote back
//   peculiar  @peculiar/x509 (on WebCrypto) in this process with the same checks; only with --peculiar DIR,
//             a directory whose node_modules holds it (it is not a dependency of the project)
//
// Times a first issuance for each, and for the incremental ways (node, and ca/openssl with a manifest
// they would need) one changed request; prints the per-device cost, the ratio to the floor and the
// linear extrapolation to 58,640 devices (the goals: first issuance ≤ 60 s, one change ≤ 5 s).
// Making the keys and requests (in Node) is not measured. Everything in a temporary directory; no
// network (KEEP=1 keeps and names the directory). A measurement, not a test: run it on a quiet machine.
import { Buffer } from "node:buffer";
import { execFile, execFileSync } from "node:child_process";
import { createHash, generateKeyPairSync, sign, type KeyObject, webcrypto, X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { authorityScript, devicesScript, devicesSignScript } from "../src/provision/scripts.ts";
import { knownHostsLine, pinnedSshArgv, shellQuote } from "../src/toolchain/ssh.ts";
import { startSshd } from "../test/helpers/sshd.ts";

const NATIONAL = 58_640;
const WAYS = ["floor", "openssl", "ca", "node", "peculiar"] as const;
const { values } = parseArgs({
  options: {
    devices: { type: "string", default: "2000" },
    only: { type: "string", default: WAYS.join(",") },
    peculiar: { type: "string" },
    ssh: { type: "boolean", default: false },
  },
});
const devices = Number(values.devices);
if (!Number.isInteger(devices) || devices < 1) throw new Error(`--devices ${values.devices}: a positive whole number`);
const only = new Set(values.only.split(","));
const cores = Number(execFileSync("nproc").toString().trim());

function sh(script: string, env: NodeJS.ProcessEnv, stdin = "", shell = "/bin/sh"): Promise<{ ms: number; stdout: string; stderr: string }> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = execFile(shell, ["-c", script], { env: { ...process.env, ...env }, maxBuffer: 256 << 20 }, (error, stdout, stderr) =>
      error === null ? resolve({ ms: performance.now() - start, stdout, stderr }) : reject(new Error(`${error.message}\n${stderr}`)),
    );
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(stdin);
  });
}

// ---- Requests made fast, in Node: each device its own P-256 key and a minimal PKCS#10 ----

function der(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}
const CN = Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]);
const ECDSA_SHA256 = der(0x30, Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]));

function csr(serial: string, key: KeyObject, spki: Buffer): string {
  const info = der(0x30, Buffer.from([2, 1, 0]), der(0x30, der(0x31, der(0x30, CN, der(0x0c, Buffer.from(serial))))), spki, Buffer.from([0xa0, 0]));
  const body = der(0x30, info, ECDSA_SHA256, der(0x03, Buffer.from([0]), sign("sha256", info, key)));
  return `-----BEGIN CERTIFICATE REQUEST-----\n${body.toString("base64").replace(/.{64}/g, "$&\n")}\n-----END CERTIFICATE REQUEST-----\n`;
}

const fingerprint = (spki: Buffer) => `SHA256:${createHash("sha256").update(spki).digest("base64").replace(/=+$/, "")}`;

// ---- The shell ways' checks, per device: the request's own signature, its key's sha256 against the declared one ----

/** sh function `check FILE`: prints the serial when the request may be signed, else "refused …" on stderr. */
const CHECK = [
  'check() { f=$1; s=${f##*/}; s=${s%.csr}; want=$(grep -m 1 "^$s " "$DECLARED_HEX" | cut -d " " -f 2)',
  '  [ -n "$want" ] || { echo "refused $s: undeclared" >&2; return 1; }',
  // OpenSSL 3.0's `req -verify` exits 0 when the signature does not verify: its words are what say so.
  '  out=$(openssl req -in "$f" -verify -noout -pubkey 2>&1)',
  '  case $out in *"verify OK"*) ;; *) echo "refused $s: bad-signature" >&2; return 1 ;; esac',
  "  got=$(printf '%s\\n' \"$out\" | sed -n '/^-----BEGIN/,/^-----END/p' | sed '1d;$d' | base64 -d | sha256sum | cut -c 1-64)",
  '  [ "$got" = "$want" ] || { echo "refused $s: other-key" >&2; return 1; }',
  "}",
].join("\n");
const EXT = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n";

const OPENSSL_EACH = [
  CHECK,
  'for f in "$@"; do check "$f" || continue; s=${f##*/}; s=${s%.csr}',
  '  openssl x509 -req -in "$f" -CA "$C" -CAkey "$C" -set_serial "0x$(openssl rand -hex 16)" -days 30 -subj "/CN=$s" -extfile "$O/ext.cnf" \\',
  '    -out "$O/$s.crt" 2>/dev/null || exit 1',
  "done",
].join("\n");

const CA_CONFIG = [
  "[ca]",
  "default_ca = d",
  "[d]",
  "database = $ENV::DB",
  "new_certs_dir = $ENV::NEW",
  "certificate = $ENV::CA_CRT",
  "private_key = $ENV::CA_KEY",
  "default_md = sha256",
  "policy = p",
  "unique_subject = no",
  "rand_serial = yes",
  "copy_extensions = none",
  "x509_extensions = ext",
  "[p]",
  "commonName = supplied",
  "[ext]",
  ...EXT.trim().split("\n"),
].join("\n");

/** One batch: check each request, then one `openssl ca` for those that pass; certificates renamed after their CN. */
const CA_BATCH = [
  CHECK,
  'ok=""',
  'for f in "$@"; do check "$f" && ok="$ok $f"; done',
  '[ -n "$ok" ] || exit 0',
  'b=$(mktemp -d -p "$O")',
  ': > "$b/index"; DB="$b/index" NEW="$b" openssl ca -batch -config "$O/ca.cnf" -notext -enddate 301231235959Z -infiles $ok 2>/dev/null >/dev/null',
  'awk -F \'\\t\' -v b="$b" -v o="$O" \'{ sub("^/CN=", "", $6); print b "/" $4 ".pem\\t" o "/" $6 ".crt" }\' "$b/index" |',
  '  while IFS=\'\t\' read -r from to; do mv -f "$from" "$to"; done',
  'rm -rf "$b"',
].join("\n");

/** The little of @peculiar/x509 2.x used here (it is not a dependency: loaded from --peculiar DIR). */
interface PeculiarKey {
  readonly rawData: ArrayBuffer;
}
interface Peculiar {
  cryptoProvider: { set(crypto: typeof webcrypto): void };
  X509Certificate: new (pem: string) => { readonly subject: string };
  Pkcs10CertificateRequest: new (pem: string) => { readonly publicKey: PeculiarKey; verify(): Promise<boolean> };
  X509CertificateGenerator: { create(params: Record<string, unknown>): Promise<{ toString(format: "pem"): string }> };
  BasicConstraintsExtension: new (ca: boolean, pathLength: undefined, critical: boolean) => object;
  KeyUsagesExtension: new (usages: number, critical: boolean) => object;
  KeyUsageFlags: { readonly digitalSignature: number };
  ExtendedKeyUsageExtension: new (usages: string[]) => object;
  ExtendedKeyUsage: { readonly clientAuth: string };
  AuthorityKeyIdentifierExtension: { create(cert: object): Promise<object> };
  SubjectKeyIdentifierExtension: { create(key: PeculiarKey): Promise<object> };
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const perDevice = (ms: number) => `${(ms / devices).toFixed(3)} ms`;

const root = await mkdtemp(join(tmpdir(), "amadegi-bench-issuance-"));
try {
  const until = new Date(Date.now() + 400 * 86_400_000).toISOString().slice(0, 10);
  // The issuing CA as the stack makes it on the pki server (ADR 0008), here under a directory standing for that server's root.
  const pki = { root: join(root, "pki-server"), epoch: "" };
  await mkdir(pki.root);
  const certPem = (await sh(authorityScript(pki, "bench CA", until), {})).stdout;
  const ca = { certPem, keyPem: await readFile(join(pki.root, "var/lib/amadegi/pki/ca.key"), "utf8") };
  const requests = join(root, "requests");
  await mkdir(requests);
  const made = performance.now();
  const declared: Record<string, string> = {};
  const keys = new Map<string, { key: KeyObject; spki: Buffer }>();
  const hex: string[] = [];
  for (let i = 1; i <= devices; i++) {
    const serial = `B-${i}`;
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const spki = publicKey.export({ type: "spki", format: "der" });
    keys.set(serial, { key: privateKey, spki });
    declared[serial] = fingerprint(spki);
    hex.push(`${serial} ${createHash("sha256").update(spki).digest("hex")}`);
    await writeFile(join(requests, `${serial}.csr`), csr(serial, privateKey, spki));
  }
  const declaredPath = join(root, "declared.json");
  await writeFile(declaredPath, JSON.stringify(declared));
  await writeFile(join(root, "declared.hex"), `${hex.join("\n")}\n`);
  await writeFile(join(root, "ca.pem"), ca.certPem + ca.keyPem, { mode: 0o600 });
  await writeFile(join(root, "ca.crt"), ca.certPem);
  await writeFile(join(root, "ca.key"), ca.keyPem, { mode: 0o600 });
  console.log(
    `device certificates bound to the inventory: ${devices} requests, each its own key (made in ${s(performance.now() - made)}, not measured); ` +
      `${cores} processors; openssl ${execFileSync("openssl", ["version"]).toString().trim().split(" ")[1]}, node ${process.version}`,
  );
  const change = async () => {
    const serial = "B-1";
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const spki = publicKey.export({ type: "spki", format: "der" });
    declared[serial] = fingerprint(spki);
    hex[0] = `${serial} ${createHash("sha256").update(spki).digest("hex")}`;
    await writeFile(declaredPath, JSON.stringify(declared));
    await writeFile(join(root, "declared.hex"), `${hex.join("\n")}\n`);
    await writeFile(join(requests, `${serial}.csr`), csr(`${serial}`, privateKey, spki));
  };

  const rows: { way: string; first: number; one?: number; note: string }[] = [];
  const count = async (dir: string) => (await readdir(dir)).filter((f) => f.endsWith(".crt") && f !== "ca.crt").length;
  const shellEnv = (out: string) => ({ R: requests, O: out, C: join(root, "ca.pem"), DECLARED_HEX: join(root, "declared.hex") });
  const prepare = async (out: string) => {
    await mkdir(out, { recursive: true });
    await writeFile(join(out, "ext.cnf"), EXT);
    await writeFile(join(out, "ca.cnf"), CA_CONFIG);
  };

  let floor = Number.NaN;
  if (only.has("floor")) {
    const out = join(root, "floor");
    await prepare(out);
    const run = await sh(
      'n=0; for f in "$R"/*.csr; do n=$((n + 1)); openssl x509 -req -in "$f" -CA "$C" -CAkey "$C" -set_serial "$n" -days 30 -extfile "$O/ext.cnf" ' +
        '-out "$O/$(basename "$f" .csr).crt" 2>/dev/null || exit 1; done',
      shellEnv(out),
    );
    floor = run.ms;
    rows.push({ way: "floor: openssl x509 -req per device, in order, no checks", first: run.ms, note: `${await count(out)} certificates` });
  }
  // The shell ways: xargs hands each processor batches; a change would need the same manifest as the node way's, so
  // one change is timed as what it must do at least: hash every request (sha256sum) and check and sign the one.
  const shellWay = async (name: string, label: string, batch: string, per: number) => {
    const out = join(root, name);
    await prepare(out);
    const env = { ...shellEnv(out), CA_CRT: join(root, "ca.crt"), CA_KEY: join(root, "ca.key"), BATCH: batch };
    const first = await sh(`find "$R" -name '*.csr' -print0 | xargs -0 -n ${per} -P ${cores} sh -c "$BATCH" sh`, env);
    const made = await count(out);
    await change();
    await rm(join(out, "B-1.crt"));
    const one = await sh(`find "$R" -name '*.csr' -print0 | xargs -0 sha256sum > "$O/now" && sh -c "$BATCH" sh "$R/B-1.csr"`, env);
    rows.push({ way: label, first: first.ms, one: one.ms, note: `${made} certificates; the changed one signed: ${existsSync(join(out, "B-1.crt"))}` });
  };
  if (only.has("openssl"))
    await shellWay("openssl", "openssl: per device req -verify + sha256 + x509 -req, parallel", OPENSSL_EACH, Math.ceil(devices / cores / 4));
  if (only.has("ca"))
    await shellWay("ca", "ca: per device req -verify + sha256; openssl ca -infiles per batch", CA_BATCH, Math.min(1000, Math.ceil(devices / cores)));

  if (only.has("node")) {
    const env = {
      AMADEGI_REQUESTS: requests,
      AMADEGI_ISSUED: join(root, "issued"),
      AMADEGI_UNTIL: until,
      AMADEGI_DIGEST: "bench",
      AMADEGI_DECLARED: declaredPath,
    };
    const summary = (out: string) => JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as { signed: number; certificates: number; refusedCount: number };
    // Both halves as the stack runs them: the pki server's half through sh here (the stack runs it over one ssh).
    const issue = async () => {
      const sha256 = createHash("sha256")
        .update(await readFile(declaredPath))
        .digest("hex");
      const sign = devicesSignScript(pki, until, sha256);
      if (sshd === undefined) return sh(devicesScript(["sh", "-c", sign], ""), env);
      const host = { address: "127.0.0.1", port: sshd.port, user: "root", hostKey: sshd.hostKey };
      const remote = pinnedSshArgv(host, "known_hosts", `sh -c ${shellQuote(sign)}`, { identityFile: "login_key", timeoutMs: 30_000 });
      return sh(devicesScript(remote, knownHostsLine(host)), { ...env, AMADEGI_SSH_KEY: await readFile(sshd.clientKeyFile, "utf8") });
    };
    // The stack's transport: a throwaway sshd on loopback (the test suite's), its host key pinned.
    const sshd = values.ssh ? await startSshd("127.0.0.1") : undefined;
    const [first, again, one] = await (async () => {
      try {
        const a = await issue();
        const b = await issue();
        await change();
        return [a, b, await issue()];
      } finally {
        await sshd?.stop();
      }
    })();
    const [a, b, c] = [first, again, one].map((r) => summary(r.stdout));
    rows.push({
      way: `node: the stack's issuance, the device signer (node:crypto) on the pki server, ${sshd === undefined ? "through sh" : "over ssh"}`,
      first: first.ms,
      one: one.ms,
      note: `signed ${a?.signed}, then ${b?.signed} (nothing changed: ${s(again.ms)}), then ${c?.signed}; ${c?.refusedCount} refused`,
    });
  }

  if (only.has("peculiar")) {
    const entry = values.peculiar === undefined ? undefined : join(values.peculiar, "node_modules", "@peculiar", "x509", "build", "x509.es.js");
    if (entry === undefined || !existsSync(entry)) {
      console.log("  peculiar: skipped (--peculiar DIR, a directory where `npm install @peculiar/x509 reflect-metadata` was run)");
    } else {
      // tsyringe (under @peculiar/x509) wants a Reflect polyfill loaded first.
      await import(pathToFileURL(join(values.peculiar ?? "", "node_modules", "reflect-metadata", "Reflect.js")).href);
      const x509 = (await import(pathToFileURL(entry).href)) as Peculiar;
      x509.cryptoProvider.set(webcrypto);
      const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
      const caKey = await webcrypto.subtle.importKey("pkcs8", Buffer.from(ca.keyPem.replace(/-----[^-]+-----|\s/g, ""), "base64"), algorithm, false, ["sign"]);
      const caCert = new x509.X509Certificate(ca.certPem);
      const out = join(root, "peculiar");
      await mkdir(out);
      const notAfter = new Date(`${until}T23:59:59Z`);
      const start = performance.now();
      let refused = 0;
      for (const file of (await readdir(requests)).sort()) {
        const serial = file.slice(0, -4);
        const request = new x509.Pkcs10CertificateRequest(await readFile(join(requests, file), "utf8"));
        const want = declared[serial];
        const got = fingerprint(Buffer.from(request.publicKey.rawData));
        if (want === undefined || !(await request.verify()) || got !== want) {
          refused++;
          continue;
        }
        const cert = await x509.X509CertificateGenerator.create({
          serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)).map((b, i) => (i === 0 ? (b & 0x7f) | 0x40 : b))).toString("hex"),
          subject: `CN=${serial}`,
          issuer: caCert.subject,
          notBefore: new Date(),
          notAfter,
          signingAlgorithm: algorithm,
          publicKey: request.publicKey,
          signingKey: caKey,
          extensions: [
            new x509.BasicConstraintsExtension(false, undefined, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
            new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
            await x509.AuthorityKeyIdentifierExtension.create(caCert),
            await x509.SubjectKeyIdentifierExtension.create(request.publicKey),
          ],
        });
        await writeFile(join(out, `${serial}.crt`), cert.toString("pem"));
      }
      const ms = performance.now() - start;
      const sample = new X509Certificate(await readFile(join(out, "B-2.crt")));
      rows.push({
        way: "peculiar: @peculiar/x509 on WebCrypto, in process",
        first: ms,
        note: `${await count(out)} certificates, ${refused} refused; B-2 verifies: ${sample.verify(new X509Certificate(ca.certPem).publicKey)}`,
      });
    }
  }

  for (const r of rows) {
    const ratio = Number.isNaN(floor) ? "" : `  ${(r.first / floor).toFixed(3)}× the floor`;
    console.log(`  ${r.way}`);
    console.log(`    first issuance ${s(r.first)}  (${perDevice(r.first)} a device${ratio}); ${r.note}`);
    const national = (r.first / devices) * NATIONAL;
    const one =
      r.one === undefined ? "" : `; one change ${s(r.one)} here, ≈ ${s((r.one / devices) * NATIONAL)} at ${NATIONAL} (linear: an upper bound, goal ≤ 5 s)`;
    console.log(`    at ${NATIONAL} devices (linear): first issuance ≈ ${s(national)} (goal ≤ 60 s)${one}`);
  }
} finally {
  if (process.env.KEEP === undefined) await rm(root, { recursive: true, force: true });
  else console.log(root);
}
