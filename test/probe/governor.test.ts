import { describe, expect, it } from "vitest";
import { Governor, RateBucket } from "../../src/probe/governor.ts";
import { DnsCache } from "../../src/probe/dnscache.ts";
import { planPhases } from "../../src/probe/phases.ts";
import type { Target } from "../../src/probe/types.ts";

describe("rate bucket", () => {
  it("lets a burst through, then spaces probes at the rate", () => {
    const bucket = new RateBucket(1000, 5);
    const waits = Array.from({ length: 20 }, () => bucket.reserve(1, 1000));
    expect(waits.slice(0, 6).every((w) => w === 0)).toBe(true);
    expect(waits[19]).toBeCloseTo(14, 5);
  });

  it("the operator's limit applies on top of the global one", () => {
    const g = new Governor({ maxRate: 1_000_000, concurrency: 1, operatorRates: new Map([["mci", 10]]) });
    g.delay(1, "mci");
    expect(g.delay(1, "mci")).toBeGreaterThan(0);
    expect(g.delay(1, "tci")).toBe(0);
  });

  it("bounds what is in flight", async () => {
    const g = new Governor({ maxRate: 1000, concurrency: 2 });
    await g.acquire();
    await g.acquire();
    let third = false;
    const p = g.acquire().then(() => (third = true));
    await new Promise((r) => setTimeout(r, 5));
    expect(third).toBe(false);
    g.release();
    await p;
    expect(third).toBe(true);
  });
});

describe("DNS cache", () => {
  it("resolves a name once, shares concurrent asks, caches failures, passes addresses through", async () => {
    let calls = 0;
    const cache = new DnsCache(async (name) => {
      calls++;
      if (name === "bad.example") throw new Error("ENOTFOUND");
      return "10.0.0.7";
    });
    const [a, b] = await Promise.all([cache.get("auth.election.ir"), cache.get("auth.election.ir")]);
    expect(a).toEqual({ address: "10.0.0.7" });
    expect(b).toEqual({ address: "10.0.0.7" });
    expect((await cache.get("bad.example")).error).toMatch(/ENOTFOUND/);
    await cache.get("bad.example");
    expect(await cache.get("10.1.2.3")).toEqual({ address: "10.1.2.3" });
    expect(calls).toBe(2);
  });
});

describe("phases", () => {
  const t = (check: string, kind: Target["kind"], dependsOn?: string[]): Target => ({
    key: `${check}/x`,
    check,
    kind,
    address: "127.0.0.1",
    params: {},
    ...(dependsOn === undefined ? {} : { dependsOn }),
  });
  it("the ICMP sweep first (level by level), then the rest after what they depend on", () => {
    const phases = planPhases([
      t("link-tcp", "tcp", ["link-icmp/x"]),
      t("gw-https", "http", ["server-icmp/x"]),
      t("link-icmp", "icmp", ["server-icmp/x"]),
      t("server-icmp", "icmp"),
      t("checkin", "checkin"),
    ]);
    const names = phases.map((p) =>
      [...p.icmp, ...p.other]
        .map((x) => x.check)
        .sort()
        .join("+"),
    );
    expect(names).toEqual(["server-icmp", "link-icmp", "checkin", "gw-https", "link-tcp"]);
  });
});

describe("the in-flight limit follows the prober's own loop", () => {
  it("a slow loop halves what is in flight (not below 128, at most every 100 ms); a quick one lets it grow back to the stack's concurrency", async () => {
    const g = new Governor({ maxRate: 100_000, concurrency: 1024 });
    for (let i = 0; i < 1024; i++) await g.acquire();
    g.adapt(40, 1000);
    expect(g.limit).toBe(512);
    g.adapt(40, 1050); // too soon after the last cut: the cut needs a moment to show
    expect(g.limit).toBe(512);
    g.adapt(40, 1200);
    expect(g.limit).toBe(256);
    for (let t = 1300; t < 2000; t += 100) g.adapt(400, t);
    expect(g.limit).toBe(128);
    expect(g.lowest).toBe(128);
    // Over the limit, a released slot is not handed on: a waiter stays waiting.
    let admitted = false;
    void g.acquire().then(() => (admitted = true));
    g.release();
    await new Promise((r) => setImmediate(r));
    expect(admitted).toBe(false);
    for (let i = 0; i < 200; i++) g.adapt(1);
    expect(g.limit).toBe(1024);
    await new Promise((r) => setImmediate(r));
    expect(admitted).toBe(true);
  });

  it("a stack's concurrency under the floor is the floor: never cut", async () => {
    const g = new Governor({ maxRate: 100_000, concurrency: 64 });
    for (let i = 0; i < 64; i++) await g.acquire();
    for (let t = 1000; t < 2000; t += 100) g.adapt(400, t);
    expect(g.limit).toBe(64);
    expect(g.lowest).toBe(64);
  });
});
