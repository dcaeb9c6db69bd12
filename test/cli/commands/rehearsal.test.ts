import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.ts";
import { lockPath } from "../../../src/lib/lock.ts";
import { run } from "../../../src/toolchain/inspect.ts";
import { repoRoot } from "../../../src/toolchain/paths.ts";
import { pakdashtInventory } from "../../rehearsal/fixture.ts";

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

  it("status --help offers the picture (--html FILE, --lang); a --lang it does not speak is a usage error, before anything runs", async () => {
    const help = capture();
    expect(await main(["rehearsal", "status", "--help"], help.io)).toBe(0);
    expect(help.out.join("\n")).toMatch(/--html FILE[\s\S]*--lang fa\|en/);
    const c = capture();
    expect(await main(["rehearsal", "status", "--html", "/nonexistent/picture.html", "--lang", "de"], c.io)).toBe(2);
    expect(c.err.join("\n")).toMatch(/^UsageError: --lang de: expected fa or en/);
  });

  // Reads the machine's namespace list (no rehearsal of this state directory is up) and sends no packet.
  it.skipIf(process.getuid?.() !== 0)("status --html draws a rehearsal that is not up: exit 1, the page says so, written whole", async () => {
    const fixture = await pakdashtInventory();
    try {
      const file = join(fixture.root, "out", "rehearsal.html");
      const c = capture();
      const args = ["rehearsal", "status", "--inventory", fixture.inventory, "--state", join(fixture.root, "state"), "--html", file, "--lang", "en"];
      expect(await main(args, c.io)).toBe(1);
      expect(c.out.join("\n")).toMatch(/^rehearsal is not up[\s\S]*\n {2}picture: .*rehearsal\.html \(\d+ KiB\)$/);
      const page = await readFile(file, "utf8");
      expect(page).toMatch(/<html lang="en" dir="ltr">/);
      expect(page).toContain('<span class="big">rehearsal is not up</span>');
      expect(page.match(/<g class="rh-ns ns-down"/g)).toHaveLength(6);
      expect(page.trimEnd().endsWith("</html>")).toBe(true);
    } finally {
      await rm(fixture.root, { recursive: true, force: true });
    }
  });

  it.skipIf(process.getuid?.() !== 0)("without root it says so and exits 2, before touching anything", async () => {
    const result = await run(
      "setpriv",
      [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        process.execPath,
        join(repoRoot, "bin", "amadegi.js"),
        "rehearsal",
        "up",
        "--state",
        "/nonexistent/amadegi-rehearsal",
      ],
      { cwd: "/" },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/needs root/);
  });

  it.skipIf(process.getuid?.() !== 0)("while another process holds the rehearsal's lock, up, down and devices start|stop exit 2 naming it", async () => {
    const state = await mkdtemp(join(tmpdir(), "amadegi-t-busy-"));
    const holder = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      await writeFile(
        lockPath(state),
        JSON.stringify({ pid: holder.pid, command: "amadegi drill --scenario fiber-cut", startedAt: "2025-01-02T03:04:05.000Z" }),
      );
      for (const action of [["up"], ["down"], ["devices", "start"], ["devices", "stop"]]) {
        const c = capture();
        expect(await main(["rehearsal", ...action, "--state", state], c.io), action.join(" ")).toBe(2);
        expect(c.err.join("\n")).toBe(
          `ToolError: the rehearsal in ${state} is busy: \`amadegi drill --scenario fiber-cut\` (pid ${holder.pid}, since 2025-01-02T03:04:05.000Z) ` +
            `holds ${lockPath(state)}\n  → wait for it to finish (ps -p ${holder.pid}); if that process is gone, run this again: ` +
            `a dead holder's lock is taken over (should pid ${holder.pid} now be another program, remove ${lockPath(state)})`,
        );
      }
    } finally {
      holder.kill("SIGKILL");
      await rm(state, { recursive: true, force: true });
    }
  });
});
