// A rehearsal CA for the device tests, made with the openssl CLI: it signs the
// devices' requests (as the stack does in the rehearsal) and the gateways'
// server certificates. `openssl x509 -req` with a random serial per call, so
// requests can be signed in parallel.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TestCa {
  readonly cert: string;
  readonly key: string;
  /** Sign a request (PEM file) into `out`: a device (clientAuth) or a gateway (serverAuth, with its names). */
  sign(csr: string, out: string, usage: "clientAuth" | "serverAuth", names?: readonly string[]): Promise<void>;
  /** A key and a certificate for a gateway: CN = id, SANs IP:address and DNS:id. */
  gateway(id: string, address: string): Promise<{ cert: string; key: string }>;
  /** A key of its own and a client certificate (clientAuth) with CN = serial: what a CA that signs any request would issue. */
  client(serial: string): Promise<{ cert: string; key: string }>;
}

export async function makeTestCa(dir: string, cn = "Amadegi Rehearsal Test CA"): Promise<TestCa> {
  await mkdir(dir, { recursive: true });
  const cert = join(dir, "ca.crt");
  const key = join(dir, "ca.key");
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "30",
    "-subj",
    `/CN=${cn}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  const sign = async (csr: string, out: string, usage: "clientAuth" | "serverAuth", names: readonly string[] = []): Promise<void> => {
    const ext = `${out}.ext`;
    const san = names.length === 0 ? "" : `subjectAltName=${names.join(",")}\n`;
    await writeFile(ext, `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${usage}\n${san}`);
    await run("openssl", [
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      cert,
      "-CAkey",
      key,
      "-set_serial",
      `0x${randomBytes(8).toString("hex")}`,
      "-days",
      "30",
      "-sha256",
      "-extfile",
      ext,
      "-out",
      out,
    ]);
    await rm(ext);
  };
  /** A new key and a certificate for CN = name, signed for `usage`. */
  const leaf = async (name: string, usage: "clientAuth" | "serverAuth", names?: readonly string[]): Promise<{ cert: string; key: string }> => {
    const leafKey = join(dir, `${name}.key`);
    const csr = join(dir, `${name}.csr`);
    const leafCert = join(dir, `${name}.crt`);
    await run("openssl", [
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      leafKey,
      "-out",
      csr,
      "-subj",
      `/CN=${name}`,
    ]);
    await sign(csr, leafCert, usage, names);
    return { cert: leafCert, key: leafKey };
  };
  return {
    cert,
    key,
    sign,
    gateway: (id, address) => leaf(id, "serverAuth", [`IP:${address}`, `DNS:${id}`]),
    client: (serial) => leaf(serial, "clientAuth"),
  };
}

/** Sign every device's request in `<state>/devices/` into `issued/`, and put the CA where the stack would. */
export async function issueDevices(ca: TestCa, devicesDir: string, serials: readonly string[], parallel = 2): Promise<void> {
  await mkdir(join(devicesDir, "issued"), { recursive: true });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < serials.length) {
      const serial = serials[next++] ?? "";
      await ca.sign(join(devicesDir, `${serial}.csr`), join(devicesDir, "issued", `${serial}.crt`), "clientAuth");
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  await run("cp", [ca.cert, join(devicesDir, "issued", "ca.crt")]);
}
