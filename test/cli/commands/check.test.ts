// `amadegi check`: usage and exit codes, refusal before any packet, catalog
// findings with positions, and a real campaign against real listeners on
// loopback (the fixture inventory's addresses are 127.77.x.y).
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.ts";
import { readResults, type ResultRecord } from "../../../src/probe/results.ts";
import { commandsIn } from "../../helpers/encoding.ts";

const REPO = join(import.meta.dirname, "..", "..", "..");
const INVENTORY = join(REPO, "test/probe/fixtures/inventory");
const PORT = 18_722;
let root: string;
const servers: Server[] = [];

function capture(env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: {
      out: (t: string) => out.push(t),
      err: (t: string) => err.push(t),
      cwd: REPO,
      env: { ...process.env, AMADEGI_STATE_DIR: join(root, "state"), ...env },
    },
    out,
    err,
  };
}

async function listen(address: string): Promise<void> {
  const server = createServer((socket) => socket.end());
  servers.push(server);
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(PORT, address, resolve));
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "amadegi-check-"));
  await writeFile(join(root, "Pulumi.loop.yaml"), "config:\n  amadegi:probe:\n    allow: [127.77.0.0/16]\n    from: test\n");
  await writeFile(join(root, "Pulumi.elsewhere.yaml"), "config:\n  amadegi:probe:\n    allow: [127.78.0.0/16]\n");
  // No --inventory: the stack's own (relative to the repository root), not ./inventory (the sample, whose 10.x addresses probe.allow refuses).
  await writeFile(join(root, "Pulumi.own.yaml"), "config:\n  amadegi:inventory: test/probe/fixtures/inventory\n  amadegi:probe:\n    allow: [127.77.0.0/16]\n");
  await writeFile(join(root, "Pulumi.noprobe.yaml"), "config:\n  amadegi:environment: rehearsal\n");
  // pins: relative to the state directory (AMADEGI_STATE_DIR, capture()'s root/state).
  await writeFile(join(root, "Pulumi.nopins.yaml"), "config:\n  amadegi:probe:\n    allow: [127.77.0.0/16]\n    pins: no-such-state/pins.yaml\n");
  await writeFile(join(root, "Pulumi.badpins.yaml"), `config:\n  amadegi:probe:\n    allow: [127.77.0.0/16]\n    pins: ${join(root, "pins.yaml")}\n`);
  await writeFile(
    join(root, "pins.yaml"),
    "servers:\n  - id: gw-x\n    hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOw1h5Pf6nTzNML5qf7uUa8bAy36yQ7hVsV8MWSbLkw9\n",
  );
  const checks = join(root, "checks");
  await mkdir(checks);
  await writeFile(
    join(checks, "loop.yaml"),
    [
      "checks:",
      "  - id: gw-tcp",
      "    probe: tcp",
      "    select: { objects: servers, roles: [gateway] }",
      `    port: ${PORT}`,
      "    timeout: 500ms",
      "    retries: 1",
      "  - id: link-icmp",
      "    probe: icmp",
      "    select: { objects: links }",
      "    params: { count: 2 }",
      "    conditions: ['[LOSS] <= 5%', '[RTT] < 100ms']",
      "  - id: link-tcp",
      "    probe: tcp",
      "    select: { objects: links }",
      `    port: ${PORT}`,
      "    timeout: 500ms",
      "    dependsOn: [gw-tcp, link-icmp]",
      "",
    ].join("\n"),
  );
  // gw-a answers, gw-b does not (its stations' links become unreachable);
  // behind gw-a, one link's router answers and one refuses.
  await listen("127.77.0.1");
  await listen("127.77.16.1");
});

afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
  await rm(root, { recursive: true, force: true });
});

const base = () => ["check", "--stacks", root, "--inventory", INVENTORY, "--checks", join(root, "checks")];

describe("amadegi check", () => {
  it("a real campaign on loopback: up, down, unreachable; exit 1; results streamed with a header and a footer", async () => {
    const { io, out } = capture();
    const file = join(root, "r1.jsonl");
    const code = await main([...base(), "--stack", "loop", "--deadline", "20s", "--out", file], io);
    expect(code).toBe(1);
    const results = new Map<string, ResultRecord>();
    const read = await readResults(file, (r) => results.set(r.key, r));
    expect(read.header).toMatchObject({ stack: "loop", from: "test", targets: 12 });
    expect(read.footer).toMatchObject({ valid: true, interrupted: false });
    expect(results.get("gw-tcp/gw-a")?.status).toBe("up");
    expect(results.get("gw-tcp/gw-b")).toMatchObject({ status: "down", failure: "refused", attempts: 2 });
    expect(results.get("link-icmp/PKD-0001/PKD-0001-F")?.status).toBe("up");
    expect(results.get("link-tcp/PKD-0001/PKD-0001-F")?.status).toBe("up");
    expect(results.get("link-tcp/PKD-0001/PKD-0001-M")).toMatchObject({ status: "down", failure: "refused" });
    expect(results.get("link-tcp/PKD-0002/PKD-0002-F")).toMatchObject({ status: "unreachable", attempts: 0 });
    expect(results.get("link-tcp/PKD-0002/PKD-0002-F")?.detail).toMatch(/depends on gw-tcp\/gw-b, which is down/);
    expect(out.join("\n")).toMatch(/operator tci: up \d+ · degraded 0 · down \d+ · unreachable 1/);
    // The checks that held the campaign's end, each with its first and last second and its results.
    expect(out.join("\n")).toMatch(/^ {2}last to end: [a-z-]+ \d+\.\d–\d+\.\d s \(\d+\)(, [a-z-]+ \d+\.\d–\d+\.\d s \(\d+\)){2}$/m);
    expect(out.at(-1)).toMatch(/^not ready/);
  }, 30_000);

  it("--select narrows the campaign; all up exits 0; --json prints the report", async () => {
    const { io, out } = capture();
    const code = await main(
      [...base(), "--stack", "loop", "--select", "station=PKD-0001,link=PKD-0001-F|gw-a,check!=gw-tcp", "--out", join(root, "r2.jsonl"), "--json"],
      io,
    );
    expect(code).toBe(0);
    const report = JSON.parse(out.join("\n")) as {
      targets: number;
      valid: boolean;
      summary: { total: { up: number } };
      spans: { check: string; results: number }[];
    };
    expect(report.targets).toBe(2);
    expect(report.summary.total.up).toBe(2);
    expect(report.spans.reduce((n, s) => n + s.results, 0)).toBe(2);
  }, 30_000);

  it("without --inventory, probes the stack's amadegi:inventory, as drift reads it", async () => {
    const { io, out } = capture();
    const args = ["check", "--stacks", root, "--checks", join(root, "checks"), "--stack", "own"];
    const code = await main([...args, "--select", "station=PKD-0001,link=PKD-0001-F|gw-a,check!=gw-tcp", "--out", join(root, "r-own.jsonl"), "--json"], io);
    expect(code).toBe(0);
    expect(JSON.parse(out.join("\n"))).toMatchObject({ targets: 2, summary: { total: { up: 2 } } });
  }, 30_000);

  it("--deadline counts from the command's start (a namespace's run: the first process's): the campaign gets what is left", async () => {
    // As reexecInNetns passes it on: this command began 45 s ago, so a 60 s deadline leaves the campaign at most 15 s.
    const { io, out } = capture({ AMADEGI_STARTED_AT: String(Date.now() - 45_000) });
    const file = join(root, "r-began.jsonl");
    const select = "station=PKD-0001,link=PKD-0001-F|gw-a,check!=gw-tcp";
    const code = await main([...base(), "--stack", "loop", "--select", select, "--deadline", "60s", "--out", file, "--json"], io);
    expect(code).toBe(0);
    const read = await readResults(file);
    expect(read.header?.deadlineMs).toBeGreaterThan(0);
    expect(read.header?.deadlineMs).toBeLessThanOrEqual(15_000);
    expect((JSON.parse(out.join("\n")) as { preparedMs: number }).preparedMs).toBeGreaterThanOrEqual(45_000);
  }, 30_000);

  it("a deadline spent before the campaign begins: exit 2, what took the time, nothing sent", async () => {
    const { io, err } = capture({ AMADEGI_STARTED_AT: String(Date.now() - 10_000) });
    const file = join(root, "r-spent.jsonl");
    expect(await main([...base(), "--stack", "loop", "--deadline", "5s", "--out", file], io)).toBe(2);
    expect(err.join("\n")).toMatch(/the deadline \(5 s\) was spent before the campaign began: .* 12 targets took 1\d\.\d s; nothing was sent/);
    expect(err.join("\n")).toMatch(/longer --deadline/);
    await expect(readResults(file)).rejects.toThrow();
  });

  it("refuses a campaign with a target outside probe.allow before any packet (exit 2)", async () => {
    const { io, err } = capture();
    const file = join(root, "r3.jsonl");
    const code = await main([...base(), "--stack", "elsewhere", "--out", file], io);
    expect(code).toBe(2);
    expect(err.join("\n")).toMatch(/target\(s\) outside probe.allow; nothing was sent/);
    await expect(readResults(file)).rejects.toThrow();
  });

  it("a stack without amadegi:probe cannot run (exit 2, with the file and line)", async () => {
    const { io, err } = capture();
    expect(await main([...base(), "--stack", "noprobe"], io)).toBe(2);
    expect(err.join("\n")).toMatch(/Pulumi\.noprobe\.yaml:2:3 error schema\.missing-field -: .* has no amadegi:probe/);
  });

  it("a stack naming a pins overlay that does not exist cannot run: exit 2, a hint, nothing sent (no fallback to the inventory's pins)", async () => {
    const { io, err } = capture();
    const file = join(root, "r-nopins.jsonl");
    expect(await main([...base(), "--stack", "nopins", "--out", file], io)).toBe(2);
    expect(err.join("\n")).toContain(
      `the pins overlay ${join(root, "state", "no-such-state", "pins.yaml")} (${join(root, "Pulumi.nopins.yaml")} amadegi:probe.pins) does not exist`,
    );
    expect(err.join("\n")).toContain("run `amadegi rehearsal up` first");
    await expect(readResults(file)).rejects.toThrow();
  });

  it("an overlay that does not fit the inventory cannot run (exit 2, with the file and line)", async () => {
    const { io, err } = capture();
    expect(await main([...base(), "--stack", "badpins", "--out", join(root, "r-badpins.jsonl")], io)).toBe(2);
    expect(err.join("\n")).toMatch(/pins\.yaml:2:9 error reference\.unknown gw-x: server "gw-x" is not in the inventory \(did you mean "gw-a"\?\)/);
    expect(err.join("\n")).toMatch(/error schema\.missing-field gw-a: server "gw-a" of the inventory has no pin in the overlay/);
  });

  it("a typo in the catalog stops the run with file:line:col (exit 2)", async () => {
    const dir = join(root, "badchecks");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "a.yaml"), "checks:\n  - id: x\n    probe: icmp\n    select: { objects: links }\n    conditions: ['[LOS] <= 5%']\n");
    const { io, err } = capture();
    expect(await main(["check", "--stacks", root, "--stack", "loop", "--inventory", INVENTORY, "--checks", dir], io)).toBe(2);
    expect(err.join("\n")).toMatch(
      /a\.yaml:5:20 error schema\.bad-value x: condition "\[LOS\] <= 5%": unknown placeholder \[LOS\] \(did you mean \[LOSS\]\?\)/,
    );
  });

  it("a catalog that quotes attacks in its findings prints one inert line per finding (issue 14)", async () => {
    const dir = join(root, "attackchecks");
    await mkdir(dir, { recursive: true });
    // Parameter names and a condition are quoted back in the findings, as written.
    await writeFile(
      join(dir, "a.yaml"),
      "checks:\n  - id: x\n    probe: icmp\n    select: { objects: links }\n" +
        '    params: { "\\n::error::READY": 1, "\\r::add-mask::x": 2 }\n    conditions: ["[LOS] <= 5%\\n::error::R ##[error]y"]\n',
    );
    const { io, out, err } = capture();
    expect(await main(["check", "--stacks", root, "--stack", "loop", "--inventory", INVENTORY, "--checks", dir], io)).toBe(2);
    expect(out).toEqual([]);
    expect(err.length).toBeGreaterThanOrEqual(3);
    expect(err.every((line) => !/[\r\n]/.test(line))).toBe(true);
    expect(commandsIn(err.join("\n"))).toEqual([]);
    expect(err.join("\n")).toContain("\\n::error::READY");
  });

  it("bad usage exits 2", async () => {
    const { io } = capture();
    expect(await main([...base(), "--stack", "loop", "--deadline", "soon"], io)).toBe(2);
    expect(await main([...base(), "--stack", "loop", "--select", "distrct=x"], io)).toBe(2);
  });
});
