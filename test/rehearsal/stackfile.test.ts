import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { rehearsalStackSettings, writeRehearsalStack } from "../../src/rehearsal/stackfile.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";

const tracked = readFileSync(join(repoRoot, "stacks", "Pulumi.rehearsal.yaml"), "utf8");

describe("the rehearsal stack's settings for a rehearsal kept elsewhere", () => {
  it("points every path and the probing namespace of the tracked settings at the other rehearsal", () => {
    const text = rehearsalStackSettings(tracked, "/tmp/r", "amadegi-r-x-");
    expect(text).toContain("netns: amadegi-r-x-probe");
    for (const line of ["pins: /tmp/r/pins.yaml", "ca: /tmp/r/ca.crt", "caFile: /tmp/r/ca.crt", "requests: /tmp/r/devices", "issued: /tmp/r/devices/issued"])
      expect(text).toContain(line);
    expect(text).not.toContain(".amadegi/rehearsal");
    expect(text).not.toContain("amadegi-r-probe");
  });

  it("refuses a template that lost one of the lines, naming it", () => {
    expect(() => rehearsalStackSettings(tracked.replace("    pins: rehearsal/pins.yaml\n", ""), "/tmp/r", "amadegi-r-x-")).toThrow(
      'no line "pins: rehearsal/pins.yaml"',
    );
  });
});

describe("a stack standing for a rehearsal kept elsewhere", () => {
  it("writes its settings (with its inventory) and re-labels the rehearsal's pins overlay for it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-t-stackfile-"));
    try {
      await writeFile(join(dir, "pins.yaml"), "# overlay\nstack: rehearsal\nservers: []\n");
      const file = await writeRehearsalStack({ stacksDir: dir, stack: "bench-1", stateDir: dir, prefix: "amadegi-r-b-", inventory: "/inv" });
      expect(file).toBe(join(dir, "Pulumi.bench-1.yaml"));
      const text = await readFile(file, "utf8");
      expect(text).toContain("amadegi:inventory: /inv\n");
      expect(text).toContain("netns: amadegi-r-b-probe");
      expect(await readFile(join(dir, "pins.yaml"), "utf8")).toBe("# overlay\nstack: bench-1\nservers: []\n");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
