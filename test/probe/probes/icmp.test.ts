// The icmp probe through the real fping: loopback hosts on 127.44.0.0/16 in
// the machine's namespace, and black holes and partial loss inside a
// namespace of its own (nftables drops echo requests there).
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProbeError } from "../../../src/lib/errors.ts";
import { parseAllow } from "../../../src/probe/allow.ts";
import { createProbes, icmpTuned } from "../../../src/probe/probes/index.ts";
import { startSpawner } from "../../../src/probe/spawner.ts";
import type { Target } from "../../../src/probe/types.ts";
import { createNetns, type Netns } from "../../helpers/netns.ts";
import { context, target } from "../../helpers/probe-target.ts";

let dir: string;
/** A wrapper that records each start (one line per process) and then runs the real fping. */
let counted: string;
let log: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-t-icmp-"));
  log = join(dir, "spawned");
  counted = join(dir, "fping-counted");
  await writeFile(counted, `#!/bin/sh\necho "$$" >> '${log}'\nexec fping "$@"\n`);
  await chmod(counted, 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function spawns(): Promise<number> {
  const text = await readFile(log, "utf8").catch(() => "");
  return text.split("\n").filter((l) => l !== "").length;
}

function hosts(prefix: string, n: number): Target[] {
  return Array.from({ length: n }, (_, i) => target("icmp", `${prefix}.${Math.floor(i / 250)}.${(i % 250) + 1}`, undefined, { key: `icmp/h${i}` }));
}

describe("icmp probe on loopback", () => {
  it("measures every host of a batch in one fping process, with RTT, loss and jitter", async () => {
    await rm(log, { force: true });
    const probes = createProbes({ allow: parseAllow(["127.44.0.0/16"], "test"), icmp: { command: [counted], count: 3, periodMs: 20, intervalMs: 0 } });
    const targets = hosts("127.44", 1000);
    // Two checks on one address: one echo stream, two observations.
    targets.push(target("icmp", "127.44.0.1", undefined, { key: "icmp/dup" }));
    const results = await probes.icmp.probeAll(targets, context(500));
    expect(await spawns()).toBe(1);
    expect(results.size).toBe(1001);
    for (const t of targets) {
      const o = results.get(t.key);
      expect(o?.ok, t.key).toBe(true);
      expect(o?.values).toMatchObject({ SENT: 3, RECEIVED: 3, LOSS: 0 });
      expect(o?.values.RTT).toBeGreaterThanOrEqual(0);
      expect(o?.values.RTT_MIN).toBeLessThanOrEqual(o?.values.RTT as number);
      expect(o?.values.RTT_MAX).toBeGreaterThanOrEqual(o?.values.RTT as number);
      expect(o?.values.JITTER).toBeGreaterThanOrEqual(0);
    }
  });

  it("the campaign's deadline interrupts fping, which reports what it sent so far", async () => {
    const probes = createProbes({ allow: parseAllow(["127.44.0.0/16"], "test"), icmp: { count: 20, periodMs: 200 } });
    const started = performance.now();
    const results = await probes.icmp.probeAll([target("icmp", "127.44.9.1", undefined)], context(500, AbortSignal.timeout(700)));
    const o = [...results.values()][0];
    expect(performance.now() - started).toBeLessThan(2000);
    expect(o?.ok).toBe(true);
    expect(o?.values.SENT).toBeGreaterThanOrEqual(2);
    expect(o?.values.SENT).toBeLessThan(20);
    expect(o?.values.LOSS).toBe(0);
  });

  it("a batch with one address outside probe.allow is refused whole, and fping is never started", async () => {
    await rm(log, { force: true });
    const probes = createProbes({ allow: parseAllow(["127.44.0.0/16"], "test"), icmp: { command: [counted] } });
    const targets = [...hosts("127.44", 3), target("icmp", "127.144.0.1", undefined, { key: "icmp/outside" })];
    await expect(probes.icmp.probeAll(targets, context(500))).rejects.toThrow(ProbeError);
    await expect(probes.icmp.probeAll(targets, context(500))).rejects.toThrow("target icmp/outside: address 127.144.0.1 is outside probe.allow");
    expect(await spawns()).toBe(0);
  });

  it("icmpTuned applies the campaign's count per batch", async () => {
    const tuned = icmpTuned({ allow: parseAllow(["127.44.0.0/16"], "test"), icmp: { periodMs: 10 } });
    const results = await tuned({ count: 5, intervalMs: 1 }).probeAll([target("icmp", "127.44.8.1", undefined)], context(500));
    expect([...results.values()][0]?.values).toMatchObject({ SENT: 5, RECEIVED: 5 });
  });

  it("a missing fping is a ToolError, not a result", async () => {
    const probes = createProbes({ allow: parseAllow(["127.44.0.0/16"], "test"), icmp: { command: [join(dir, "no-such-fping")] } });
    await expect(probes.icmp.probeAll(hosts("127.44", 1), context(500))).rejects.toThrow("cannot run fping");
  });

  it("through the campaign's spawner, reads a report far over 64 KiB whole: every one of 5,000 hosts measured", async () => {
    // fping -C writes its report on stderr, a line per host (about 35 bytes). The spawner once kept 64 KiB of any
    // tool's stderr, so at national size (20,000 hosts a batch) four hosts in five went unreported, then down.
    const spawner = await startSpawner();
    try {
      const probes = createProbes({ allow: parseAllow(["127.44.0.0/16"], "test"), spawner, icmp: { count: 3, periodMs: 20, intervalMs: 0 } });
      const targets = hosts("127.44", 5000);
      const results = await probes.icmp.probeAll(targets, context(1000));
      expect([...results.values()].filter((o) => o.ok).length).toBe(5000);
    } finally {
      await spawner.close();
    }
  }, 60_000);

  it("a host missing from a report that ran to its end is not observed (the campaign's unknown), never a loss", async () => {
    const dropping = join(dir, "fping-dropping");
    await writeFile(dropping, `#!/bin/bash\nfping "$@" 2>&1 >/dev/null | grep -v '^127\\.44\\.0\\.7 ' >&2\nexit \${PIPESTATUS[0]}\n`);
    await chmod(dropping, 0o755);
    const probes = createProbes({ allow: parseAllow(["127.44.0.0/16"], "test"), icmp: { command: [dropping], count: 2, periodMs: 20, intervalMs: 0 } });
    const targets = hosts("127.44", 20);
    const results = await probes.icmp.probeAll(targets, context(500));
    expect(results.has("icmp/h6"), "127.44.0.7, left out of the report").toBe(false);
    expect(results.size).toBe(19);
    expect([...results.values()].every((o) => o.ok)).toBe(true);
  });
});

const RULES = `table ip amadegi_t {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr 127.67.0.1 icmp type echo-request drop
    ip daddr 127.67.0.2 icmp type echo-request numgen random mod 2 == 0 drop
  }
}
`;

describe("icmp probe in a namespace", () => {
  let ns: Netns | undefined;
  beforeAll(async () => {
    ns = await createNetns("icmp", RULES);
  });
  afterAll(async () => {
    await ns?.remove();
  });

  it("black hole: 100% loss, timeout; partial loss is measured; a clean host is 0%", async () => {
    if (ns === undefined) throw new Error("no namespace");
    const probes = createProbes({
      allow: parseAllow(["127.67.0.0/16"], "test"),
      icmp: { command: ["ip", "netns", "exec", ns.name, "fping"], count: 30, periodMs: 10, intervalMs: 1 },
    });
    const [hole, lossy, clean] = [target("icmp", "127.67.0.1", undefined), target("icmp", "127.67.0.2", undefined), target("icmp", "127.67.0.3", undefined)];
    const results = await probes.icmp.probeAll([hole, lossy, clean], context(200));
    expect(results.get(hole.key)).toMatchObject({ ok: false, failure: "timeout", values: { SENT: 30, RECEIVED: 0, LOSS: 100 } });
    expect(results.get(hole.key)?.detail).toBe("127.67.0.1: no echo reply to 30 of 30 requests");
    // Half the requests are dropped at random: all or none of 30 has odds of 2 in a billion.
    const partial = results.get(lossy.key);
    expect(partial?.ok).toBe(true);
    expect(partial?.values.LOSS).toBeGreaterThan(0);
    expect(partial?.values.LOSS).toBeLessThan(100);
    expect(partial?.values.RECEIVED).toBe(30 - Math.round(((partial?.values.LOSS as number) / 100) * 30));
    expect(results.get(clean.key)).toMatchObject({ ok: true, values: { LOSS: 0, RECEIVED: 30 } });
  });
});
