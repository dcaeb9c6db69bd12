// The gateway's check-in recorder, run for real on a unix socket with client
// certificates made by openssl: every line it appends is a valid ADR 0004
// record (parseRecord), with the fingerprint openssl computes from the key.
import { execFile, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAttempt, parseRecord } from "../../../src/probe/probes/checkin-record.ts";
import { type LinksFile, post, RECORDER, type Recorder, startRecorder, tokenSnippet, waitFor } from "../../helpers/checkin-recorder.ts";
import { makePki, type Pki } from "../../helpers/pki.ts";

const run = promisify(execFile);

const LINKS: LinksFile = {
  "10.41.0.3": { station: "PKD-0001", link: "PKD-0001-F", serial: "DEV-0001" },
  "10.141.0.2": { station: "PKD-0001", link: "PKD-0001-M", serial: "DEV-0001" },
  "10.41.0.4": { station: "PKD-0002", link: "PKD-0002-F", serial: "DEV-0002" },
  // A station whose device is another one than the certificate the tests present.
  "10.41.0.5": { station: "PKD-0003", link: "PKD-0003-F", serial: "DEV-0003" },
  // A station whose device has the certificate's serial, but whose declared key is another (a re-keyed or cloned device).
  "10.41.0.6": { station: "PKD-0004", link: "PKD-0004-F", serial: "DEV-0001", fingerprint: `SHA256:${"A".repeat(43)}` },
};

/** SHA256:<unpadded base64> of the SPKI DER, computed by openssl alone from the private key. */
async function opensslFingerprint(keyFile: string): Promise<string> {
  const { stdout } = await run("sh", ["-c", `openssl pkey -in "${keyFile}" -pubout -outform DER | openssl dgst -sha256 -binary | base64`]);
  return `SHA256:${stdout.trim().replace(/=+$/, "")}`;
}

let dir = "";
let pki: Pki;
let recorder: Recorder;
let fingerprint = "";

/** The token the main recorder is started with, as its nginx would send it. */
const TOKEN = "5".repeat(64);

function headers(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const all: Record<string, string | undefined> = {
    "X-Amadegi-Token": TOKEN,
    "X-Client-Cert": encodeURIComponent(pki.client.cert.toString("utf8")),
    "X-Source-Address": "10.41.0.3",
    "X-TLS-Protocol": "TLSv1.3",
    "X-Amadegi-Station": "PKD-0001",
    "X-Amadegi-Link": "PKD-0001-F",
    ...overrides,
  };
  return Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined));
}

describe("checkin-recorder", () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "amadegi-t-recorder-"));
    pki = await makePki("gw.test");
    fingerprint = await opensslFingerprint(pki.client.keyFile);
    // PKD-0001's links declare the key the test device really has: its check-ins count.
    const links = Object.fromEntries(Object.entries(LINKS).map(([a, e]) => [a, e.station === "PKD-0001" ? { ...e, fingerprint } : e]));
    // A burst large enough for the 300 concurrent check-ins below (one certificate): the limit has its own tests.
    recorder = await startRecorder(dir, links, undefined, undefined, { token: tokenSnippet(TOKEN), args: ["--burst", "1000"] });
  });

  afterAll(async () => {
    await recorder.stop();
    await pki.remove();
    await rm(dir, { recursive: true, force: true });
  });

  it("listens on a 0660 socket and writes its pid file", () => {
    expect(statSync(recorder.socket).isSocket()).toBe(true);
    expect(statSync(recorder.socket).mode & 0o777).toBe(0o660);
    expect(readFileSync(recorder.pidFile, "utf8").trim()).toBe(String(recorder.child.pid));
  });

  it("records a check-in as one ADR 0004 line: serial from the CN, the link by source, the SPKI fingerprint", async () => {
    const before = recorder.lines().length;
    const answer = await post(recorder.socket, headers());
    expect(answer.status).toBe(204);
    const text = readFileSync(recorder.log, "utf8");
    expect(text.endsWith("\n")).toBe(true);
    const last = text.trimEnd().split("\n").at(-1) ?? "";
    const parsed = parseRecord(last);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.record).toEqual({
      v: 1,
      time: parsed.record.time,
      serial: "DEV-0001",
      station: "PKD-0001",
      link: "PKD-0001-F",
      sourceLink: "PKD-0001-F",
      source: "10.41.0.3",
      gateway: "gw-test-01",
      certFingerprint: fingerprint,
      tlsVersion: "TLSv1.3",
    });
    expect(Math.abs(Date.parse(parsed.record.time) - Date.now())).toBeLessThan(10_000);
    // Exactly the ADR's field order, nothing else.
    expect(Object.keys(JSON.parse(last) as object)).toEqual([
      "v",
      "time",
      "serial",
      "station",
      "link",
      "sourceLink",
      "source",
      "gateway",
      "certFingerprint",
      "tlsVersion",
    ]);
    expect(recorder.lines()).toHaveLength(before + 1);
  });

  it("records the network's word beside the device's: same station, other link", async () => {
    const answer = await post(recorder.socket, headers({ "X-Source-Address": "10.141.0.2" }));
    expect(answer.status).toBe(204);
    const last = recorder.lines().at(-1) as Record<string, unknown>;
    expect(last).toMatchObject({ link: "PKD-0001-F", sourceLink: "PKD-0001-M", source: "10.141.0.2" });
  });

  /** The lines appended since `before` (a count of lines). */
  const since = (before: number) => readFileSync(recorder.log, "utf8").trimEnd().split("\n").slice(before);
  const count = () => readFileSync(recorder.log, "utf8").trimEnd().split("\n").length;

  it("refuses with 403 a source outside the links file (none of this gateway's link addresses): a rejected attempt, never a check-in", async () => {
    const before = count();
    const answer = await post(recorder.socket, headers({ "X-Source-Address": "10.99.0.1" }));
    expect(answer.status).toBe(403);
    expect(answer.body).toContain("source 10.99.0.1 is none of the link addresses this gateway serves");
    const added = since(before);
    expect(added).toHaveLength(1);
    expect(parseRecord(added[0] ?? "").ok).toBe(false);
    const attempt = parseAttempt(added[0] ?? "");
    expect(attempt).toMatchObject({
      ok: true,
      attempt: { reason: "unlisted-source", serial: "DEV-0001", source: "10.99.0.1", gateway: "gw-test-01", certFingerprint: fingerprint, suppressed: 0 },
    });
    expect(JSON.parse(added[0] ?? "{}")).toMatchObject({ claimedStation: "PKD-0001" });
    expect(attempt.ok && attempt.attempt.station).toBeUndefined();
  });

  it("refuses with 403 a device that claims another station than its source address's, kept as a rejected attempt at that station's link", async () => {
    const before = count();
    const answer = await post(recorder.socket, headers({ "X-Source-Address": "10.41.0.4" }));
    expect(answer.status).toBe(403);
    expect(answer.body).toContain("PKD-0002");
    const added = since(before);
    expect(added).toHaveLength(1);
    expect(parseAttempt(added[0] ?? "")).toMatchObject({ ok: true, attempt: { reason: "other-station", station: "PKD-0002", sourceLink: "PKD-0002-F" } });
    await waitFor("the refusal on stderr", () => recorder.stderr().includes("refused 403 from 10.41.0.4"));
  });

  it("refuses with 403 another device's certificate from a station's own address (the serial is the station's device's, or nothing)", async () => {
    const before = count();
    const answer = await post(recorder.socket, headers({ "X-Source-Address": "10.41.0.5", "X-Amadegi-Station": "PKD-0003", "X-Amadegi-Link": "PKD-0003-F" }));
    expect(answer.status).toBe(403);
    expect(answer.body).toContain("the client certificate is device DEV-0001's; station PKD-0003's device is DEV-0003");
    const added = since(before);
    expect(added).toHaveLength(1);
    expect(parseAttempt(added[0] ?? "")).toMatchObject({ ok: true, attempt: { reason: "other-device", station: "PKD-0003", serial: "DEV-0001" } });
  });

  it("a certificate nginx found on its CRL: kept as a revoked attempt if the election CA signed it, refused unrecorded otherwise", async () => {
    const own = await mkdtemp(join(tmpdir(), "amadegi-t-recorder-"));
    const withCa = await startRecorder(own, LINKS, undefined, "revoked", { token: tokenSnippet(TOKEN), args: ["--ca", pki.caFile] });
    try {
      const revoked = { "X-Client-Verify": "FAILED:certificate revoked" };
      const answer = await post(withCa.socket, headers(revoked));
      expect(answer.status).toBe(403);
      expect(answer.body).toMatch(/device DEV-0001's certificate [0-9A-F]+ is revoked \(on the gateway's CRL\)/);
      await waitFor("the revoked attempt in the log", () => withCa.lines().length > 0);
      expect(withCa.lines()).toEqual([
        expect.objectContaining({ kind: "rejected", reason: "revoked", serial: "DEV-0001", station: "PKD-0001", source: "10.41.0.3" }),
      ]);
      expect(parseAttempt(JSON.stringify(withCa.lines()[0]))).toMatchObject({ ok: true, attempt: { reason: "revoked" } });
      // A certificate of another CA claiming to be revoked is no security event of this election: refused, nothing written.
      const foreign = await post(withCa.socket, headers({ ...revoked, "X-Client-Cert": encodeURIComponent(pki.foreignClient.cert.toString("utf8")) }));
      expect(foreign.status).toBe(403);
      expect(foreign.body).toContain("a revoked client certificate the election CA did not sign");
      // Any other failure nginx reports is refused, unrecorded, as before.
      const expired = await post(withCa.socket, headers({ "X-Client-Verify": "FAILED:certificate has expired" }));
      expect(expired.status).toBe(403);
      expect(withCa.lines()).toHaveLength(1);
    } finally {
      await withCa.stop();
      await rm(own, { recursive: true, force: true });
    }
  });

  it("refuses with 403 the device's serial with another key than the one declared (other-key), from the station's own address", async () => {
    const before = count();
    const answer = await post(recorder.socket, headers({ "X-Source-Address": "10.41.0.6", "X-Amadegi-Station": "PKD-0004", "X-Amadegi-Link": "PKD-0004-F" }));
    expect(answer.status).toBe(403);
    expect(answer.body).toContain(`device DEV-0001's certificate carries key ${fingerprint}; the inventory declares SHA256:${"A".repeat(43)}`);
    const added = since(before);
    expect(added).toHaveLength(1);
    expect(parseAttempt(added[0] ?? "")).toMatchObject({
      ok: true,
      attempt: { reason: "other-key", station: "PKD-0004", serial: "DEV-0001", certFingerprint: fingerprint },
    });
  });

  it("a links entry whose fingerprint is not one is refused at start, naming the address", async () => {
    const bad = await mkdtemp(join(tmpdir(), "amadegi-t-recorder-"));
    try {
      await expect(startRecorder(bad, { "10.41.0.3": { station: "PKD-0001", link: "PKD-0001-F", serial: "DEV-0001", fingerprint: "MD5:aa" } })).rejects.toThrow(
        /10\.41\.0\.3: "fingerprint" must be the device key's SHA256:<43 base64 characters>/,
      );
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });

  it("a flood of the same refused certificate writes one attempt a minute: the rest are counted, not written", async () => {
    const before = count();
    const answers = await Promise.all(Array.from({ length: 50 }, () => post(recorder.socket, headers({ "X-Source-Address": "10.41.0.4" }))));
    expect(answers.every((a) => a.status === 403)).toBe(true);
    // Its first attempt with this reason was written by the test above, less than a minute ago.
    expect(since(before)).toEqual([]);
  });

  it("refuses with 403 what did not come through its nginx (no token, or another), writing nothing", async () => {
    const before = readFileSync(recorder.log, "utf8");
    for (const token of [undefined, "6".repeat(64), TOKEN.slice(1)]) {
      const answer = await post(recorder.socket, headers({ "X-Amadegi-Token": token }));
      expect(answer.status).toBe(403);
      expect(answer.body).toContain("not from this gateway's nginx");
    }
    expect(readFileSync(recorder.log, "utf8")).toBe(before);
  });

  const refusals: [string, Record<string, string | undefined>, number, string][] = [
    ["no client certificate", { "X-Client-Cert": undefined }, 400, "x-client-cert"],
    ["an empty client certificate (nginx without one)", { "X-Client-Cert": "" }, 400, "x-client-cert"],
    ["no source address", { "X-Source-Address": undefined }, 400, "x-source-address"],
    ["no station", { "X-Amadegi-Station": undefined }, 400, "x-amadegi-station"],
    ["no link", { "X-Amadegi-Link": undefined }, 400, "x-amadegi-link"],
    [
      "a certificate that is not PEM",
      { "X-Client-Cert": encodeURIComponent("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n") },
      400,
      "not a URL-escaped PEM",
    ],
    ["a source that is not IPv4", { "X-Source-Address": "::1" }, 400, "not an IPv4"],
    ["a station id with a newline", { "X-Amadegi-Station": "PKD-0001 x" }, 400, "not a station id"],
    ["a certificate the gateway did not verify", { "X-Client-Verify": "FAILED:certificate has expired" }, 403, "did not verify"],
  ];
  for (const [what, overrides, status, reason] of refusals) {
    it(`refuses ${what} (${status}) and writes nothing`, async () => {
      const before = readFileSync(recorder.log, "utf8");
      const answer = await post(recorder.socket, headers(overrides));
      expect(answer.status).toBe(status);
      expect(answer.body).toContain(reason);
      expect(readFileSync(recorder.log, "utf8")).toBe(before);
    });
  }

  it("serves its table as metrics to GET /metrics through its nginx only: each link's latest check-in, its day's rejected attempts", async () => {
    expect((await post(recorder.socket, headers())).status).toBe(204);
    const got = await post(recorder.socket, headers(), { method: "GET", path: "/metrics" });
    expect(got.status).toBe(200);
    const last = /^amadegi_checkin_last_timestamp_seconds\{station="PKD-0001",link="PKD-0001-F"(?:,district="[^"]*")?\} (\d+(?:\.\d+)?)$/m.exec(got.body);
    expect(last, got.body).not.toBeNull();
    expect(Math.abs(Number(last?.[1]) * 1000 - Date.now())).toBeLessThan(60_000);
    expect(got.body).toMatch(/^amadegi_checkin_links \d+$/m);
    // Not through its nginx: refused.
    expect((await post(recorder.socket, headers({ "X-Amadegi-Token": undefined }), { method: "GET", path: "/metrics" })).status).toBe(403);
  });

  it("serves the devices' CRL's nextUpdate (--crl) as openssl reads it, read again when the file is replaced, absent while unreadable", async () => {
    const own = await mkdtemp(join(tmpdir(), "amadegi-t-recorder-"));
    const crl = join(own, "devices.crl");
    await writeFile(crl, readFileSync(pki.crlFile));
    const withCrl = await startRecorder(own, LINKS, undefined, "crl", { token: tokenSnippet(TOKEN), args: ["--crl", crl] });
    /** openssl's own reading of the file's nextUpdate (its default date format), in seconds. */
    const opensslNext = async (file: string): Promise<number> => {
      const { stdout } = await run("openssl", ["crl", "-noout", "-nextupdate", "-in", file]);
      return Date.parse(/^nextUpdate=(.+)$/m.exec(stdout)?.[1] ?? "") / 1000;
    };
    const served = async (): Promise<number | undefined> => {
      const got = await post(withCrl.socket, headers(), { method: "GET", path: "/metrics" });
      expect(got.status).toBe(200);
      const m = /^amadegi_device_crl_next_update_timestamp_seconds (\d+)$/m.exec(got.body);
      return m === null ? undefined : Number(m[1]);
    };
    try {
      const first = await opensslNext(crl);
      expect(first).toBeGreaterThan(Date.now() / 1000 + 29 * 86400);
      expect(await served()).toBe(first);
      // Replaced as the stack replaces it (a new file renamed over the old one), with another nextUpdate.
      const next = join(own, "next.crl");
      await run("openssl", ["ca", "-batch", "-gencrl", "-config", join(pki.dir, "ca-election.cnf"), "-crldays", "2", "-out", next]);
      renameSync(next, crl);
      const second = await opensslNext(crl);
      expect(second).toBeLessThan(first);
      expect(await served()).toBe(second);
      // Not a CRL, then gone: the series is absent (the rule sees it vanish), the rest of the page stays.
      await writeFile(crl, "not a CRL\n");
      expect(await served()).toBeUndefined();
      await rm(crl);
      expect(await served()).toBeUndefined();
    } finally {
      await withCrl.stop();
      await rm(own, { recursive: true, force: true });
    }
  });

  it("answers only POST /checkin (and GET /metrics)", async () => {
    expect((await post(recorder.socket, headers(), { path: "/other" })).status).toBe(404);
    expect((await post(recorder.socket, headers(), { method: "GET" })).status).toBe(405);
    expect((await post(recorder.socket, headers(), { body: "x".repeat(10_000) })).status).toBe(413);
  });

  it("keeps every line whole under 300 concurrent check-ins", async () => {
    const before = recorder.lines().length;
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) => post(recorder.socket, headers({ "X-Source-Address": i % 2 === 0 ? "10.41.0.3" : "10.141.0.2" }))),
    );
    expect(answers.every((a) => a.status === 204)).toBe(true);
    const lines = readFileSync(recorder.log, "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(before + 300);
    expect(lines.slice(before).filter((l) => !parseRecord(l).ok)).toEqual([]);
  });

  it("SIGHUP reopens the log (rotation) and re-reads the links file", async () => {
    const rotated = `${recorder.log}.1`;
    renameSync(recorder.log, rotated);
    const old = readFileSync(rotated, "utf8");
    await writeFile(recorder.links, JSON.stringify({ ...LINKS, "10.99.0.1": { station: "PKD-0001", link: "PKD-0001-X" } }));
    recorder.child.kill("SIGHUP");
    await waitFor("the reopened log", () => existsSync(recorder.log));
    await waitFor("the links re-read", () => recorder.stderr().includes("SIGHUP: reopened"));
    expect((await post(recorder.socket, headers({ "X-Source-Address": "10.99.0.1" }))).status).toBe(204);
    expect(readFileSync(rotated, "utf8")).toBe(old);
    const fresh = recorder.lines();
    expect(fresh).toHaveLength(1);
    expect(fresh[0]).toMatchObject({ source: "10.99.0.1", sourceLink: "PKD-0001-X" });
  });

  it("keeps the previous links when the links file turns bad on SIGHUP", async () => {
    await writeFile(recorder.links, "{ not json");
    const said = recorder.stderr().length;
    recorder.child.kill("SIGHUP");
    await waitFor("the SIGHUP report", () => recorder.stderr().slice(said).includes("keeping the previous"));
    expect((await post(recorder.socket, headers({ "X-Source-Address": "10.41.0.4" }))).status).toBe(403);
  });
});

/** Why the test that becomes nobody is skipped, when it is. */
const notRoot = process.getuid?.() === 0 ? "" : " (skipped: needs root to become nobody)";

describe("checkin-recorder start and stop", () => {
  let tmp = "";
  const started: Recorder[] = [];
  const start = async (...args: Parameters<typeof startRecorder> extends [string, ...infer R] ? R : never): Promise<Recorder> => {
    const r = await startRecorder(tmp, ...args);
    started.push(r);
    return r;
  };
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), "amadegi-t-recorder-"));
  });
  afterAll(async () => {
    // Whatever an assertion left running.
    for (const r of started) r.child.kill("SIGKILL");
    await rm(tmp, { recursive: true, force: true });
  });

  it("SIGTERM removes its socket and pid file and exits 0", async () => {
    const r = await start(LINKS, "gw-a", "term");
    expect(await r.stop()).toBe(0);
    expect(existsSync(r.socket)).toBe(false);
    expect(existsSync(r.pidFile)).toBe(false);
  });

  it.skipIf(process.getuid?.() !== 0)(`refuses a connection from a process that is neither its user nor in its group (nobody)${notRoot}`, async () => {
    const r = await start(LINKS, "gw-a", "perm");
    // Only the socket's own mode stands in the way: its directory is open to everyone.
    await chmod(tmp, 0o755);
    const script =
      `require("node:net").connect(${JSON.stringify(r.socket)})` +
      `.on("connect", () => { console.log("connected"); process.exit(0); })` +
      `.on("error", (e) => { console.log(e.code); process.exit(0); });`;
    const { stdout } = await run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", script]);
    expect(stdout.trim()).toBe("EACCES");
    // The recorder's own user still connects (so the refusal above is the mode's, not a dead socket).
    expect((await post(r.socket, headers())).status).toBe(204);
    expect(await r.stop()).toBe(0);
  });

  it("replaces a stale socket (a recorder killed with SIGKILL) but refuses a live one", async () => {
    const first = await start(LINKS, "gw-a", "stale");
    first.child.kill("SIGKILL");
    await new Promise((r) => first.child.once("exit", r));
    expect(statSync(first.socket).isSocket()).toBe(true);
    const second = await start(LINKS, "gw-a", "stale");
    expect((await post(second.socket, headers())).status).toBe(204);
    await expect(start(LINKS, "gw-a", "stale")).rejects.toThrow(/another process is listening/);
    expect(await second.stop()).toBe(0);
  });

  it("refuses a token file without a token, with exit 2, naming the file and the fix", async () => {
    await expect(start(LINKS, "gw-a", "badtoken", { token: 'proxy_set_header X-Amadegi-Token "short";\n' })).rejects.toThrow(
      /badtoken-token\.conf: no X-Amadegi-Token "<64 hex digits>" in it; remove it and start again to make a new one/,
    );
  });

  it("refuses a socket path that is not a socket, and a bad links file, with exit 2", async () => {
    await writeFile(join(tmp, "file.sock"), "not a socket");
    await expect(start(LINKS, "gw-a", "file")).rejects.toThrow(/is not a socket/);
    expect(readFileSync(join(tmp, "file.sock"), "utf8")).toBe("not a socket");
    await expect(start({ "10.0.0.300": { station: "S", link: "L" } }, "gw-a", "badlinks")).rejects.toThrow(/not an IPv4 address/);
    const child = spawn(process.execPath, [RECORDER, "--socket", join(tmp, "x.sock")], { stdio: "ignore" });
    expect(await new Promise((r) => child.on("exit", r))).toBe(2);
  });
});

describe("which rejected attempts the recorder writes (Rejections)", () => {
  /** The recorder's own class, from the file the gateways run. */
  const load = async () =>
    (await import(RECORDER)) as {
      Rejections: new (windowMs?: number, maxKeys?: number) => { admit(key: string, now: number): number | undefined };
    };

  it("writes the first of a key in each window and counts the rest into the next one written; keys are apart", async () => {
    const { Rejections } = await load();
    const r = new Rejections(60_000);
    expect(r.admit("cert-a other-station", 0)).toBe(0);
    expect(r.admit("cert-a other-station", 1_000)).toBeUndefined();
    expect(r.admit("cert-a other-station", 59_999)).toBeUndefined();
    expect(r.admit("cert-a other-device", 2_000)).toBe(0);
    expect(r.admit("cert-a other-station", 60_000)).toBe(2);
    expect(r.admit("cert-a other-station", 60_001)).toBeUndefined();
  });

  it("stays bounded: past its key limit it starts again (each key still written at most once a window)", async () => {
    const { Rejections } = await load();
    const r = new Rejections(60_000, 3);
    for (const k of ["a", "b", "c"]) expect(r.admit(k, 0)).toBe(0);
    expect(r.admit("d", 0)).toBe(0);
    // The table started again at "d": "a" is new to it.
    expect(r.admit("a", 1)).toBe(0);
    expect(r.admit("d", 2)).toBeUndefined();
  });
});

/** A self-signed certificate for a device serial (the recorder reads the CN and the key; nginx checks the CA). */
async function deviceCert(dir: string, serial: string): Promise<{ pem: string; fingerprint: string }> {
  const key = join(dir, `${serial}.key`);
  const cert = join(dir, `${serial}.pem`);
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/CN=${serial}`,
    "-keyout",
    key,
    "-out",
    cert,
  ]);
  return { pem: readFileSync(cert, "utf8"), fingerprint: await opensslFingerprint(key) };
}

interface TableEntry {
  station: string;
  link: string;
  checkin?: { time: string; serial: string; sourceLink: string; source: string };
  rejected?: { count: number; since: string; latest: { reason: string; source: string; certFingerprint: string } };
}
interface TableFile {
  v: number;
  kind: string;
  gateway: string;
  written: string;
  links: TableEntry[];
  unlisted?: { count: number; latest: { source: string } };
}

describe("the recorder's table, its log's rotation and a flood", () => {
  let tmp = "";
  const started: Recorder[] = [];
  const start = async (links: LinksFile, name: string, args: readonly string[] = []): Promise<Recorder> => {
    const r = await startRecorder(tmp, links, "gw-t", name, { token: tokenSnippet(TOKEN), args });
    started.push(r);
    return r;
  };
  const as = (pem: string, source: string, station: string, link: string) =>
    headers({ "X-Client-Cert": encodeURIComponent(pem), "X-Source-Address": source, "X-Amadegi-Station": station, "X-Amadegi-Link": link });
  const tableOf = (r: Recorder) => r.readTable() as TableFile;
  const entry = (r: Recorder, key: string) => tableOf(r).links.find((e) => `${e.station}/${e.link}` === key);

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), "amadegi-t-recorder-table-"));
    pki ??= await makePki("gw.table");
  });
  afterAll(async () => {
    for (const r of started) r.child.kill("SIGKILL");
    await rm(tmp, { recursive: true, force: true });
  });

  it("keeps the latest check-in per station/link over two links, rejected attempts at their source's link, unlisted sources in one summary", async () => {
    const r = await start(LINKS, "table");
    // Written at start, empty: the recorder has run.
    expect(tableOf(r)).toMatchObject({ v: 1, kind: "checkin-table", gateway: "gw-t", links: [] });
    const pem = pki.client.cert.toString("utf8");
    expect((await post(r.socket, as(pem, "10.41.0.3", "PKD-0001", "PKD-0001-F"))).status).toBe(204);
    expect((await post(r.socket, as(pem, "10.141.0.2", "PKD-0001", "PKD-0001-M"))).status).toBe(204);
    expect((await post(r.socket, as(pem, "10.41.0.3", "PKD-0001", "PKD-0001-F"))).status).toBe(204);
    expect((await post(r.socket, as(pem, "10.41.0.4", "PKD-0001", "PKD-0001-F"))).status).toBe(403);
    for (let i = 1; i <= 30; i++) expect((await post(r.socket, as(pem, `10.99.0.${i}`, "PKD-0001", "PKD-0001-F"))).status).toBe(403);
    const records = r.lines().filter((l) => (l as { kind?: string }).kind === undefined) as { time: string; sourceLink: string }[];
    const lastF = records.filter((l) => l.sourceLink === "PKD-0001-F").at(-1);
    await waitFor("the table with both links", () => entry(r, "PKD-0001/PKD-0001-F")?.checkin?.time === lastF?.time && tableOf(r).unlisted?.count === 30);
    const table = tableOf(r);
    expect(table.links.map((e) => `${e.station}/${e.link}`)).toEqual(["PKD-0001/PKD-0001-F", "PKD-0001/PKD-0001-M", "PKD-0002/PKD-0002-F"]);
    expect(entry(r, "PKD-0001/PKD-0001-F")?.checkin).toMatchObject({ serial: "DEV-0001", sourceLink: "PKD-0001-F", source: "10.41.0.3" });
    expect(entry(r, "PKD-0001/PKD-0001-M")?.checkin).toMatchObject({ sourceLink: "PKD-0001-M", source: "10.141.0.2" });
    expect(entry(r, "PKD-0001/PKD-0001-F")?.rejected).toBeUndefined();
    expect(entry(r, "PKD-0002/PKD-0002-F")).toMatchObject({ rejected: { count: 1, latest: { reason: "other-station", source: "10.41.0.4" } } });
    expect(entry(r, "PKD-0002/PKD-0002-F")?.checkin).toBeUndefined();
    // Thirty sources, one summary: the table does not grow with what arrives.
    expect(table.unlisted).toMatchObject({ count: 30, latest: { source: "10.99.0.30" } });
    expect(statSync(r.table).mode & 0o777).toBe(0o640);
    expect(readdirSync(join(tmp, "table")).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("keeps the table across a restart (read back at start), leaving out links no longer listed", async () => {
    const r = started.find((x) => x.table.endsWith(join("table", "checkin-latest.json"))) as Recorder;
    expect(await r.stop()).toBe(0);
    const before = tableOf(r);
    const fewer = Object.fromEntries(Object.entries(LINKS).filter(([address]) => address !== "10.41.0.4"));
    const again = await start(fewer, "table");
    const after = tableOf(again);
    expect(after.links).toEqual(before.links.filter((e) => e.station !== "PKD-0002"));
    expect(after.links.map((e) => e.checkin?.time)).toEqual([before.links[0]?.checkin?.time, before.links[1]?.checkin?.time]);
    expect(after.unlisted).toEqual(before.unlisted);
    // And it goes on from there: a new check-in over M replaces M's only.
    expect((await post(again.socket, as(pki.client.cert.toString("utf8"), "10.141.0.2", "PKD-0001", "PKD-0001-M"))).status).toBe(204);
    await waitFor("M's new check-in in the table", () => entry(again, "PKD-0001/PKD-0001-M")?.checkin?.time !== before.links[1]?.checkin?.time);
    expect(entry(again, "PKD-0001/PKD-0001-F")?.checkin?.time).toBe(before.links[0]?.checkin?.time);
  });

  it("writes each change of an entry, and a link dropped on SIGHUP leaves the table, though it writes only what changed", async () => {
    const r = await start(LINKS, "changes");
    const pem = pki.client.cert.toString("utf8");
    // A rejected attempt at F's link (another station's claim), written; then a check-in over F: the entry has both.
    expect((await post(r.socket, as(pem, "10.41.0.3", "PKD-0002", "PKD-0001-F"))).status).toBe(403);
    await waitFor("the rejected attempt in the table", () => entry(r, "PKD-0001/PKD-0001-F")?.rejected?.count === 1);
    expect((await post(r.socket, as(pem, "10.41.0.3", "PKD-0001", "PKD-0001-F"))).status).toBe(204);
    await waitFor("the check-in beside it", () => entry(r, "PKD-0001/PKD-0001-F")?.checkin !== undefined);
    expect(entry(r, "PKD-0001/PKD-0001-F")?.rejected?.count).toBe(1);
    // The same entry changed again: its newer check-in, not the one written before.
    const first = entry(r, "PKD-0001/PKD-0001-F")?.checkin?.time;
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await post(r.socket, as(pem, "10.41.0.3", "PKD-0001", "PKD-0001-F"))).status).toBe(204);
    expect((await post(r.socket, as(pem, "10.141.0.2", "PKD-0001", "PKD-0001-M"))).status).toBe(204);
    await waitFor(
      "F's newer check-in and M's",
      () => entry(r, "PKD-0001/PKD-0001-F")?.checkin?.time !== first && entry(r, "PKD-0001/PKD-0001-M") !== undefined,
    );
    expect(tableOf(r).links.map((e) => `${e.station}/${e.link}`)).toEqual(["PKD-0001/PKD-0001-F", "PKD-0001/PKD-0001-M"]);
    // M's address leaves the links file: M's entry leaves the table with the next write.
    await writeFile(r.links, JSON.stringify(Object.fromEntries(Object.entries(LINKS).filter(([address]) => address !== "10.141.0.2"))));
    r.child.kill("SIGHUP");
    await waitFor("M gone from the table", () => entry(r, "PKD-0001/PKD-0001-M") === undefined);
    expect(tableOf(r).links.map((e) => `${e.station}/${e.link}`)).toEqual(["PKD-0001/PKD-0001-F"]);
  });

  it("rotates its log at --log-max-bytes between records: the files together hold every request's line", async () => {
    const r = await start(LINKS, "rotate", ["--log-max-bytes", "2048", "--log-keep", "100", "--burst", "1000"]);
    const pem = pki.client.cert.toString("utf8");
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) statuses.push((await post(r.socket, as(pem, i % 2 === 0 ? "10.41.0.3" : "10.141.0.2", "PKD-0001", "PKD-0001-F"))).status);
    // Rejected attempts go to the same log, and rotate with it.
    statuses.push((await post(r.socket, as(pem, "10.41.0.4", "PKD-0001", "PKD-0001-F"))).status);
    expect(statuses.filter((s) => s === 204)).toHaveLength(60);
    const files = readdirSync(join(tmp, "rotate")).filter((f) => f.startsWith("checkin.jsonl"));
    expect(files.length).toBeGreaterThan(5);
    const lines = files.flatMap((f) =>
      readFileSync(join(tmp, "rotate", f), "utf8")
        .trimEnd()
        .split("\n"),
    );
    expect(lines).toHaveLength(61);
    expect(lines.filter((l) => parseRecord(l).ok)).toHaveLength(60);
    expect(lines.filter((l) => parseAttempt(l).ok)).toHaveLength(1);
    for (const f of files) expect(statSync(join(tmp, "rotate", f)).size).toBeLessThanOrEqual(2048);
    // .1 is the newest full file: its last record is just before the current file's first.
    const first = (f: string) => readFileSync(join(tmp, "rotate", f), "utf8").split("\n")[0] ?? "";
    const last = (f: string) =>
      readFileSync(join(tmp, "rotate", f), "utf8")
        .trimEnd()
        .split("\n")
        .at(-1) ?? "";
    expect(Date.parse((JSON.parse(last("checkin.jsonl.1")) as { time: string }).time)).toBeLessThanOrEqual(
      Date.parse((JSON.parse(first("checkin.jsonl")) as { time: string }).time),
    );
  });

  it("keeps only --log-keep rotated files", async () => {
    const r = await start(LINKS, "keep", ["--log-max-bytes", "1024", "--log-keep", "2", "--burst", "1000"]);
    const pem = pki.client.cert.toString("utf8");
    for (let i = 0; i < 40; i++) expect((await post(r.socket, as(pem, "10.41.0.3", "PKD-0001", "PKD-0001-F"))).status).toBe(204);
    expect(
      readdirSync(join(tmp, "keep"))
        .filter((f) => f.startsWith("checkin.jsonl"))
        .sort(),
    ).toEqual(["checkin.jsonl", "checkin.jsonl.1", "checkin.jsonl.2"]);
  });

  it("one device flooding (2,000 at once) while 20 others check in once: all 20 in the table, the flood answered 429, one event a minute", async () => {
    const certs = await Promise.all(Array.from({ length: 21 }, (_, i) => deviceCert(tmp, `DEV-F${String(i).padStart(2, "0")}`)));
    const links: LinksFile = {};
    certs.forEach((c, i) => {
      links[`10.60.0.${i + 1}`] = { station: `FLD-${i}`, link: `FLD-${i}-F`, serial: `DEV-F${String(i).padStart(2, "0")}`, fingerprint: c.fingerprint };
    });
    // The defaults: 10 a minute after a burst of 20.
    const r = await start(links, "flood");
    const flooder = certs[0] as { pem: string; fingerprint: string };
    const flood = as(flooder.pem, "10.60.0.1", "FLD-0", "FLD-0-F");
    const answers: { status: number; retryAfter?: string }[] = [];
    let sent = 0;
    const worker = async () => {
      while (sent < 2000) {
        sent++;
        answers.push(await post(r.socket, flood));
      }
    };
    const others = (async () => {
      // The others start once the flood is under way.
      await waitFor("the flood under way", () => answers.length >= 100, 60_000);
      return Promise.all(certs.slice(1).map((c, i) => post(r.socket, as(c.pem, `10.60.0.${i + 2}`, `FLD-${i + 1}`, `FLD-${i + 1}-F`))));
    })();
    await Promise.all([...Array.from({ length: 32 }, worker), others]);
    expect((await others).map((a) => a.status)).toEqual(Array.from({ length: 20 }, () => 204));
    const accepted = answers.filter((a) => a.status === 204).length;
    const limited = answers.filter((a) => a.status === 429);
    expect(answers).toHaveLength(2000);
    expect(accepted + limited.length).toBe(2000);
    // The burst, and what refilled at 10 a minute while the test ran (far below 2,000).
    expect(accepted).toBeGreaterThanOrEqual(20);
    expect(accepted).toBeLessThan(200);
    expect(limited.every((a) => Number(a.retryAfter) >= 1)).toBe(true);
    await waitFor("every station's check-in and the flood's count in the table", () => {
      const t = tableOf(r);
      return t.links.filter((e) => e.checkin !== undefined).length === 21 && entry(r, "FLD-0/FLD-0-F")?.rejected?.count === limited.length;
    });
    for (let i = 1; i <= 20; i++) expect(entry(r, `FLD-${i}/FLD-${i}-F`)?.checkin).toMatchObject({ serial: `DEV-F${String(i).padStart(2, "0")}` });
    // The log: the flooder's accepted check-ins and one flood event (a minute's), never a line per refusal.
    const lines = r.lines() as { kind?: string; reason?: string; serial: string; time: string; certFingerprint: string; suppressed?: number }[];
    const fromFlooder = lines.filter((l) => l.serial === "DEV-F00");
    const floods = fromFlooder.filter((l) => l.kind === "rejected");
    expect(floods.length).toBeGreaterThanOrEqual(1);
    expect(floods.length).toBeLessThanOrEqual(3);
    expect(floods[0]).toMatchObject({ reason: "flood", certFingerprint: flooder.fingerprint, station: "FLD-0", sourceLink: "FLD-0-F" });
    expect(parseAttempt(JSON.stringify(floods[0]))).toMatchObject({ ok: true, attempt: { reason: "flood" } });
    expect(fromFlooder.filter((l) => l.kind === undefined)).toHaveLength(accepted);
    expect(lines.filter((l) => l.serial !== "DEV-F00")).toHaveLength(20);
    // A flooding genuine device stays checked in: its latest accepted check-in, unchanged by the refusals.
    expect(entry(r, "FLD-0/FLD-0-F")?.checkin?.time).toBe(fromFlooder.filter((l) => l.kind === undefined).at(-1)?.time);
    expect(entry(r, "FLD-0/FLD-0-F")?.rejected?.latest).toMatchObject({ reason: "flood" });
  });
});

describe("which check-ins a certificate may make (Buckets)", () => {
  const load = async () =>
    (await import(RECORDER)) as { Buckets: new (perMinute: number, burst: number, maxKeys?: number) => { take(key: string, now: number): number } };

  it("takes a burst, then one per refill interval, and says how long to wait", async () => {
    const { Buckets } = await load();
    const b = new Buckets(6, 3);
    expect([b.take("a", 0), b.take("a", 0), b.take("a", 0)]).toEqual([0, 0, 0]);
    // 6 a minute: a token every 10 s.
    expect(b.take("a", 0)).toBe(10);
    expect(b.take("a", 4_000)).toBe(6);
    expect(b.take("b", 4_000)).toBe(0);
    expect(b.take("a", 10_000)).toBe(0);
    expect(b.take("a", 10_001)).toBe(10);
  });

  it("stays bounded: a full table forgets full buckets first, an emptied one is kept", async () => {
    const { Buckets } = await load();
    const b = new Buckets(6, 2, 2);
    b.take("flooder", 0);
    b.take("flooder", 0);
    b.take("quiet", 0);
    // "quiet" has refilled by 10 s; "flooder" has not: the third key makes room by forgetting "quiet".
    expect(b.take("new", 10_000)).toBe(0);
    expect(b.take("flooder", 10_000)).toBe(0);
    expect(b.take("flooder", 10_000)).toBeGreaterThan(0);
  });
});
