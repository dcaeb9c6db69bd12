// The guard itself, table-driven. Inventory-like addresses appear here as
// data only: nothing in this file opens a socket.
import { describe, expect, it } from "vitest";
import { ProbeError } from "../../src/lib/errors.ts";
import { assertAllowed, checkAllowed, guardFor, parseAllow } from "../../src/probe/allow.ts";

describe("parseAllow", () => {
  it("reads CIDR ranges", () => {
    const allow = parseAllow(["10.20.0.0/16", " 127.0.0.0/8 "], "stacks/Pulumi.rehearsal.yaml");
    expect(allow.ranges.map((r) => r.text)).toEqual(["10.20.0.0/16", "127.0.0.0/8"]);
    expect(allow.source).toBe("stacks/Pulumi.rehearsal.yaml");
  });

  it("reports every bad entry at once, with a suggestion for host bits", () => {
    let error: unknown;
    try {
      parseAllow(["10.20.1.0/16", "10.300.0.0/16", "10.0.0.0"]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ProbeError);
    const message = (error as ProbeError).message;
    expect(message).toContain("3 bad range(s)");
    expect(message).toContain("did you mean 10.20.0.0/16?");
    expect(message).toContain('"10.300.0.0/16"');
    expect(message).toContain("needs a prefix length");
  });
});

describe("checkAllowed", () => {
  const allow = parseAllow(["10.20.0.0/16", "172.16.5.0/24", "192.0.2.7/32"]);
  it.each([
    ["10.20.0.1", true],
    ["10.20.255.255", true],
    ["10.21.0.1", false],
    ["172.16.5.200", true],
    ["172.16.6.1", false],
    ["192.0.2.7", true],
    ["192.0.2.8", false],
    ["127.0.0.1", false],
    ["10.020.0.1", false], // a leading zero is not read as octal or decimal: refused
    ["gw.example", false],
    ["", false],
  ])("%s → %s", (address, expected) => {
    expect(checkAllowed(address, allow)).toBe(expected);
  });

  it("an empty list allows nothing", () => {
    expect(checkAllowed("127.0.0.1", parseAllow([]))).toBe(false);
  });

  it("0.0.0.0/0 allows everything (a stack must say so explicitly)", () => {
    expect(checkAllowed("8.8.8.8", parseAllow(["0.0.0.0/0"]))).toBe(true);
  });
});

describe("assertAllowed", () => {
  it("names the target, the address, the ranges and what to do", () => {
    const allow = parseAllow(["10.20.0.0/16"], "stacks/Pulumi.teh.yaml amadegi:probe.allow");
    expect(() => assertAllowed("icmp-link/PKD-0031/PKD-0031-F", "10.99.3.4", allow)).toThrow(ProbeError);
    try {
      assertAllowed("icmp-link/PKD-0031/PKD-0031-F", "10.99.3.4", allow);
    } catch (error) {
      const e = error as ProbeError;
      expect(e.message).toBe(
        "target icmp-link/PKD-0031/PKD-0031-F: address 10.99.3.4 is outside probe.allow " +
          "(10.20.0.0/16; from stacks/Pulumi.teh.yaml amadegi:probe.allow); nothing was sent",
      );
      expect(e.hint).toContain("declare its range in the stack's probe.allow");
    }
  });

  it("passes an allowed address", () => {
    expect(() => assertAllowed("k", "10.20.1.1", parseAllow(["10.20.0.0/16"]))).not.toThrow();
  });
});

describe("guardFor", () => {
  it("refuses a target outside the ranges by its key, and passes one inside", () => {
    const guard = guardFor(parseAllow(["10.20.0.0/16"]));
    expect(() => guard({ key: "tcp-gw/gw-teh-01", address: "10.21.0.1" })).toThrow("target tcp-gw/gw-teh-01: address 10.21.0.1 is outside probe.allow");
    expect(() => guard({ key: "tcp-gw/gw-teh-01", address: "10.20.0.1" })).not.toThrow();
  });
});
