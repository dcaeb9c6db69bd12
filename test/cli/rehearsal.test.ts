import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { run } from "../../src/toolchain/inspect.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), cwd: repoRoot, env: process.env }, out, err };
}

describe("amadegi rehearsal", () => {
  it("--help names the actions and the namespaces", async () => {
    const c = capture();
    expect(await main(["rehearsal", "--help"], c.io)).toBe(0);
    expect(c.out.join("\n")).toMatch(/up\|status\|down[\s\S]*amadegi-r-probe/);
  });

  it.each([[[]], [["sideways"]], [["up", "extra"]]])("a missing or unknown action is a usage error: %j", async (rest) => {
    const c = capture();
    expect(await main(["rehearsal", ...rest], c.io)).toBe(2);
    expect(c.err.join("\n")).toMatch(/rehearsal needs one of up, status, down/);
  });

  it.skipIf(process.getuid?.() !== 0)("without root it says so and exits 2, before touching anything", async () => {
    const result = await run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, join(repoRoot, "bin", "amadegi.js"), "rehearsal", "up", "--state", "/nonexistent/amadegi-rehearsal"], { cwd: "/" });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/needs root/);
  });
});
