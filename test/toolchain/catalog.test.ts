// The tool catalog names xmllint (issue 14: junit.xml is checked with a real
// XML parser), setup installs its Debian package, and doctor finds it.
import { describe, expect, it } from "vitest";
import { toolCatalog } from "../../src/toolchain/catalog.ts";
import { inspectTool } from "../../src/toolchain/doctor.ts";
import { debianPackages } from "../../src/toolchain/pins.ts";

describe("xmllint in the toolchain", () => {
  it("is in the catalog as a Debian tool, its package in setup's list, and doctor reports its version", async () => {
    const spec = toolCatalog.find((t) => t.name === "xmllint");
    expect(spec).toMatchObject({ binary: "xmllint", source: "debian" });
    expect(debianPackages).toContain("libxml2-utils");
    if (spec === undefined) return;
    const report = await inspectTool(spec, { PATH: "/usr/local/bin:/usr/bin:/bin" });
    expect(report.ok, report.problem).toBe(true);
    expect(report.version).toMatch(/^2\d{4}$/); // libxml2 2.x.y as one number, 20914 for 2.9.14
  });
});
