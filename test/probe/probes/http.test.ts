// The http probe (undici) against real servers on 127.43.0.0/16: right and
// wrong answers, a server that never sends headers, one that drips its body,
// one that resets, garbage, and HTTPS with good and bad certificates.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProbeError } from "../../../src/lib/errors.ts";
import { parseAllow } from "../../../src/probe/allow.ts";
import { createProbes, type Probes } from "../../../src/probe/probes/index.ts";
import type { Observation } from "../../../src/probe/types.ts";
import { behaviours, httpListener, httpsListener, tcpListener, type Listener } from "../../helpers/listeners.ts";
import { makePki, type Pki } from "../../helpers/pki.ts";
import { context, target } from "../../helpers/probe-target.ts";

const NAME = "auth.test.amadegi";
let pki: Pki;
let probes: Probes;
const listeners: Listener[] = [];
let next = 1;
const address = (): string => `127.43.0.${next++}`;

beforeAll(async () => {
  pki = await makePki(NAME);
  probes = createProbes({ allow: parseAllow(["127.43.0.0/16"], "test"), tls: { caFile: pki.caFile }, maxBodyBytes: 1024 });
});
afterAll(async () => {
  await Promise.all(listeners.map((l) => l.close()));
  await pki.remove();
});

async function keep(l: Promise<Listener>): Promise<Listener> {
  const listener = await l;
  listeners.push(listener);
  return listener;
}

function probe(l: Listener, params: Record<string, string> = {}, timeoutMs = 3000): Promise<Observation> {
  return probes.http.probe(target("http", l.address, l.port, { hostname: NAME, params }), context(timeoutMs));
}

describe("http probe", () => {
  it("up: status, body, headers, timings; sends Host; a fresh connection per probe, closed after the response", async () => {
    const seen: string[] = [];
    const closedAfterResponse: boolean[] = [];
    const l = await keep(
      httpListener(address(), (req, res) => {
        seen.push(`${req.method} ${req.url} host=${req.headers.host}`);
        res.writeHead(200, { "content-type": "application/json", "x-election": "1404" }).end('{"ready":true}');
        // The server offers keep-alive; the probe must not take it.
        req.socket.once("close", () => closedAfterResponse.push(res.writableFinished));
      }),
    );
    const o = await probe(l, { path: "/health?full=1" });
    expect(o).toMatchObject({
      ok: true,
      values: {
        STATUS: 200,
        BODY: '{"ready":true}',
        BODY_BYTES: 14,
        BODY_TRUNCATED: false,
        HEADER_CONTENT_TYPE: "application/json",
        HEADER_X_ELECTION: "1404",
      },
    });
    await probe(l, { path: "/health?full=1" });
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([`GET /health?full=1 host=${NAME}`, `GET /health?full=1 host=${NAME}`]);
    expect(l.connections()).toBe(2);
    expect(closedAfterResponse).toEqual([true, true]);
    expect(o.timings.connect).toBeDefined();
    expect(o.timings.firstByte).toBeGreaterThanOrEqual(o.timings.connect ?? 0);
    expect(o.timings.total).toBeGreaterThanOrEqual(o.timings.firstByte ?? 0);
  });

  it("a wrong status is measured, not judged: STATUS 503", async () => {
    const l = await keep(httpListener(address(), (_req, res) => res.writeHead(503).end("maintenance")));
    const o = await probe(l);
    expect(o).toMatchObject({ ok: true, values: { STATUS: 503, BODY: "maintenance" } });
  });

  it("a big body is cut at maxBodyBytes and not read further", async () => {
    const l = await keep(httpListener(address(), (_req, res) => res.writeHead(200).end("x".repeat(100_000))));
    const o = await probe(l);
    expect(o).toMatchObject({ ok: true, values: { BODY_BYTES: 1024, BODY_TRUNCATED: true } });
    expect((o.values.BODY as string).length).toBe(1024);
  });

  it("headers never sent: timeout in the headers phase, within the attempt's time", async () => {
    const l = await keep(tcpListener(address(), behaviours.headersNever));
    const o = await probe(l, {}, 500);
    expect(o).toMatchObject({ ok: false, failure: "timeout", values: { HTTP_PHASE: "headers" } });
    expect(o.detail).toContain("no response headers within 500 ms");
    expect(o.timings.total).toBeLessThan(1500);
  });

  it("slow drip (one byte a second): timeout in the body phase, never longer than the attempt", async () => {
    const l = await keep(tcpListener(address(), behaviours.drip));
    const o = await probe(l, {}, 1500);
    expect(o).toMatchObject({ ok: false, failure: "timeout", values: { HTTP_PHASE: "body" } });
    expect(o.detail).toMatch(/body still arriving after 1500 ms \(\d bytes read\)/);
    expect(o.timings.firstByte).toBeDefined();
    expect(o.timings.total).toBeLessThan(2500);
  });

  it("reset after the request: reset", async () => {
    const l = await keep(tcpListener(address(), behaviours.resetOnData));
    const o = await probe(l);
    expect(o).toMatchObject({ ok: false, failure: "reset" });
  });

  it("not HTTP: protocol", async () => {
    const l = await keep(tcpListener(address(), behaviours.garbage));
    const o = await probe(l);
    expect(o).toMatchObject({ ok: false, failure: "protocol" });
  });

  it("refused", async () => {
    const l = await keep(httpListener(address(), (_req, res) => res.end()));
    await l.close();
    const o = await probe(l);
    expect(o).toMatchObject({ ok: false, failure: "refused" });
  });

  it("outside probe.allow: refused before any packet", async () => {
    const outside = await keep(httpListener("127.143.0.1", (_req, res) => res.end("should not be reached")));
    await expect(probe(outside)).rejects.toThrow(ProbeError);
    expect(outside.connections()).toBe(0);
  });
});

describe("https probe", () => {
  it("up: the TLS values and the HTTP answer together", async () => {
    const l = await keep(httpsListener(address(), pki.good, (_req, res) => res.writeHead(204).end()));
    const o = await probe(l, { scheme: "https", path: "/" });
    expect(o).toMatchObject({ ok: true, values: { STATUS: 204, TLS_VERSION: "TLSv1.3", CERTIFICATE_VERIFIED: true, CERTIFICATE_HOSTNAME: true } });
    expect(o.timings.tls).toBeDefined();
  });

  it("an expired certificate: tls, and no request is sent", async () => {
    const requests: string[] = [];
    const l = await keep(
      httpsListener(address(), pki.expired, (req, res) => {
        requests.push(req.url ?? "");
        res.end();
      }),
    );
    const o = await probe(l, { scheme: "https" });
    expect(o).toMatchObject({ ok: false, failure: "tls", values: { CERTIFICATE_ERROR: "CERT_HAS_EXPIRED" } });
    expect(requests).toEqual([]);
  });

  it("a foreign CA: tls", async () => {
    const l = await keep(httpsListener(address(), pki.foreign, (_req, res) => res.end()));
    const o = await probe(l, { scheme: "https" });
    expect(o).toMatchObject({ ok: false, failure: "tls", values: { CERTIFICATE_VERIFIED: false } });
  });

  it("each attempt is a new connection and a full handshake (no keep-alive, no session reuse)", async () => {
    const l = await keep(httpsListener(address(), pki.good, (_req, res) => res.end("ok")));
    for (let i = 0; i < 3; i += 1) expect((await probe(l, { scheme: "https" })).ok).toBe(true);
    expect(l.connections()).toBe(3);
  });
});
