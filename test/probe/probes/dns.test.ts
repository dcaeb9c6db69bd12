// The dns probe against a DNS responder on 127.45.0.0/16 that answers, fails,
// refuses or stays silent as each test asks.
import { afterAll, describe, expect, it } from "vitest";
import { ProbeError } from "../../../src/lib/errors.ts";
import { parseAllow } from "../../../src/probe/allow.ts";
import { createProbes } from "../../../src/probe/probes/index.ts";
import { freePort } from "../../helpers/listeners.ts";
import { context, target } from "../../helpers/probe-target.ts";
import { dnsServer, type UdpServer } from "../../helpers/udp-servers.ts";

const probes = createProbes({ allow: parseAllow(["127.45.0.0/16"], "test") });
const servers: UdpServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function server(address: string, behaviour: Parameters<typeof dnsServer>[1]): Promise<UdpServer> {
  const s = await dnsServer(address, behaviour);
  servers.push(s);
  return s;
}

const question = (s: { address: string; port: number }, name: string) => target("dns", s.address, s.port, { params: { name, type: "A" } });

describe("dns probe", () => {
  it("answers, sorted, with NOERROR", async () => {
    const s = await server("127.45.0.1", { records: { "gw.election.test": ["10.20.0.9", "10.20.0.3", "10.20.0.12"] } });
    const o = await probes.dns.probe(question(s, "gw.election.test"), context(1000));
    expect(o).toMatchObject({ ok: true, values: { DNS_RCODE: "NOERROR", DNS_ANSWERS: ["10.20.0.12", "10.20.0.3", "10.20.0.9"], DNS_COUNT: 3 } });
    expect(s.received()).toBe(1);
  });

  it("NXDOMAIN is an answer (ok), for the catalog to judge", async () => {
    const s = await server("127.45.0.2", { records: {} });
    const o = await probes.dns.probe(question(s, "missing.election.test"), context(1000));
    expect(o).toMatchObject({ ok: true, values: { DNS_RCODE: "NXDOMAIN", DNS_ANSWERS: [], DNS_COUNT: 0 } });
  });

  it("SERVFAIL is failure dns", async () => {
    const s = await server("127.45.0.3", "servfail");
    const o = await probes.dns.probe(question(s, "gw.election.test"), context(1000));
    expect(o).toMatchObject({ ok: false, failure: "dns", values: { DNS_RCODE: "SERVFAIL" } });
  });

  it("REFUSED is failure dns", async () => {
    const s = await server("127.45.0.4", "refused");
    const o = await probes.dns.probe(question(s, "gw.election.test"), context(1000));
    expect(o).toMatchObject({ ok: false, failure: "dns", values: { DNS_RCODE: "REFUSED" } });
  });

  it("a silent server is a timeout, within the attempt's time", async () => {
    const s = await server("127.45.0.5", "silent");
    const o = await probes.dns.probe(question(s, "gw.election.test"), context(400));
    expect(o).toMatchObject({ ok: false, failure: "timeout" });
    expect(o.timings.total).toBeLessThan(1400);
    expect(s.received()).toBe(1);
  });

  it("nothing listening: refused (the ICMP port unreachable reaches c-ares)", async () => {
    const port = await freePort("127.45.0.6");
    const o = await probes.dns.probe(target("dns", "127.45.0.6", port, { params: { name: "x.test" } }), context(400));
    expect(o).toMatchObject({ ok: false, failure: "refused" });
  });

  it("outside probe.allow: refused before any packet", async () => {
    const outside = await server("127.145.0.1", { records: { "x.test": ["10.0.0.1"] } });
    await expect(probes.dns.probe(question(outside, "x.test"), context(500))).rejects.toThrow(ProbeError);
    await new Promise((r) => setTimeout(r, 100));
    expect(outside.received()).toBe(0);
  });

  it("a question without a name is a catalog bug, thrown", async () => {
    await expect(probes.dns.probe(target("dns", "127.45.0.1", 53), context(500))).rejects.toThrow("needs params.name");
  });
});
