// The ntp probe (SNTP) against an NTP responder on 127.46.0.0/16 whose clock,
// stratum and manners each test chooses.
import { afterAll, describe, expect, it } from "vitest";
import { ProbeError } from "../../../src/lib/errors.ts";
import { parseAllow } from "../../../src/probe/allow.ts";
import { createProbes } from "../../../src/probe/probes/index.ts";
import { freePort } from "../../helpers/listeners.ts";
import { context, target } from "../../helpers/probe-target.ts";
import { ntpServer, type UdpServer } from "../../helpers/udp-servers.ts";

const probes = createProbes({ allow: parseAllow(["127.46.0.0/16"], "test") });
const servers: UdpServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function server(address: string, behaviour: Parameters<typeof ntpServer>[1]): Promise<UdpServer> {
  const s = await ntpServer(address, behaviour);
  servers.push(s);
  return s;
}

describe("ntp probe", () => {
  it.each([0, 2500, -750])("measures an offset of %d ms and the stratum", async (offsetMs) => {
    const s = await server(`127.46.0.${10 + servers.length}`, { offsetMs, stratum: 3 });
    const o = await probes.ntp.probe(target("ntp", s.address, s.port), context(1000));
    expect(o).toMatchObject({ ok: true, values: { STRATUM: 3, NTP_LEAP: 0 } });
    expect(Math.abs((o.values.NTP_OFFSET as number) - offsetMs)).toBeLessThan(50);
    expect(o.values.NTP_DELAY).toBeGreaterThanOrEqual(0);
  });

  it("kiss-of-death: refused, with the code", async () => {
    const s = await server("127.46.0.2", { kiss: "RATE" });
    const o = await probes.ntp.probe(target("ntp", s.address, s.port), context(1000));
    expect(o).toMatchObject({ ok: false, failure: "refused", values: { STRATUM: 0, NTP_KISS: "RATE" } });
    expect(o.detail).toContain("kiss-of-death RATE");
  });

  it("no answer: timeout, within the attempt's time", async () => {
    const s = await server("127.46.0.3", "silent");
    const o = await probes.ntp.probe(target("ntp", s.address, s.port), context(300));
    expect(o).toMatchObject({ ok: false, failure: "timeout" });
    expect(o.timings.total).toBeLessThan(1300);
  });

  it("a reply that does not echo our transmit time is ignored (then: timeout)", async () => {
    const s = await server("127.46.0.4", "stray");
    const o = await probes.ntp.probe(target("ntp", s.address, s.port), context(300));
    expect(o).toMatchObject({ ok: false, failure: "timeout" });
    expect(s.received()).toBe(1);
  });

  it("nothing listening: refused (ICMP port unreachable)", async () => {
    const port = await freePort("127.46.0.5");
    const o = await probes.ntp.probe(target("ntp", "127.46.0.5", port), context(1000));
    expect(o).toMatchObject({ ok: false, failure: "refused" });
  });

  it("outside probe.allow: refused before any packet", async () => {
    const outside = await server("127.146.0.1", { offsetMs: 0, stratum: 2 });
    await expect(probes.ntp.probe(target("ntp", outside.address, outside.port), context(500))).rejects.toThrow(ProbeError);
    await new Promise((r) => setTimeout(r, 100));
    expect(outside.received()).toBe(0);
  });
});
