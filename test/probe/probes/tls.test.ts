// The tls probe against real TLS servers on 127.42.0.0/16, with certificates
// made by openssl for this run: good, expired, foreign CA, wrong name, a peer
// that speaks garbage, one that never answers, one that resets, and an mTLS
// endpoint.
import { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProbeError } from "../../../src/lib/errors.ts";
import { parseAllow } from "../../../src/probe/allow.ts";
import { createProbes, type Probes } from "../../../src/probe/probes/index.ts";
import { tlsHandshake } from "../../../src/probe/probes/tlsconnect.ts";
import type { Observation } from "../../../src/probe/types.ts";
import { behaviours, tcpListener, tlsListener, type Listener, type TlsIdentity } from "../../helpers/listeners.ts";
import { makePki, type Pki } from "../../helpers/pki.ts";
import { context, target } from "../../helpers/probe-target.ts";

const NAME = "gw.test.amadegi";
let pki: Pki;
let probes: Probes;
const listeners: Listener[] = [];
let next = 1;

beforeAll(async () => {
  pki = await makePki(NAME);
  probes = createProbes({ allow: parseAllow(["127.42.0.0/16"], "test"), tls: { caFile: pki.caFile } });
});
afterAll(async () => {
  await Promise.all(listeners.map((l) => l.close()));
  await pki.remove();
});

async function serve(identity: TlsIdentity): Promise<Listener> {
  const l = await tlsListener(`127.42.0.${next++}`, identity);
  listeners.push(l);
  return l;
}

async function probe(l: Listener, params: Record<string, string> = {}, timeoutMs = 3000): Promise<Observation> {
  return probes.tls.probe(target("tls", l.address, l.port, { hostname: NAME, params }), context(timeoutMs));
}

describe("tls probe", () => {
  it("up: chain to the election CA, right name, days left, version", async () => {
    const o = await probe(await serve(pki.good));
    expect(o.ok).toBe(true);
    expect(o.values).toMatchObject({
      TLS_VERSION: "TLSv1.3",
      CERTIFICATE_VERIFIED: true,
      CERTIFICATE_HOSTNAME: true,
      CERTIFICATE_ERROR: "",
      CERTIFICATE_SUBJECT: NAME,
      CERTIFICATE_ISSUER: "Amadegi Test Election CA",
    });
    expect(o.values.CERTIFICATE_EXPIRATION).toBeGreaterThan(29);
    expect(o.values.CERTIFICATE_EXPIRATION).toBeLessThanOrEqual(30.01);
    expect(o.timings.connect).toBeDefined();
    expect(o.timings.tls).toBeDefined();
  });

  it("reports TLS 1.2 when that is all the server speaks", async () => {
    const o = await probe(await serve({ ...pki.good, maxVersion: "TLSv1.2" }));
    expect(o).toMatchObject({ ok: true, values: { TLS_VERSION: "TLSv1.2" } });
  });

  it("expired: tls, with the negative days still measured", async () => {
    const o = await probe(await serve(pki.expired));
    expect(o).toMatchObject({
      ok: false,
      failure: "tls",
      values: { CERTIFICATE_ERROR: "CERT_HAS_EXPIRED", CERTIFICATE_VERIFIED: false, CERTIFICATE_NOT_AFTER: "2021-01-01T00:00:00.000Z" },
    });
    expect(o.values.CERTIFICATE_EXPIRATION).toBeLessThan(-1000);
    expect(o.detail).toContain("expired on 2021-01-01T00:00:00.000Z");
  });

  it("foreign CA: tls, chain not verified", async () => {
    const o = await probe(await serve(pki.foreign));
    expect(o).toMatchObject({
      ok: false,
      failure: "tls",
      values: { CERTIFICATE_VERIFIED: false, CERTIFICATE_ERROR: "UNABLE_TO_VERIFY_LEAF_SIGNATURE", CERTIFICATE_ISSUER: "Some Other CA" },
    });
    expect(o.detail).toContain("does not verify against the election CA bundle");
  });

  it("wrong name: tls, chain fine but the name is not ours", async () => {
    const o = await probe(await serve(pki.wrongName));
    expect(o).toMatchObject({
      ok: false,
      failure: "tls",
      values: { CERTIFICATE_VERIFIED: true, CERTIFICATE_HOSTNAME: false, CERTIFICATE_ERROR: "ERR_TLS_CERT_ALTNAME_INVALID" },
    });
    expect(o.detail).toContain(`not ${NAME}`);
  });

  it("node's identity step gets the empty certificate once; the socket's getPeerCertificate is node's again after it", async () => {
    // Node's identity step gets an empty certificate (our check reads the X509Certificate); no one after it does.
    const l = await serve(pki.good);
    const hs = await tlsHandshake(
      target("tls", l.address, l.port, { hostname: NAME }),
      parseAllow(["127.42.0.0/16"], "test"),
      { caFile: pki.caFile },
      new AbortController().signal,
    );
    try {
      expect(hs.problem).toBeUndefined();
      expect(hs.socket.authorized).toBe(true);
      // Node asked once, and the socket's method is node's own again for anyone after.
      expect(Object.hasOwn(hs.socket, "getPeerCertificate")).toBe(false);
      expect(hs.socket.getPeerCertificate).toBe(TLSSocket.prototype.getPeerCertificate);
    } finally {
      hs.socket.destroy();
    }
  });

  it("a peer speaking garbage is protocol, not tls", async () => {
    const l = await tcpListener("127.42.1.1", behaviours.garbage);
    listeners.push(l);
    const o = await probe(l);
    expect(o).toMatchObject({ ok: false, failure: "protocol", values: { TLS_ERROR: "ERR_SSL_WRONG_VERSION_NUMBER" } });
  });

  it("a peer that never answers the ClientHello times out in time", async () => {
    const l = await tcpListener("127.42.1.2", behaviours.silent);
    listeners.push(l);
    const o = await probe(l, {}, 400);
    expect(o).toMatchObject({ ok: false, failure: "timeout" });
    expect(o.timings.total).toBeLessThan(1400);
  });

  it("a peer that resets on the ClientHello is reset", async () => {
    const l = await tcpListener("127.42.1.3", behaviours.resetOnData);
    listeners.push(l);
    const o = await probe(l);
    expect(o).toMatchObject({ ok: false, failure: "reset" });
  });

  describe("mTLS", () => {
    let mtls: Listener;
    beforeAll(async () => {
      // An accepting server greets; Node's TLS server closes on a certificate it refuses.
      mtls = await tlsListener("127.42.2.1", { ...pki.good, clientCa: pki.ca }, (socket) => socket.write("hello\n"));
      listeners.push(mtls);
    });

    it("up with the election client certificate", async () => {
      const o = await probe(mtls, { cert: pki.client.certFile, key: pki.client.keyFile });
      expect(o).toMatchObject({ ok: true, values: { CERTIFICATE_VERIFIED: true } });
    });

    it("without a client certificate the server's refusal is tls", async () => {
      // Without a certificate of ours the probe does not wait for a verdict: it measured the
      // server's certificate, which is what a plain tls check asks. (mTLS checks give a cert.)
      const o = await probe(mtls);
      expect(o).toMatchObject({ ok: true, values: { CERTIFICATE_VERIFIED: true } });
    });

    it("a client certificate from a foreign CA is refused: tls", async () => {
      const o = await probe(mtls, { cert: pki.foreignClient.certFile, key: pki.foreignClient.keyFile });
      expect(o).toMatchObject({ ok: false, failure: "tls" });
      expect(o.values.TLS_ERROR).toBe("ERR_TLS_CLIENT_CERT_REFUSED");
      expect(o.detail).toContain("refused our client certificate");
    });
  });

  it("no CA bundle is a configuration error, thrown", async () => {
    const bare = createProbes({ allow: parseAllow(["127.42.0.0/16"], "test") });
    await expect(bare.tls.probe(target("tls", "127.42.3.1", 443), context(1000))).rejects.toThrow("no CA bundle");
  });

  it("outside probe.allow: refused before any packet", async () => {
    const outside = await tlsListener("127.142.0.1", pki.good);
    listeners.push(outside);
    await expect(probe(outside)).rejects.toThrow(ProbeError);
    expect(outside.connections()).toBe(0);
  });
});
