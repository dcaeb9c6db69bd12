// The tcp probe against real listeners on 127.41.0.0/16, and inside a
// namespace of its own for what loopback cannot do (a black hole, an ICMP
// host-unreachable).
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProbeError } from "../../../src/lib/errors.ts";
import { parseAllow } from "../../../src/probe/allow.ts";
import { createProbes } from "../../../src/probe/probes/index.ts";
import type { Observation } from "../../../src/probe/types.ts";
import { behaviours, freePort, tcpListener, type Listener } from "../../helpers/listeners.ts";
import { createNetns, type Netns } from "../../helpers/netns.ts";
import { context, target } from "../../helpers/probe-target.ts";

const probes = createProbes({ allow: parseAllow(["127.41.0.0/16"], "test") });
const listeners: Listener[] = [];
afterAll(async () => {
  await Promise.all(listeners.map((l) => l.close()));
});

async function listener(address: string, behave: Parameters<typeof tcpListener>[1]): Promise<Listener> {
  const l = await tcpListener(address, behave);
  listeners.push(l);
  return l;
}

describe("tcp probe on loopback", () => {
  it("up: connects and reports the connect time", async () => {
    const l = await listener("127.41.0.1", behaviours.silent);
    const o = await probes.tcp.probe(target("tcp", l.address, l.port), context(2000));
    expect(o.ok).toBe(true);
    expect(o.failure).toBeUndefined();
    expect(o.values.CONNECTED).toBe(true);
    expect(o.timings.connect).toBeGreaterThanOrEqual(0);
    expect(o.values.CONNECT_TIME).toBe(o.timings.connect);
    expect(l.connections()).toBe(1);
  });

  it("refused: nothing listens on the port", async () => {
    const port = await freePort("127.41.0.2");
    const o = await probes.tcp.probe(target("tcp", "127.41.0.2", port), context(2000));
    expect(o).toMatchObject({ ok: false, failure: "refused", values: { CONNECTED: false } });
    expect(o.detail).toContain(`127.41.0.2:${port}: ECONNREFUSED`);
  });

  it("reads a banner when asked", async () => {
    const l = await listener("127.41.0.3", behaviours.banner("220 gw ready"));
    const o = await probes.tcp.probe(target("tcp", l.address, l.port, { params: { banner: true } }), context(2000));
    expect(o).toMatchObject({ ok: true, values: { BANNER: "220 gw ready" } });
  });

  it("reset: the peer resets after accepting", async () => {
    const l = await listener("127.41.0.4", behaviours.reset);
    const o = await probes.tcp.probe(target("tcp", l.address, l.port, { params: { banner: true } }), context(2000));
    // On loopback the RST can beat the connect event: either way it is a reset, never a refusal.
    expect(o).toMatchObject({ ok: false, failure: "reset" });
    expect(o.detail).toContain("ECONNRESET");
  });

  it("a silent peer times out within the attempt's time", async () => {
    const l = await listener("127.41.0.5", behaviours.silent);
    const started = performance.now();
    const o = await probes.tcp.probe(target("tcp", l.address, l.port, { params: { banner: true } }), context(300));
    expect(o).toMatchObject({ ok: false, failure: "timeout" });
    expect(performance.now() - started).toBeLessThan(1300);
  });

  it("the campaign's signal ends the attempt too", async () => {
    const l = await listener("127.41.0.6", behaviours.silent);
    const o = await probes.tcp.probe(target("tcp", l.address, l.port, { params: { banner: true } }), context(60_000, AbortSignal.timeout(200)));
    expect(o.failure).toBe("timeout");
    expect(o.timings.total).toBeLessThan(1200);
  });

  it("a target outside probe.allow is refused before any packet", async () => {
    const outside = await listener("127.141.0.1", behaviours.silent);
    const t = target("tcp", outside.address, outside.port);
    await expect(probes.tcp.probe(t, context(1000))).rejects.toThrow(ProbeError);
    await expect(probes.tcp.probe(t, context(1000))).rejects.toThrow(
      `target ${t.key}: address 127.141.0.1 is outside probe.allow (127.41.0.0/16; from test); nothing was sent`,
    );
    // Give a stray connection time to arrive, then prove none did.
    await new Promise((r) => setTimeout(r, 100));
    expect(outside.connections()).toBe(0);
  });

  it("a target without a port is a catalog bug, thrown", async () => {
    await expect(probes.tcp.probe(target("tcp", "127.41.0.7", undefined), context(1000))).rejects.toThrow("a tcp probe needs a port");
  });
});

// Inside a namespace of our own: its lo, and an nftables input chain that
// drops SYNs to one address (a black hole) and answers another with ICMP
// host-unreachable. Nothing here can leave the namespace: it has no other link.
const child = fileURLToPath(new URL("../../helpers/probe-child.ts", import.meta.url));
const RULES = `table ip amadegi_t {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr 127.66.0.1 tcp dport 9000 drop
    ip daddr 127.66.0.2 tcp dport 9000 reject with icmp type host-unreachable
    ip daddr 127.66.0.3 tcp dport 9000 reject with icmp type net-unreachable
  }
}
`;

describe("tcp probe in a namespace", () => {
  let ns: Netns | undefined;
  beforeAll(async () => {
    ns = await createNetns("tcp", RULES);
  });
  afterAll(async () => {
    await ns?.remove();
  });

  async function probeIn(address: string, timeoutMs: number): Promise<Observation> {
    if (ns === undefined) throw new Error("no namespace");
    const request = { kind: "tcp", target: target("tcp", address, 9000), allow: ["127.66.0.0/16"], timeoutMs };
    const result = await ns.exec([process.execPath, child, JSON.stringify(request)]);
    if (result.code !== 0) throw new Error(`probe-child failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as Observation;
  }

  it("black hole: no answer to the SYN is a timeout, within the attempt's time", async () => {
    const o = await probeIn("127.66.0.1", 500);
    expect(o).toMatchObject({ ok: false, failure: "timeout" });
    expect(o.timings.total).toBeGreaterThanOrEqual(450);
    expect(o.timings.total).toBeLessThan(1500);
  });

  it("ICMP host-unreachable is no-route", async () => {
    const o = await probeIn("127.66.0.2", 2000);
    expect(o).toMatchObject({ ok: false, failure: "no-route" });
    expect(o.detail).toContain("EHOSTUNREACH");
  });

  it("ICMP net-unreachable is no-route", async () => {
    const o = await probeIn("127.66.0.3", 2000);
    expect(o).toMatchObject({ ok: false, failure: "no-route" });
    expect(o.detail).toContain("ENETUNREACH");
  });
});
