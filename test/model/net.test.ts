import { describe, expect, it } from "vitest";
import { cidrContains, formatIpv4, parseCidr, parseIpv4 } from "../../src/model/net.ts";

describe("IPv4", () => {
  it.each(["10.0.0.1", "0.0.0.0", "255.255.255.255", "198.51.100.7"])("%s is an address", (a) => {
    const n = parseIpv4(a);
    expect(n).toBeDefined();
    expect(formatIpv4(n ?? 0)).toBe(a);
  });

  it.each(["10.0.0.256", "10.01.0.1", "10.0.0", "10.0.0.1.2", " 10.0.0.1", "10.0.0.-1", "a.b.c.d", "1e1.0.0.1"])("%j is not", (a) => {
    expect(parseIpv4(a)).toBeUndefined();
  });

  it("parses CIDRs and refuses host bits, suggesting the network", () => {
    expect(parseCidr("10.20.0.0/16")).toEqual({ ok: true, base: parseIpv4("10.20.0.0"), bits: 16 });
    expect(parseCidr("0.0.0.0/0")).toMatchObject({ ok: true, bits: 0 });
    expect(parseCidr("10.20.1.0/16")).toEqual({ ok: false, reason: "host bits are set", suggestion: "10.20.0.0/16" });
    expect(parseCidr("10.20.0.0/33")).toMatchObject({ ok: false });
    expect(parseCidr("10.20.0.0")).toMatchObject({ ok: false });
  });

  it("tells whether a range holds an address", () => {
    const net = parseCidr("198.51.100.128/25");
    if (!net.ok) throw new Error("fixture");
    expect(cidrContains(net, parseIpv4("198.51.100.200") ?? 0)).toBe(true);
    expect(cidrContains(net, parseIpv4("198.51.100.12") ?? 0)).toBe(false);
  });
});
