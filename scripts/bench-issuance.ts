// npm run bench:issuance [-- --devices N] — the devices' certificates as the stack issues them
// (DEVICES_SCRIPT, src/provision/scripts.ts: batches signed in parallel, incremental), beside the
// floor the field starts from: one `openssl x509 -req` per device, one after another. Times a first
// issuance of N requests (default 2,000), a run with nothing changed, and one changed request, and
// prints the ratios and what the issue's goals (national first issuance ≤ 60 s, one change ≤ 5 s)
// would take at 58,640 devices by linear extrapolation. Everything in a temporary directory; no
// network. A measurement, not a test: run it on a quiet machine.
import { execFile, execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { AUTHORITY_SCRIPT, DEVICES_SCRIPT, splitIssued } from "../src/provision/scripts.ts";

const NATIONAL = 58_640;
const { values } = parseArgs({ options: { devices: { type: "string", default: "2000" } } });
const devices = Number(values.devices);
if (!Number.isInteger(devices) || devices < 1) throw new Error(`--devices ${values.devices}: a positive whole number`);

function sh(script: string, env: NodeJS.ProcessEnv, stdin = ""): Promise<{ ms: number; stdout: string; stderr: string }> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = execFile("/bin/sh", ["-c", script], { env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (error, stdout, stderr) =>
      error === null ? resolve({ ms: performance.now() - start, stdout, stderr }) : reject(new Error(`${error.message}\n${stderr}`)),
    );
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(stdin);
  });
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

const root = await mkdtemp(join(tmpdir(), "amadegi-bench-issuance-"));
try {
  const until = new Date(Date.now() + 400 * 86_400_000).toISOString().slice(0, 10);
  const ca = splitIssued("ca", (await sh(AUTHORITY_SCRIPT, { AMADEGI_CN: "bench CA", AMADEGI_UNTIL: until })).stdout);
  const requests = join(root, "requests");
  await mkdir(requests);
  // One key for every request (making 2,000 keys is not what is measured); each request its own CN.
  execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", join(root, "dev.key")]);
  await sh(`i=0; while [ $i -lt ${devices} ]; do i=$((i + 1)); openssl req -new -key "$R/../dev.key" -subj "/CN=B-$i" -out "$R/B-$i.csr" || exit 1; done`, {
    R: requests,
  });
  await writeFile(join(root, "ca.pem"), ca.certPem + ca.keyPem, { mode: 0o600 });
  const env = { AMADEGI_REQUESTS: requests, AMADEGI_ISSUED: join(root, "issued"), AMADEGI_UNTIL: until, AMADEGI_DIGEST: "bench" };
  const stdin = ca.certPem + ca.keyPem;

  // The floor: one openssl per device, in order, into another directory.
  const floor = await sh(
    `mkdir -p "$O"; printf 'basicConstraints=critical,CA:FALSE\\nkeyUsage=critical,digitalSignature\\nextendedKeyUsage=clientAuth\\n' > "$O/ext.cnf"; ` +
      `n=0; for f in "$R"/*.csr; do n=$((n + 1)); openssl x509 -req -in "$f" -CA "$C" -CAkey "$C" -set_serial "$n" -days 30 -extfile "$O/ext.cnf" ` +
      `-out "$O/$(basename "$f" .csr).crt" 2>/dev/null || exit 1; done`,
    { R: requests, O: join(root, "floor"), C: join(root, "ca.pem") },
  );
  const first = await sh(DEVICES_SCRIPT, env, stdin);
  const again = await sh(DEVICES_SCRIPT, env, stdin);
  await sh(`openssl req -new -key "$R/../dev.key" -subj "/CN=B-1" -out "$R/B-1.csr"`, { R: requests });
  const one = await sh(DEVICES_SCRIPT, env, stdin);
  const issued = (await readFile(join(root, "issued", ".requests"), "utf8")).trim().split("\n").length - 1;

  const perDevice = first.ms / devices;
  console.log(`device certificates, ${devices} requests, ${execFileSync("nproc").toString().trim()} processors (${issued} in the manifest)`);
  console.log(`  floor: one openssl per device, in order   ${s(floor.ms)}`);
  console.log(`  DEVICES_SCRIPT first issuance             ${s(first.ms)}  (${(floor.ms / first.ms).toFixed(2)}× the floor; ${first.stderr.trim()})`);
  console.log(`  DEVICES_SCRIPT nothing changed            ${s(again.ms)}  (${again.stderr.trim()})`);
  console.log(`  DEVICES_SCRIPT one request changed        ${s(one.ms)}  (${one.stderr.trim()})`);
  console.log(
    `  at ${NATIONAL} devices (linear): first issuance ≈ ${s(perDevice * NATIONAL)} (goal ≤ 60 s), ` +
      `one change ≈ ${s((one.ms / devices) * NATIONAL)} (goal ≤ 5 s)`,
  );
} finally {
  await rm(root, { recursive: true, force: true });
}
