import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { rehearsalStackSettings } from "../../src/rehearsal/stackfile.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";

const tracked = readFileSync(join(repoRoot, "stacks", "Pulumi.rehearsal.yaml"), "utf8");

describe("the rehearsal stack's settings for a rehearsal kept elsewhere", () => {
  it("points every path and the probing namespace of the tracked settings at the other rehearsal", () => {
    const text = rehearsalStackSettings(tracked, "/tmp/r", "amadegi-r-x-");
    expect(text).toContain("netns: amadegi-r-x-probe");
    for (const line of ["pins: /tmp/r/pins.yaml", "ca: /tmp/r/ca.crt", "caFile: /tmp/r/ca.crt", "requests: /tmp/r/devices", "issued: /tmp/r/devices/issued"]) expect(text).toContain(line);
    expect(text).not.toContain(".amadegi/rehearsal");
    expect(text).not.toContain("amadegi-r-probe");
  });

  it("refuses a template that lost one of the lines, naming it", () => {
    expect(() => rehearsalStackSettings(tracked.replace("    pins: .amadegi/rehearsal/pins.yaml\n", ""), "/tmp/r", "amadegi-r-x-")).toThrow('no line "pins: .amadegi/rehearsal/pins.yaml"');
  });
});
