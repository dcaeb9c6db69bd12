// The responder's check-in against HTTPS servers on loopback (127.77.0.0/16,
// no namespace needed): the server sees the device's certificate and the bound
// source address; a gateway certificate from another CA or for another
// address is refused; a 403, a closed port, an address that is not local and
// a device without a certificate each give their own failure; the primary's
// failure sends the check-in to the secondary.
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deviceLayout, ensureDeviceKeys } from "../../src/rehearsal/devices.ts";
import { type LinkStatus, readResponderStatus, runResponder, type ResponderSpec } from "../../src/rehearsal/responder.ts";
import { waitFor } from "../helpers/checkin-recorder.ts";
import { issueDevices, makeTestCa } from "./device-ca.ts";

const SERIALS = ["DEV-A", "DEV-B", "DEV-C", "DEV-D", "DEV-E", "DEV-F", "DEV-G"];
let dir = "";
const servers: Server[] = [];
const seen: { serial: string; source: string; station: string; link: string }[] = [];
let links: LinkStatus[] = [];

async function https(address: string, cert: string, key: string, ca: string, status: number): Promise<void> {
  const server = createServer(
    { cert: readFileSync(cert), key: readFileSync(key), ca: readFileSync(ca), requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerX509Certificate();
      seen.push({
        serial: peer?.subject.replace(/^CN=/, "") ?? "",
        source: req.socket.remoteAddress ?? "",
        station: String(req.headers["x-amadegi-station"]),
        link: String(req.headers["x-amadegi-link"]),
      });
      res.writeHead(status);
      res.end();
    },
  );
  await new Promise<void>((resolve) => server.listen(8443, address, resolve));
  servers.push(server);
}

function link(id: string): LinkStatus | undefined {
  return links.find((l) => l.link === id);
}

describe("responder check-ins over TLS (loopback)", () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "amadegi-t-responder-tls-"));
    const state = join(dir, "state");
    const layout = deviceLayout(state);
    await ensureDeviceKeys(state, SERIALS);
    const ca = await makeTestCa(join(dir, "ca"));
    const foreign = await makeTestCa(join(dir, "foreign"), "Some Other CA");
    // DEV-E gets no certificate; DEV-G gets the certificate of another device (a key that does not match).
    await issueDevices(
      ca,
      layout.dir,
      SERIALS.filter((s) => s !== "DEV-E"),
    );
    await ca.sign(layout.csr("DEV-A"), layout.cert("DEV-G"), "clientAuth");
    const good = await ca.gateway("gw-good", "127.77.0.1");
    const other = await foreign.gateway("gw-foreign", "127.77.0.2");
    // Another gateway's certificate (its own id and address), served where gw-elsewhere should be.
    const misnamed = await ca.gateway("gw-other", "127.77.9.9");
    const forbidding = await ca.gateway("gw-forbid", "127.77.0.4");
    await https("127.77.0.1", good.cert, good.key, layout.ca, 204);
    await https("127.77.0.2", other.cert, other.key, layout.ca, 204);
    await https("127.77.0.3", misnamed.cert, misnamed.key, layout.ca, 204);
    await https("127.77.0.4", forbidding.cert, forbidding.key, layout.ca, 403);
    const gw = (id: string, address: string) => ({ id, address, port: 8443 });
    const device = (serial: string, gateways: string[], address: string) => ({
      serial,
      station: `ST-${serial}`,
      key: layout.key(serial),
      cert: layout.cert(serial),
      gateways,
      links: [{ id: `${serial}-F`, address }],
    });
    const spec: ResponderSpec = {
      version: 1,
      operator: "loop",
      ca: layout.ca,
      status: join(dir, "status.jsonl"),
      events: join(dir, "events.jsonl"),
      intervalMs: 200,
      jitter: 0,
      maxInFlight: 8,
      timeoutMs: 2_000,
      statusEveryMs: 50,
      gateways: [
        gw("gw-good", "127.77.0.1"),
        gw("gw-foreign", "127.77.0.2"),
        gw("gw-elsewhere", "127.77.0.3"),
        gw("gw-forbid", "127.77.0.4"),
        gw("gw-closed", "127.77.0.5"),
      ],
      devices: [
        device("DEV-A", ["gw-good"], "127.77.1.1"),
        device("DEV-B", ["gw-foreign", "gw-good"], "127.77.1.2"),
        device("DEV-C", ["gw-elsewhere"], "127.77.1.3"),
        device("DEV-D", ["gw-forbid"], "127.77.1.4"),
        device("DEV-E", ["gw-good"], "127.77.1.5"),
        // 192.0.2.99 (documentation range) is not local here: the bind fails, nothing is sent.
        device("DEV-F", ["gw-closed", "gw-good"], "192.0.2.99"),
        device("DEV-G", ["gw-good"], "127.77.1.7"),
      ],
    };
    const responder = runResponder(spec);
    try {
      await waitFor(
        "every link tried",
        () => {
          links = readResponderStatus(spec.status)?.links ?? [];
          return links.length === SERIALS.length && links.every((l) => l.attempts > 0 || l.state === "no-certificate");
        },
        20_000,
      );
    } finally {
      await responder.stop();
    }
  }, 60_000);

  afterAll(async () => {
    for (const s of servers) s.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("the gateway sees the device's certificate, headers and the link's address as the source", () => {
    expect(link("DEV-A-F")).toMatchObject({ state: "ok", last: { ok: true, gateway: "gw-good", status: 204 } });
    expect(seen).toContainEqual({ serial: "DEV-A", source: "127.77.1.1", station: "ST-DEV-A", link: "DEV-A-F" });
  });

  it("a gateway certificate from another CA is refused (tls) and the secondary takes the check-in", () => {
    expect(link("DEV-B-F")?.last).toMatchObject({ ok: true, gateway: "gw-good", primaryFailed: { gateway: "gw-foreign", failure: "tls" } });
    expect(seen.some((s) => s.serial === "DEV-B" && s.source === "127.77.1.2")).toBe(true);
  });

  it("a certificate of another gateway (another address and id) is refused (tls)", () => {
    expect(link("DEV-C-F")?.last).toMatchObject({ ok: false, gateway: "gw-elsewhere", failure: "tls" });
    expect(link("DEV-C-F")?.last?.error).toContain("ERR_TLS_CERT_ALTNAME_INVALID");
    expect(seen.some((s) => s.serial === "DEV-C")).toBe(false);
  });

  it("an answer other than 2xx is failure http with the status", () => {
    expect(link("DEV-D-F")?.last).toMatchObject({ ok: false, failure: "http", status: 403 });
    expect(link("DEV-D-F")?.state).toBe("failing");
  });

  it("a device without a certificate, or with another device's, is never tried", () => {
    expect(link("DEV-E-F")).toMatchObject({ state: "no-certificate", attempts: 0 });
    expect(link("DEV-E-F")?.error).toContain("DEV-E");
    expect(link("DEV-G-F")).toMatchObject({ state: "no-certificate", attempts: 0 });
    expect(link("DEV-G-F")?.error).toContain("key values mismatch");
    expect(seen.some((s) => s.serial === "DEV-A" && s.source === "127.77.1.7")).toBe(false);
  });

  it("an address that is not local fails to bind (no-address) at every gateway", () => {
    expect(link("DEV-F-F")?.last).toMatchObject({
      ok: false,
      gateway: "gw-good",
      failure: "no-address",
      primaryFailed: { gateway: "gw-closed", failure: "no-address" },
    });
  });

  it("a closed port is refused", async () => {
    const spec: ResponderSpec = {
      version: 1,
      operator: "loop2",
      ca: deviceLayout(join(dir, "state")).ca,
      status: join(dir, "status2.jsonl"),
      events: join(dir, "events2.jsonl"),
      intervalMs: 100,
      jitter: 0,
      maxInFlight: 1,
      timeoutMs: 2_000,
      statusEveryMs: 50,
      gateways: [{ id: "gw-closed", address: "127.77.0.5", port: 8443 }],
      devices: [
        {
          serial: "DEV-A",
          station: "ST",
          key: deviceLayout(join(dir, "state")).key("DEV-A"),
          cert: deviceLayout(join(dir, "state")).cert("DEV-A"),
          gateways: ["gw-closed"],
          links: [{ id: "L", address: "127.77.1.1" }],
        },
      ],
    };
    const responder = runResponder(spec);
    try {
      await waitFor("the attempt", () => (readResponderStatus(spec.status)?.links[0]?.attempts ?? 0) > 0);
    } finally {
      await responder.stop();
    }
    expect(readResponderStatus(spec.status)?.links[0]?.last).toMatchObject({ ok: false, failure: "refused" });
    expect(readResponderStatus(spec.status)?.header.stopped).toBe(true);
  });
});
