// amadegi drill at the command line: its usage, what it refuses before
// touching anything, and --restore of a drill that did not finish (the drill
// marker left behind by a crash). The drills themselves run end to end in
// test/rehearsal/drill.test.ts.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.ts";
import { DRILL_MARKER } from "../../../src/rehearsal/drill/marker.ts";
import { SCENARIOS } from "../../../src/rehearsal/drill/scenarios.ts";
import { run } from "../../../src/toolchain/inspect.ts";
import { repoRoot } from "../../../src/toolchain/paths.ts";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), cwd: repoRoot, env: process.env }, out, err };
}

const root = process.getuid?.() === 0;
let state = "";

beforeEach(async () => {
  state = await mkdtemp(join(tmpdir(), "amadegi-t-drill-cli-"));
});

afterEach(async () => {
  await rm(state, { recursive: true, force: true });
});

describe("amadegi drill", () => {
  it("--help lists every scenario and the exit codes", async () => {
    const c = capture();
    expect(await main(["drill", "--help"], c.io)).toBe(0);
    const text = c.out.join("\n");
    for (const s of SCENARIOS) expect(text).toContain(`  ${s} `);
    expect(text).toMatch(/Exit codes: 0 every fault detected and attributed/);
  });

  it.each([
    [[], /drill needs --scenario with one of fiber-cut, operator-outage, pop-lost/],
    [["--scenario", "fibre-cut"], /not "fibre-cut"/],
    [["--scenario", "fiber-cut", "--share", "150%"], /--share "150%": expected a share/],
    [["--scenario", "fiber-cut", "--deadline", "soon"], /--deadline soon/],
    [["--restore", "--scenario", "dns-down"], /--restore undoes an unfinished drill; it takes no --scenario/],
  ])("%j is a usage error, exit 2", async (args, message) => {
    const c = capture();
    expect(await main(["drill", ...args, "--state", state], c.io)).toBe(2);
    expect(c.err.join("\n")).toMatch(message);
  });

  it.skipIf(!root)("without root it says so and exits 2", async () => {
    const result = await run(
      "setpriv",
      [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        process.execPath,
        join(repoRoot, "bin", "amadegi.js"),
        "drill",
        "--scenario",
        "dns-down",
        "--state",
        "/nonexistent/amadegi-drill",
      ],
      { cwd: "/" },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/drill: needs root/);
  });

  it.skipIf(!root)("a rehearsal that is not up: exit 2, naming what to run first, and no fault", async () => {
    const c = capture();
    expect(await main(["drill", "--scenario", "fiber-cut", "--state", state], c.io)).toBe(2);
    expect(c.err.join("\n")).toMatch(/the rehearsal in .* is not up[\s\S]*amadegi rehearsal up/);
    expect(existsSync(join(state, DRILL_MARKER))).toBe(false);
  });

  it.skipIf(!root)("--restore with no unfinished drill has nothing to do", async () => {
    const c = capture();
    expect(await main(["drill", "--restore", "--state", state], c.io)).toBe(0);
    expect(c.out.join("\n")).toContain("no unfinished drill");
  });

  it.skipIf(!root)("--restore undoes what a crashed drill's marker names, then removes the marker", async () => {
    // A drill killed after recording its faults: one of them in a namespace that is gone by now (rehearsal down).
    const marker = {
      version: 1,
      id: "crashed",
      scenario: "operator-outage",
      pid: 999_999_999,
      startedAt: new Date().toISOString(),
      actions: [{ kind: "drop", ns: "amadegi-r-gone-op-tci", operator: "tci", addresses: ["10.41.0.3"] }],
    };
    await writeFile(join(state, DRILL_MARKER), JSON.stringify(marker));
    const c = capture();
    expect(await main(["drill", "--restore", "--state", state, "--json"], c.io)).toBe(0);
    expect(JSON.parse(c.out.join("\n"))).toEqual({ restored: true, leftovers: [] });
    expect(existsSync(join(state, DRILL_MARKER))).toBe(false);
  });

  it.skipIf(!root)("a damaged drill marker is not trusted: exit 2, and it stays for a person to look at", async () => {
    await writeFile(join(state, DRILL_MARKER), "{ not json");
    const c = capture();
    expect(await main(["drill", "--restore", "--state", state], c.io)).toBe(2);
    expect(c.err.join("\n")).toMatch(/drill\.json/);
    expect(await readFile(join(state, DRILL_MARKER), "utf8")).toBe("{ not json");
  });
});
