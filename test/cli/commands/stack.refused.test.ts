// What `amadegi up` says of the device requests the PKI refused (the program's `pki.refused` output, issue 17).
import { describe, expect, it } from "vitest";
import { refusedDevices } from "../../../src/cli/commands/stack.ts";

describe("the device requests refused, after an up", () => {
  it("names the first refusals with their reasons, and how many more", () => {
    const serials = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`X-${i}`, `undeclared: X-${i}.csr: not declared`]));
    const line = refusedDevices({ pki: { devices: 3, refused: { count: 120, serials } } });
    expect(line).toBe(
      "120 device request(s) refused, no certificate: X-0 (undeclared: X-0.csr: not declared); X-1 (undeclared: X-1.csr: not declared); " +
        "X-2 (undeclared: X-2.csr: not declared); X-3 (undeclared: X-3.csr: not declared); X-4 (undeclared: X-4.csr: not declared); " +
        "115 more in the pki.refused output and the issued directory's .refused.json",
    );
  });

  it("says nothing when none was refused, or the stack has no such output", () => {
    expect(refusedDevices({ pki: { devices: 3, refused: { count: 0, serials: {} } } })).toBeUndefined();
    expect(refusedDevices({ pki: { devices: 3 } })).toBeUndefined();
    expect(refusedDevices(undefined)).toBeUndefined();
  });

  it("shows a serial that carries a line break or a workflow command as inert text", () => {
    const line = refusedDevices({ pki: { refused: { count: 1, serials: { "A\n::error::x": "other-key: k" } } } }) ?? "";
    expect(line).not.toContain("\n");
    expect(line).toContain("\\n::error::x");
  });
});
