import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, describe, expect, it } from "vitest";
import { ProbeError } from "../../src/lib/errors.ts";
import { parseCondition } from "../../src/probe/catalog/condition.ts";
import { SSH_AT_ONCE } from "../../src/probe/campaign/context.ts";
import { type CampaignOptions, type CheckPlan, runCampaign } from "../../src/probe/campaign/index.ts";
import { readResults } from "../../src/probe/results.ts";
import type { BatchProbe, Observation, Probe, ProbeResult, Target } from "../../src/probe/types.ts";

// Unit tests of the scheduling logic: the probes here are small in-process
// implementations of the contract, so every outcome is decided by the test.

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function outFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "amadegi-campaign-"));
  dirs.push(dir);
  return join(dir, "results.jsonl");
}

const up: Observation = { ok: true, timings: { total: 5 }, values: {} };
const refused: Observation = { ok: false, failure: "refused", detail: "connection refused", timings: { total: 1 }, values: {} };

function plan(conditions: string[] = [], extra: Partial<CheckPlan> = {}, kind: "tcp" | "icmp" = "tcp"): CheckPlan {
  return {
    conditions: conditions.map((c) => {
      const p = parseCondition(c, kind);
      if (!p.ok) throw new Error(p.error.message);
      return p.condition;
    }),
    timeoutMs: 500,
    retries: 1,
    ...extra,
  };
}

function tcpTarget(n: number, extra: Partial<Target> = {}): Target {
  return {
    key: `t/${n}`,
    check: "t",
    kind: "tcp",
    address: `127.0.0.${(n % 250) + 1}`,
    port: 1,
    params: {},
    district: "d1",
    operator: "op",
    medium: "fiber",
    ...extra,
  };
}

/** A probe whose answer per target key (and attempt) the test decides. */
function scripted(answer: (t: Target, attempt: number, signal: AbortSignal) => Promise<Observation> | Observation): Probe & { calls: Map<string, number> } {
  const calls = new Map<string, number>();
  return {
    kind: "tcp",
    calls,
    async probe(t, ctx) {
      const n = (calls.get(t.key) ?? 0) + 1;
      calls.set(t.key, n);
      return answer(t, n, ctx.signal);
    },
  };
}

async function run(partial: Partial<CampaignOptions> & Pick<CampaignOptions, "targets">) {
  const results: ProbeResult[] = [];
  const out = await outFile();
  const report = await runCampaign({
    stack: "test",
    from: "unit",
    checks: new Map([["t", plan()]]),
    probes: {},
    guard: () => {},
    deadlineMs: 5000,
    maxRate: 100_000,
    concurrency: 64,
    evalContext: { now: Date.now(), electionEnd: Date.now() + 86_400_000 },
    out,
    retryBaseMs: 5,
    onResult: (r) => results.push(r),
    ...partial,
  });
  const byKey = new Map(results.map((r) => [r.key, r]));
  return { report, results, byKey, out };
}

describe("statuses", () => {
  it("up, degraded after a retry, down confirmed by the retries, warn band, failed assertion", async () => {
    const probe = scripted((t, attempt) => {
      if (t.key === "t/1") return up;
      if (t.key === "t/2") return attempt === 1 ? refused : up;
      if (t.key === "t/3") return refused;
      if (t.key === "t/4") return { ...up, timings: { total: 100 } };
      return { ...up, timings: { total: 400 } };
    });
    const { byKey, report } = await run({
      targets: [1, 2, 3, 4, 5].map((n) => tcpTarget(n)),
      checks: new Map([["t", plan(["[RTT] < 300ms warn 50ms"], { retries: 2 })]]),
      probes: { tcp: probe },
    });
    expect(byKey.get("t/1")).toMatchObject({ status: "up", attempts: 1 });
    expect(byKey.get("t/2")).toMatchObject({ status: "degraded", attempts: 2 });
    expect(byKey.get("t/2")?.detail).toMatch(/passed on attempt 2 after: connection refused/);
    expect(byKey.get("t/3")).toMatchObject({ status: "down", attempts: 3, failure: "refused" });
    expect(byKey.get("t/4")).toMatchObject({ status: "degraded", attempts: 1 });
    expect(byKey.get("t/4")?.failed?.[0]).toMatch(/warn band/);
    expect(byKey.get("t/5")).toMatchObject({ status: "down", failure: "assertion", attempts: 3 });
    expect(byKey.get("t/5")?.failed?.[0]).toMatch(/observed 400ms/);
    expect(report.summary.total).toEqual({ up: 1, degraded: 2, down: 2, unreachable: 0, unknown: 0 });
    expect(report.valid).toBe(true);
  });

  it("a passing target is probed once: retries only confirm failures", async () => {
    const probe = scripted(() => up);
    await run({ targets: [tcpTarget(1)], probes: { tcp: probe }, checks: new Map([["t", plan([], { retries: 3 })]]) });
    expect(probe.calls.get("t/1")).toBe(1);
  });

  it("dependents of a down upstream are unreachable and never probed", async () => {
    const gw: Target = { ...tcpTarget(0), key: "g/gw", check: "g" };
    const behind = [1, 2, 3].map((n) => tcpTarget(n, { dependsOn: ["g/gw"] }));
    const probe = scripted((t) => (t.key === "g/gw" ? refused : up));
    const { byKey } = await run({
      targets: [...behind, gw],
      probes: { tcp: probe },
      checks: new Map([
        ["t", plan()],
        ["g", plan([], { retries: 0 })],
      ]),
    });
    expect(byKey.get("g/gw")?.status).toBe("down");
    for (const t of behind) {
      expect(byKey.get(t.key)).toMatchObject({ status: "unreachable", attempts: 0 });
      expect(byKey.get(t.key)?.detail).toMatch(/depends on g\/gw, which is down/);
      expect(probe.calls.has(t.key)).toBe(false);
    }
  });

  it("SSH probes waiting for their slots do not hold the in-flight limit: TCP probes beside them go on", async () => {
    const settledAt = new Map<string, number>();
    const ssh: Probe = {
      kind: "ssh",
      async probe() {
        await new Promise((r) => setTimeout(r, 100));
        return up;
      },
    };
    const tcp = scripted(() => up);
    const sshTargets = Array.from({ length: 3 * SSH_AT_ONCE }, (_, i): Target => ({ ...tcpTarget(i), key: `s/${i}`, check: "s", kind: "ssh" }));
    const tcpTargets = Array.from({ length: 20 }, (_, i) => tcpTarget(100 + i));
    await run({
      // The SSH probes first, and an in-flight limit they alone could fill.
      targets: [...sshTargets, ...tcpTargets],
      probes: { ssh, tcp },
      concurrency: 2,
      checks: new Map([
        ["s", plan()],
        ["t", plan()],
      ]),
      onResult: (r) => settledAt.set(r.key, performance.now()),
    });
    const lastTcp = Math.max(...tcpTargets.map((t) => settledAt.get(t.key) ?? Number.POSITIVE_INFINITY));
    const firstWaveDone = Math.min(...sshTargets.map((t) => settledAt.get(t.key) ?? Number.POSITIVE_INFINITY));
    // Three waves of SSH_AT_ONCE take 300 ms; every TCP probe is done before the first wave is.
    expect(lastTcp).toBeLessThan(firstWaveDone);
    expect(settledAt.size).toBe(sshTargets.length + tcpTargets.length);
  });

  it("after the sweep, a target waits for its own upstreams only: the others go on beside a slow one", async () => {
    const order: string[] = [];
    const probe = scripted(async (t) => {
      if (t.key === "g/gw") await new Promise((r) => setTimeout(r, 200));
      order.push(t.key);
      return up;
    });
    const gw: Target = { ...tcpTarget(0), key: "g/gw", check: "g" };
    const behind = [1, 2].map((n) => tcpTarget(n, { dependsOn: ["g/gw"] }));
    const free = { ...tcpTarget(3), key: "f/x", check: "f" };
    await run({
      targets: [...behind, gw, free],
      probes: { tcp: probe },
      checks: new Map([
        ["t", plan()],
        ["g", plan()],
        ["f", plan()],
      ]),
    });
    expect(order).toEqual(["f/x", "g/gw", "t/1", "t/2"]);
  });

  it("reports when each check's results came, the check that held the campaign's end first", async () => {
    const probe = scripted(async (t) => {
      if (t.check === "slow") await new Promise((r) => setTimeout(r, 300));
      return up;
    });
    const slow = [1, 2].map((n) => ({ ...tcpTarget(n), key: `slow/${n}`, check: "slow" }));
    const fast = [3, 4, 5].map((n) => tcpTarget(n));
    const { report } = await run({
      targets: [...slow, ...fast],
      probes: { tcp: probe },
      checks: new Map([
        ["t", plan()],
        ["slow", plan()],
      ]),
    });
    expect(report.spans.map((s) => [s.check, s.results])).toEqual([
      ["slow", 2],
      ["t", 3],
    ]);
    const [held, other] = report.spans;
    expect(held?.lastS).toBeGreaterThanOrEqual(0.3);
    expect(other?.lastS).toBeLessThan(held?.lastS ?? 0);
    for (const s of report.spans) {
      expect(s.firstS).toBeLessThanOrEqual(s.lastS);
      expect(s.lastS).toBeLessThanOrEqual(report.elapsedMs / 1000 + 0.05);
    }
  });

  it("unreachable propagates: behind an unreachable target is unreachable too", async () => {
    const a: Target = { ...tcpTarget(0), key: "a/x", check: "a" };
    const b: Target = { ...tcpTarget(1), key: "b/x", check: "b", dependsOn: ["a/x"] };
    const c: Target = { ...tcpTarget(2), key: "c/x", check: "c", dependsOn: ["b/x"] };
    const probe = scripted((t) => (t.key === "a/x" ? refused : up));
    const checks = new Map([
      ["a", plan([], { retries: 0 })],
      ["b", plan()],
      ["c", plan()],
    ]);
    const { byKey } = await run({ targets: [c, b, a], probes: { tcp: probe }, checks });
    expect([byKey.get("a/x")?.status, byKey.get("b/x")?.status, byKey.get("c/x")?.status]).toEqual(["down", "unreachable", "unreachable"]);
  });
});

describe("the deadline", () => {
  it("a target that hangs (ignoring its abort signal) never makes the campaign overrun; hung and unprobed targets are unknown, never down", async () => {
    const probe = scripted((t) => (t.address === "127.0.0.2" ? new Promise<Observation>(() => {}) : up));
    const targets = Array.from({ length: 40 }, (_, i) => tcpTarget(i));
    const started = performance.now();
    const { byKey, report } = await run({
      targets,
      probes: { tcp: probe },
      deadlineMs: 700,
      concurrency: 1,
      checks: new Map([["t", plan([], { timeoutMs: 60_000 })]]),
    });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(700 + 150);
    expect(byKey.get("t/1")).toMatchObject({ status: "unknown" });
    expect(byKey.get("t/1")?.detail).toMatch(/in flight at the deadline/);
    expect(byKey.get("t/0")?.status).toBe("up");
    const statuses = new Set([...byKey.values()].map((r) => r.status));
    expect(statuses.has("down")).toBe(false);
    expect(byKey.size).toBe(40);
    expect(byKey.get("t/39")).toMatchObject({ status: "unknown", detail: "not probed before the deadline" });
    expect(report.summary.total.unknown).toBe(39);
  });

  it("a failure with no time left to confirm it is unknown, not down", async () => {
    const probe = scripted(() => refused);
    const { byKey } = await run({
      targets: [tcpTarget(1)],
      probes: { tcp: probe },
      deadlineMs: 300,
      retryBaseMs: 1000,
      checks: new Map([["t", plan([], { retries: 2 })]]),
    });
    expect(byKey.get("t/1")).toMatchObject({ status: "unknown", attempts: 1 });
    expect(byKey.get("t/1")?.detail).toMatch(/no time left to confirm/);
  });
});

describe("self-watch", () => {
  it("an event loop blocked for 2 s mid-campaign makes the campaign invalid, with the reason", async () => {
    let blocked = false;
    const probe = scripted(async (t) => {
      await new Promise((r) => setTimeout(r, 5));
      if (t.key === "t/10" && !blocked) {
        blocked = true;
        const until = Date.now() + 2000;
        while (Date.now() < until) {
          // busy: nothing else in this process runs meanwhile
        }
      }
      return up;
    });
    const { report, out } = await run({
      targets: Array.from({ length: 30 }, (_, i) => tcpTarget(i)),
      probes: { tcp: probe },
      concurrency: 4,
      deadlineMs: 10_000,
    });
    expect(report.valid).toBe(false);
    expect(report.invalid.join(" ")).toMatch(/event loop blocked for \d+ ms/);
    expect(report.maxLagMs).toBeGreaterThan(1500);
    const read = await readResults(out);
    expect(read.footer?.valid).toBe(false);
    expect(read.footer?.invalid[0]).toMatch(/event loop blocked/);
  });

  it("a campaign that was not starved is valid", async () => {
    const { report } = await run({ targets: Array.from({ length: 30 }, (_, i) => tcpTarget(i)), probes: { tcp: scripted(() => up) } });
    expect(report.valid).toBe(true);
    expect(report.invalid).toEqual([]);
  });

  it("a probe failing with EMFILE (descriptors exhausted) makes the campaign invalid", async () => {
    const probe = scripted(() => ({ ok: false, failure: "internal", detail: "connect EMFILE 127.0.0.1:1", timings: { total: 1 }, values: {} }));
    const { report } = await run({ targets: [tcpTarget(1)], probes: { tcp: probe }, checks: new Map([["t", plan([], { retries: 0 })]]) });
    expect(report.valid).toBe(false);
    expect(report.invalid.join(" ")).toMatch(/file descriptors ran out/);
  });
});

describe("a starved prober never blames a target", () => {
  /** Keeps this thread busy: the event loop cannot turn meanwhile, as in a prober starved by spawn or the CPU. */
  const stallFor = (ms: number): void => {
    const until = performance.now() + ms;
    while (performance.now() < until) {
      // busy
    }
  };
  const timeout: Observation = { ok: false, failure: "timeout", detail: "no answer within 500 ms", timings: { total: 500 }, values: {} };

  it("a timeout during a stall is tried again and not counted: a pass then is up, not degraded", async () => {
    const probe = scripted((_t, attempt) => {
      if (attempt === 1) {
        stallFor(120);
        return timeout;
      }
      return up;
    });
    const { byKey, report } = await run({ targets: [tcpTarget(1)], probes: { tcp: probe }, checks: new Map([["t", plan([], { retries: 0 })]]) });
    expect(byKey.get("t/1")).toMatchObject({ status: "up", attempts: 2 });
    expect(byKey.get("t/1")?.detail).toMatch(/1 earlier attempt\(s\) not judged: the prober's event loop stalled \d+ ms/);
    expect(report.starvedAttempts).toBe(1);
  });

  it("every attempt starved: tried twice more, then unknown with the reason — never down", async () => {
    const probe = scripted(() => {
      stallFor(120);
      return timeout;
    });
    const { byKey } = await run({ targets: [tcpTarget(1)], probes: { tcp: probe }, checks: new Map([["t", plan([], { retries: 0 })]]) });
    expect(byKey.get("t/1")).toMatchObject({ status: "unknown", failure: "starved", attempts: 3 });
    expect(byKey.get("t/1")?.detail).toMatch(/not judged: 3 attempts starved; last: the prober's event loop stalled \d+ ms/);
    expect(probe.calls.get("t/1")).toBe(3);
  });

  it("a condition on a measured time that fails during a stall is not judged either", async () => {
    const slow: Observation = { ok: true, timings: { total: 400 }, values: { RTT: 400 } };
    const probe = scripted((_t, attempt) => {
      if (attempt === 1) {
        stallFor(120);
        return slow;
      }
      return { ok: true, timings: { total: 3 }, values: { RTT: 3 } };
    });
    const { byKey } = await run({
      targets: [tcpTarget(1)],
      probes: { tcp: probe },
      checks: new Map([["t", plan(["[RTT] < 300ms warn 150ms"], { retries: 0 })]]),
    });
    expect(byKey.get("t/1")).toMatchObject({ status: "up", attempts: 2 });
  });

  it("a starved attempt is tried again after a pause, not at once", async () => {
    let firstEnded = 0;
    let secondStarted = 0;
    const probe = scripted((_t, attempt) => {
      if (attempt === 1) {
        stallFor(120);
        firstEnded = performance.now();
        return timeout;
      }
      secondStarted = performance.now();
      return up;
    });
    const { byKey } = await run({ targets: [tcpTarget(1)], probes: { tcp: probe }, checks: new Map([["t", plan([], { retries: 0 })]]) });
    expect(byKey.get("t/1")).toMatchObject({ status: "up", attempts: 2 });
    // At least half of the first pause (300 ms): a retry at once would land in the same stall.
    expect(secondStarted - firstEnded).toBeGreaterThanOrEqual(140);
  });

  it("a herd starved together is not tried again together: the retries are spread", async () => {
    // Forty probes in flight when one of them holds the loop: all forty attempts were starved.
    let release: (() => void) | undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const retries: number[] = [];
    let first = 0;
    const probe = scripted(async (_t, attempt) => {
      if (attempt > 1) {
        retries.push(performance.now());
        return up;
      }
      if (++first === 40) {
        stallFor(120);
        release?.();
      }
      await held;
      return timeout;
    });
    const targets = Array.from({ length: 40 }, (_, i) => tcpTarget(i + 1));
    const { report } = await run({ targets, probes: { tcp: probe }, checks: new Map([["t", plan([], { retries: 0 })]]) });
    expect(report.summary.total.up).toBe(40);
    expect(retries).toHaveLength(40);
    // Drawn between 150 and 450 ms after the stall: forty draws span well over 100 ms.
    expect(Math.max(...retries) - Math.min(...retries)).toBeGreaterThan(100);
  });

  it("a refusal is a fact even during a stall, and a timeout without a stall is judged: both down", async () => {
    const probe = scripted((t) => {
      if (t.key === "t/1") {
        stallFor(120);
        return refused;
      }
      return timeout;
    });
    const { byKey } = await run({ targets: [tcpTarget(1), tcpTarget(2)], probes: { tcp: probe }, checks: new Map([["t", plan([], { retries: 1 })]]) });
    expect(byKey.get("t/1")).toMatchObject({ status: "down", failure: "refused", attempts: 2 });
    expect(byKey.get("t/2")).toMatchObject({ status: "down", failure: "timeout", attempts: 2 });
  });
});

describe("network safety", () => {
  it("a target outside probe.allow stops the campaign before any probe is called", async () => {
    const probe = scripted(() => up);
    const guard = (t: Target) => {
      if (!t.address.startsWith("127.")) throw new ProbeError(`target ${t.key}: address ${t.address} is outside probe.allow`);
    };
    await expect(run({ targets: [tcpTarget(1), tcpTarget(2, { address: "10.1.2.3" })], probes: { tcp: probe }, guard })).rejects.toThrow(
      /1 target\(s\) outside probe.allow; nothing was sent.*10\.1\.2\.3/,
    );
    expect(probe.calls.size).toBe(0);
  });
});

describe("results file", () => {
  it("streams a header, one line per target and a footer", async () => {
    const { out, report } = await run({ targets: [1, 2, 3].map((n) => tcpTarget(n)), probes: { tcp: scripted(() => up) }, id: "c-1" });
    const text = await readFile(out, "utf8");
    const lines = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string });
    expect(lines.map((l) => l.type)).toEqual(["campaign", "result", "result", "result", "end"]);
    expect(lines[0]).toMatchObject({ id: "c-1", stack: "test", from: "unit", targets: 3 });
    expect(lines[4]).toMatchObject({ id: "c-1", valid: true, counts: { up: 3 } });
    expect(report.file).toBe(out);
  });

  it("an interrupted run keeps what it measured, says it was interrupted and marks the rest unknown", async () => {
    const interrupt = new AbortController();
    const probe = scripted(async (t) => {
      if (t.key === "t/5") interrupt.abort();
      await new Promise((r) => setTimeout(r, 2));
      return up;
    });
    const { report, out } = await run({
      targets: Array.from({ length: 50 }, (_, i) => tcpTarget(i)),
      probes: { tcp: probe },
      concurrency: 1,
      signal: interrupt.signal,
    });
    expect(report.interrupted).toBe(true);
    expect(report.valid).toBe(false);
    expect(report.summary.total.up).toBeGreaterThanOrEqual(5);
    expect(report.summary.total.unknown).toBeGreaterThan(40);
    const read = await readResults(out);
    expect(read.results).toBe(50);
    expect(read.footer?.interrupted).toBe(true);
  });

  it("results reach the file while the campaign runs", async () => {
    let seen = 0;
    const out = await outFile();
    const probe = scripted(async (t) => {
      if (t.key === "t/20") seen = (await readFile(out, "utf8")).split("\n").filter((l) => l.includes('"type":"result"')).length;
      await new Promise((r) => setTimeout(r, 15));
      return up;
    });
    await run({ targets: Array.from({ length: 21 }, (_, i) => tcpTarget(i)), probes: { tcp: probe }, concurrency: 1, out });
    expect(seen).toBeGreaterThan(5);
  });
});

describe("ICMP sweep", () => {
  function batch(answer: (t: Target, round: number) => Observation): BatchProbe & { rounds: number; sizes: number[] } {
    const self = {
      kind: "icmp" as const,
      rounds: 0,
      sizes: [] as number[],
      async probeAll(targets: readonly Target[]) {
        self.rounds++;
        self.sizes.push(targets.length);
        return new Map(targets.map((t) => [t.key, answer(t, self.rounds)]));
      },
    };
    return self;
  }
  const icmp = (n: number, extra: Partial<Target> = {}): Target => ({ ...tcpTarget(n), key: `p/${n}`, check: "p", kind: "icmp", ...extra });
  const lost: Observation = { ok: true, timings: { total: 1 }, values: { LOSS: 100, RTT: 0 } };
  const fine: Observation = { ok: true, timings: { total: 1 }, values: { LOSS: 0, RTT: 1 } };

  it("runs alone before the other probes, re-sends only the failures, and a pass on the retry is degraded", async () => {
    const order: string[] = [];
    const probe = batch((t, round) => {
      order.push(`${t.key}@${round}`);
      if (t.key === "p/2") return round === 1 ? lost : fine;
      if (t.key === "p/3") return lost;
      return fine;
    });
    const tcp = scripted((t) => {
      order.push(t.key);
      return up;
    });
    const checks = new Map([
      ["p", plan(["[LOSS] <= 5%"], { retries: 1 }, "icmp")],
      ["t", plan()],
    ]);
    // t/8 depends on nothing, and still waits for the sweep: fping's times are not measured beside other work.
    const targets = [tcpTarget(9, { dependsOn: ["p/2"] }), tcpTarget(8), ...[1, 2, 3].map((n) => icmp(n))];
    const { byKey } = await run({ targets, probes: { icmp: probe, tcp }, checks, icmpBatch: 100 });
    expect(order.indexOf("t/8")).toBeGreaterThan(order.indexOf("p/3@2"));
    expect(order.indexOf("t/9")).toBeGreaterThan(order.indexOf("p/3@2"));
    expect(probe.sizes).toEqual([3, 2]);
    expect(byKey.get("p/1")).toMatchObject({ status: "up", attempts: 1 });
    expect(byKey.get("p/2")).toMatchObject({ status: "degraded", attempts: 2 });
    expect(byKey.get("p/3")).toMatchObject({ status: "down", attempts: 2, failure: "assertion" });
    expect(byKey.get("t/9")).toMatchObject({ status: "up" });
  });

  it("has the gateways' check-in reads beside it; the key scans and the other probes wait for its end", async () => {
    const events: string[] = [];
    let readStarted: () => void = () => undefined;
    const reading = new Promise<void>((resolve) => (readStarted = resolve));
    const pings: BatchProbe = {
      kind: "icmp",
      async probeAll(targets) {
        const check = targets[0]?.check ?? "";
        // The links' pings end once a check-in read has started (or after 2 s, which fails the test).
        if (check === "q") await Promise.race([reading, new Promise((r) => setTimeout(r, 2000))]);
        events.push(`${check} swept`);
        return new Map(targets.map((t) => [t.key, fine]));
      },
    };
    const ssh: Probe = {
      kind: "ssh",
      async probe(t) {
        events.push(t.key);
        return up;
      },
    };
    const checkin = {
      async read(gateway: Target) {
        events.push(`read ${gateway.key}`);
        readStarted();
        return { observation: up, observations: new Map([["S1/S1-F", { ok: true, timings: { total: 1 }, values: { CHECKIN_AGE: 1 } }]]) };
      },
    };
    const tcp = scripted((t) => {
      events.push(t.key);
      return up;
    });
    const server = icmp(1);
    const targets: Target[] = [
      tcpTarget(8),
      { ...icmp(2), key: "q/2", check: "q", dependsOn: [server.key] },
      { ...tcpTarget(3), key: "s/gw", check: "s", kind: "ssh", dependsOn: [server.key] },
      { ...tcpTarget(4), key: "c/S1/S1-F", check: "c", kind: "checkin", station: "S1", link: "S1-F", params: { gateway: "gw", hostKey: "k" } },
      server,
    ];
    const checks = new Map([
      ["p", plan([], {}, "icmp")],
      ["q", plan([], {}, "icmp")],
      ["s", plan()],
      ["c", { conditions: [], timeoutMs: 1000, retries: 0 }],
      ["t", plan()],
    ]);
    const { byKey } = await run({ targets, probes: { icmp: pings, ssh, checkin, tcp }, checks });
    const at = (e: string) => events.indexOf(e);
    expect(at("read c/gw")).toBeGreaterThanOrEqual(0);
    expect(at("read c/gw")).toBeLessThan(at("q swept"));
    // A key scan (a post-quantum key exchange: 40–50 ms of CPU) and the governed lanes wait for the sweep's end.
    expect(at("s/gw")).toBeGreaterThan(at("q swept"));
    expect(at("t/8")).toBeGreaterThan(at("q swept"));
    expect([...byKey.values()].map((r) => r.status)).toEqual(["up", "up", "up", "up", "up"]);
  });

  it("a factory gets the count and a send interval derived from the rate ceiling", async () => {
    const tunings: { count: number; intervalMs: number }[] = [];
    const factory = (tuning: { count: number; intervalMs: number }) => {
      tunings.push(tuning);
      return batch(() => fine);
    };
    const checks = new Map([["p", plan([], {}, "icmp")]]);
    await run({ targets: [icmp(1, { params: { count: 5 } })], probes: { icmp: factory }, checks, maxRate: 1000, icmpParallel: 2 });
    expect(tunings).toEqual([{ count: 5, intervalMs: 0.4 }]);
  });
});

describe("memory at 100,000 targets", () => {
  it("stays bounded: results are streamed, not kept", async () => {
    const n = 100_000;
    const targets = Array.from({ length: n }, (_, i) => tcpTarget(i, { key: `t/${i}` }));
    const probe: Probe = { kind: "tcp", probe: async () => up };
    // A collection before each sample: what is measured is what the campaign keeps alive.
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    gc();
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    const sampler = setInterval(() => {
      gc();
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }, 200);
    const out = await outFile();
    const report = await runCampaign({
      stack: "test",
      from: "unit",
      targets,
      checks: new Map([["t", plan()]]),
      probes: { tcp: probe },
      guard: () => {},
      deadlineMs: 60_000,
      maxRate: 1_000_000,
      concurrency: 512,
      evalContext: { now: Date.now(), electionEnd: Date.now() },
      out,
      lagLimitMs: 5000,
    });
    clearInterval(sampler);
    expect(report.summary.total.up).toBe(n);
    const read = await readResults(out);
    expect(read.results).toBe(n);
    // 100k results kept as objects would take well over 100 MB; the campaign
    // keeps counters, the keys it settled and what is in flight.
    const grewMb = (peak - before) / 1048576;
    expect(grewMb).toBeLessThan(24);
  }, 60_000);
});

describe("check-ins", () => {
  const device = (station: string, link: string, gw: string, address: string): Target => ({
    key: `c/${station}/${link}`,
    check: "c",
    kind: "checkin",
    station,
    link,
    address,
    port: 22,
    params: { gateway: gw, serial: `AHV-${station}`, hostKey: "k" },
  });

  it(
    "reads each gateway once, judges each device link on its latest record, " +
      "and leaves devices of a gateway that does not answer unreachable, naming it, after trying its read three times",
    async () => {
      const reads: string[] = [];
      const checkin = {
        async read(gateway: Target) {
          reads.push(gateway.key);
          if (gateway.address === "127.0.0.2")
            return {
              observation: { ok: false, failure: "timeout" as const, detail: "ssh timed out", timings: { total: 1 }, values: {} },
              observations: new Map(),
            };
          const observations = new Map<string, Observation>([
            ["S1/S1-F", { ok: true, timings: { total: 1 }, values: { CHECKIN_AGE: 1 } }],
            ["S1/S1-M", { ok: true, timings: { total: 1 }, values: { CHECKIN_AGE: 30 } }],
          ]);
          return { observation: { ok: true, timings: { total: 1 }, values: {} }, observations };
        },
      };
      const targets = [
        device("S1", "S1-F", "gw-a", "127.0.0.1"),
        device("S1", "S1-M", "gw-a", "127.0.0.1"),
        device("S2", "S2-F", "gw-a", "127.0.0.1"),
        device("S3", "S3-F", "gw-b", "127.0.0.2"),
      ];
      const conditions = ["[CHECKIN_AGE] < 24h"].map((c) => {
        const p = parseCondition(c, "checkin");
        if (!p.ok) throw new Error(p.error.message);
        return p.condition;
      });
      const { byKey } = await run({ targets, probes: { checkin }, checks: new Map([["c", { conditions, timeoutMs: 1000, retries: 0 }]]) });
      // gw-b's read timed out: tried twice more (the table is data, not a verdict), then its devices are unreachable.
      expect(reads.sort()).toEqual(["c/gw-a", "c/gw-b", "c/gw-b", "c/gw-b"]);
      expect(byKey.get("c/S1/S1-F")?.status).toBe("up");
      expect(byKey.get("c/S1/S1-M")).toMatchObject({ status: "down", failure: "assertion" });
      expect(byKey.get("c/S2/S2-F")?.detail).toMatch(/no check-in from device AHV-S2 over link S2-F/);
      expect(byKey.get("c/S3/S3-F")).toMatchObject({ status: "unreachable", failure: "timeout" });
      expect(byKey.get("c/S3/S3-F")?.detail).toBe("gateway gw-b is unreachable: ssh timed out");
    },
  );

  it("a gateway read that timed out once is read again and its devices are judged; a refused read is not repeated", async () => {
    const reads: string[] = [];
    const checkin = {
      async read(gateway: Target) {
        reads.push(gateway.key);
        if (gateway.address === "127.0.0.2")
          return {
            observation: { ok: false, failure: "refused" as const, detail: "refused", timings: { total: 1 }, values: {} },
            observations: new Map(),
          };
        if (reads.filter((r) => r === gateway.key).length === 1)
          return {
            observation: { ok: false, failure: "timeout" as const, detail: "slow login", timings: { total: 1 }, values: {} },
            observations: new Map(),
          };
        const observations = new Map<string, Observation>([["S1/S1-F", { ok: true, timings: { total: 1 }, values: { CHECKIN_AGE: 1 } }]]);
        return { observation: { ok: true, timings: { total: 1 }, values: {} }, observations };
      },
    };
    const targets = [device("S1", "S1-F", "gw-a", "127.0.0.1"), device("S3", "S3-F", "gw-b", "127.0.0.2")];
    const { byKey } = await run({ targets, probes: { checkin }, checks: new Map([["c", { conditions: [], timeoutMs: 1000, retries: 0 }]]) });
    expect(reads.sort()).toEqual(["c/gw-a", "c/gw-a", "c/gw-b"]);
    expect(byKey.get("c/S1/S1-F")?.status).toBe("up");
    expect(byKey.get("c/S3/S3-F")).toMatchObject({ status: "unreachable", failure: "refused" });
  });

  it("judges a gateway's devices once it is read, while another gateway's read is still under way; a station of both waits for both", async () => {
    let releaseB: () => void = () => undefined;
    const bDone = new Promise<void>((resolve) => (releaseB = resolve));
    const settled: string[] = [];
    const byKey = new Map<string, ProbeResult>();
    /** What was settled when gw-b's read was let go. */
    let whileBRead: string[] = [];
    const checkin = {
      async read(gateway: Target) {
        if (gateway.server === "gw-b") {
          await bDone;
          whileBRead = [...settled];
        }
        const records = new Map<string, Observation>([[`${gateway.server === "gw-b" ? "S3" : "S1"}/L`, { ok: true, timings: { total: 1 }, values: {} }]]);
        return { observation: { ok: true, timings: { total: 1 }, values: {} }, observations: records };
      },
    };
    const both = { ...device("S3", "L", "gw-a", "127.0.0.1"), params: { gateway: "gw-a", serial: "AHV-S3", secondary: "gw-b", secondaryAddress: "127.0.0.2" } };
    const targets = [device("S1", "L", "gw-a", "127.0.0.1"), device("S2", "L", "gw-b", "127.0.0.2"), both];
    const running = run({
      targets,
      probes: { checkin },
      checks: new Map([["c", { conditions: [], timeoutMs: 1000, retries: 0 }]]),
      onResult: (r) => {
        settled.push(r.key);
        byKey.set(r.key, r);
        // gw-a's device is judged while gw-b's read still waits: then gw-b's read is let go.
        if (r.key === "c/S1/L") releaseB();
      },
    });
    await running;
    expect(whileBRead).toEqual(["c/S1/L"]);
    expect(byKey.get("c/S2/L")).toMatchObject({ status: "down", failure: "assertion" });
    // S3's check-in is in gw-b's records only: judged after both reads, on the secondary's record.
    expect(byKey.get("c/S3/L")?.status).toBe("up");
  });

  it("reads at most SSH_AT_ONCE gateways at once (each read is an ssh and an sshd), and the wait for a turn is not part of a read's timeout", async () => {
    let open = 0;
    let most = 0;
    const timeouts: number[] = [];
    const checkin = {
      async read(gateway: Target, context: { timeoutMs: number }) {
        timeouts.push(context.timeoutMs);
        most = Math.max(most, ++open);
        await new Promise((resolve) => setTimeout(resolve, 20));
        open--;
        const key = `${gateway.server ?? ""}/L`;
        return {
          observation: { ok: true, timings: { total: 20 }, values: {} },
          observations: new Map([[key, { ok: true, timings: { total: 1 }, values: {} }]]),
        };
      },
    };
    const targets = Array.from({ length: 20 }, (_, i) => device(`gw${i}`, "L", `gw${i}`, `127.0.0.${i + 1}`));
    const { byKey } = await run({ targets, probes: { checkin }, checks: new Map([["c", { conditions: [], timeoutMs: 1000, retries: 0 }]]) });
    expect(most).toBe(SSH_AT_ONCE);
    expect([...byKey.values()].filter((r) => r.status === "up")).toHaveLength(20);
    // Five rounds of 20 ms: a read that waited its turn still has its whole second.
    expect(Math.min(...timeouts)).toBeGreaterThan(900);
  });

  describe("a station's two gateways (a device that failed over checks in at its secondary)", () => {
    const both = (station: string, link: string): Target => {
      const t = device(station, link, "gw-a", "127.0.0.1");
      return { ...t, params: { ...t.params, secondary: "gw-b", secondaryAddress: "127.0.0.2", secondaryPort: 22, secondaryHostKey: "k2" } };
    };
    const ok = (age: number): Observation => ({ ok: true, timings: { total: 1 }, values: { CHECKIN_AGE: age } });
    /** A reader whose gateways answer with `records` (station/link → observation) or fail with `failure`. */
    const reader = (gateways: Record<string, { records?: Record<string, Observation>; failure?: "refused" | "protocol" }>, reads: Target[]) => ({
      async read(gateway: Target) {
        reads.push(gateway);
        const g = gateways[gateway.server ?? ""];
        if (g?.failure !== undefined)
          return {
            observation: { ok: false, failure: g.failure, detail: `${g.failure} at ${gateway.server ?? ""}`, timings: { total: 1 }, values: {} },
            observations: new Map(),
          };
        return {
          observation: { ok: true, timings: { total: 1 }, values: {} },
          observations: new Map(Object.entries(g?.records ?? {})),
        };
      },
    });
    const plan = new Map([["c", { conditions: [], timeoutMs: 1000, retries: 0 }]]);

    it("reads each gateway once for all its devices, with the secondary's own address and host key; a check-in at the secondary counts", async () => {
      const reads: Target[] = [];
      const checkin = reader({ "gw-a": { records: { "S1/S1-F": ok(1) } }, "gw-b": { records: { "S2/S2-F": ok(2) } } }, reads);
      const { byKey } = await run({ targets: [both("S1", "S1-F"), both("S2", "S2-F"), both("S3", "S3-F")], probes: { checkin }, checks: plan });
      expect(reads.map((r) => `${r.key} ${r.address} ${String(r.params.hostKey)}`).sort()).toEqual(["c/gw-a 127.0.0.1 k", "c/gw-b 127.0.0.2 k2"]);
      expect(byKey.get("c/S1/S1-F")?.status).toBe("up");
      expect(byKey.get("c/S2/S2-F")?.status).toBe("up");
      expect(byKey.get("c/S3/S3-F")).toMatchObject({ status: "down", failure: "assertion" });
      expect(byKey.get("c/S3/S3-F")?.detail).toBe("no check-in from device AHV-S3 over link S3-F in the records of gateways gw-a and gw-b");
    });

    it("judges the freshest record of the two, to the millisecond (CHECKIN_AT), whichever gateway is read first", async () => {
      const at = (iso: string, age: number): Observation => ({ ok: true, timings: { total: 1 }, values: { CHECKIN_AT: iso, CHECKIN_AGE: age } });
      const seconds = reader(
        { "gw-a": { records: { "S1/S1-F": at("2026-12-02T10:00:00.000Z", 0) } }, "gw-b": { records: { "S1/S1-F": at("2026-12-02T10:00:05.000Z", 0) } } },
        [],
      );
      const close = await run({ targets: [both("S1", "S1-F")], probes: { checkin: seconds }, checks: plan });
      expect(close.byKey.get("c/S1/S1-F")?.values).toMatchObject({ CHECKIN_AT: "2026-12-02T10:00:05.000Z" });
      const checkin = reader({ "gw-a": { records: { "S1/S1-F": ok(30) } }, "gw-b": { records: { "S1/S1-F": ok(1) } } }, []);
      const conditions = ["[CHECKIN_AGE] < 24h"].map((c) => {
        const p = parseCondition(c, "checkin");
        if (!p.ok) throw new Error(p.error.message);
        return p.condition;
      });
      const { byKey } = await run({
        targets: [both("S1", "S1-F")],
        probes: { checkin },
        checks: new Map([["c", { conditions, timeoutMs: 1000, retries: 0 }]]),
      });
      expect(byKey.get("c/S1/S1-F")?.status).toBe("up");
    });

    it("rejected attempts at a link, at either gateway, go with its verdict: degraded by the catalog's condition, and in the detail", async () => {
      const attempts = (count: number, time: string) => new Map([["S1/S1-F", { count, latest: { time, detail: `other-device at ${time}` } }]]);
      const checkin = {
        async read(gateway: Target) {
          const a = gateway.server === "gw-a";
          return {
            observation: { ok: true, timings: { total: 1 }, values: {} },
            observations: new Map(a ? [["S1/S1-F", ok(1)]] : []),
            attempts: a ? attempts(2, "2026-12-02T10:00:00.000Z") : attempts(3, "2026-12-02T11:00:00.000Z"),
          };
        },
      };
      const conditions = ["[CHECKIN_AGE] < 24h", "[REJECTED_ATTEMPTS] <= 1000000 warn 0"].map((c) => {
        const p = parseCondition(c, "checkin");
        if (!p.ok) throw new Error(p.error.message);
        return p.condition;
      });
      const targets = [both("S1", "S1-F"), both("S2", "S2-F")];
      const { byKey } = await run({ targets, probes: { checkin }, checks: new Map([["c", { conditions, timeoutMs: 1000, retries: 0 }]]) });
      expect(byKey.get("c/S1/S1-F")).toMatchObject({
        status: "degraded",
        values: { REJECTED_ATTEMPTS: 5, REJECTED_LATEST: "other-device at 2026-12-02T11:00:00.000Z" },
      });
      expect(byKey.get("c/S1/S1-F")?.detail).toContain("5 rejected attempts (latest: other-device at 2026-12-02T11:00:00.000Z)");
      // A link with no attempt is not touched by them.
      expect(byKey.get("c/S2/S2-F")?.detail).not.toContain("rejected");
    });

    it("with no record found: a gateway that is down makes the link unreachable, naming it; one that answers but cannot be read, unknown", async () => {
      const down = await run({
        targets: [both("S1", "S1-F")],
        probes: { checkin: reader({ "gw-a": { failure: "refused" }, "gw-b": { records: {} } }, []) },
        checks: plan,
      });
      expect(down.byKey.get("c/S1/S1-F")).toMatchObject({ status: "unreachable", failure: "refused" });
      expect(down.byKey.get("c/S1/S1-F")?.detail).toBe("gateway gw-a is unreachable: refused at gw-a; no record in gw-b");
      const unreadable = await run({
        targets: [both("S1", "S1-F")],
        probes: { checkin: reader({ "gw-a": { records: {} }, "gw-b": { failure: "protocol" } }, []) },
        checks: plan,
      });
      expect(unreadable.byKey.get("c/S1/S1-F")).toMatchObject({ status: "unknown", failure: "protocol" });
      expect(unreadable.byKey.get("c/S1/S1-F")?.detail).toBe("gateway gw-b could not be read: protocol at gw-b; no record in gw-a");
      // A record in the other gateway settles it, whatever the first says.
      const found = await run({
        targets: [both("S1", "S1-F")],
        probes: { checkin: reader({ "gw-a": { failure: "refused" }, "gw-b": { records: { "S1/S1-F": ok(1) } } }, []) },
        checks: plan,
      });
      expect(found.byKey.get("c/S1/S1-F")?.status).toBe("up");
    });
  });
});
