// Runs the real `amadegi doctor --json` as a user would and checks what it
// says against the files themselves.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { toolCatalog } from "../../../src/toolchain/catalog.ts";
import type { DoctorReport } from "../../../src/toolchain/doctor.ts";
import { PULUMI_VERSION } from "../../../src/toolchain/pins.ts";
import { repoRoot } from "../../../src/toolchain/paths.ts";

const exec = promisify(execFile);

async function doctor(): Promise<{ code: number; report: DoctorReport }> {
  try {
    const { stdout } = await exec(join(repoRoot, "bin/amadegi.js"), ["doctor", "--json"], { encoding: "utf8" });
    return { code: 0, report: JSON.parse(stdout) as DoctorReport };
  } catch (error) {
    const e = error as { code: number; stdout: string };
    return { code: e.code, report: JSON.parse(e.stdout) as DoctorReport };
  }
}

describe("amadegi doctor --json", () => {
  it("reports the pinned pulumi with its sha256 and Go build info, and Node 24 for plain previews", async () => {
    const { code, report } = await doctor();
    const pulumi = report.tools.find((t) => t.name === "pulumi");
    expect(pulumi?.version).toBe(PULUMI_VERSION);
    expect(pulumi?.versionOutput).toBe(`v${PULUMI_VERSION}`);
    const bytes = await readFile(pulumi?.path ?? "");
    expect(pulumi?.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    expect(pulumi?.build?.mod).toBe(`github.com/pulumi/pulumi/pkg/v3 v${PULUMI_VERSION}`);
    expect(report.previewNode.version).toMatch(/^24\./);
    expect(report.backend.kind).toBe("file");
    // The exit code follows the report: 1 exactly when something is missing.
    expect(code).toBe(report.missing.length === 0 ? 0 : 1);
    // Missing = not ok and needed; a tool nothing needs (the command provider: ADR 0006) is listed apart.
    const optional = new Set(toolCatalog.filter((t) => t.optional !== undefined).map((t) => t.name));
    expect(report.missing).toEqual(report.tools.filter((t) => !t.ok && !optional.has(t.name)).map((t) => t.name));
    expect(report.notNeeded).toEqual(report.tools.filter((t) => !t.ok && optional.has(t.name)).map((t) => t.name));
    expect(optional).toEqual(new Set(["pulumi-resource-command"]));
  }, 60_000);
});
