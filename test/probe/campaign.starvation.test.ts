// A starved prober never blames a target (issue 12), with real sockets: a
// campaign of real tcp probes against a live listener and a closed port on
// 127.42.0.0/16 (the live one greets after 40 ms; RTT is the whole attempt),
// while two busy-loop processes compete for the CPU and the
// prober's own event loop is held for 150 ms out of every 200 (as a prober
// whose loop starves). The live target is never down; the dead one is still
// down, refused.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllow } from "../../src/probe/allow.ts";
import { runCampaign } from "../../src/probe/campaign/index.ts";
import { parseCondition } from "../../src/probe/catalog/condition.ts";
import { createProbes } from "../../src/probe/probes/index.ts";
import type { ProbeResult, Target } from "../../src/probe/types.ts";
import { freePort, type Listener, tcpListener } from "../helpers/listeners.ts";

let live: Listener;
let deadPort: number;
let dir: string;
const hogs: ChildProcess[] = [];

beforeAll(async () => {
  // A live server that greets after 40 ms: each attempt lasts that long, so the prober's
  // stalls (below) fall inside attempts, not only between them.
  live = await tcpListener("127.42.0.1", (socket) => {
    const greet = setTimeout(() => socket.write("220 ready\r\n"), 40);
    socket.on("close", () => clearTimeout(greet));
    socket.on("error", () => undefined);
  });
  deadPort = await freePort("127.42.0.2");
  dir = await mkdtemp(join(tmpdir(), "amadegi-starved-"));
  // Two busy loops at the default nice level, bounded in time even if this file dies.
  for (let i = 0; i < 2; i++) hogs.push(spawn(process.execPath, ["-e", "const end = Date.now() + 60000; while (Date.now() < end) {}"], { stdio: "ignore" }));
});

afterAll(async () => {
  for (const h of hogs) h.kill("SIGKILL");
  await live.close();
  await rm(dir, { recursive: true, force: true });
});

function target(n: number, address: string, port: number): Target {
  return { key: `t/${n}`, check: "t", kind: "tcp", address, port, params: { banner: true } };
}

describe("under a CPU hog and a starved event loop", () => {
  it("a live target is never down, a dead one is still down (refused)", async () => {
    const targets = [
      ...Array.from({ length: 60 }, (_, i) => target(i, "127.42.0.1", live.port)),
      ...Array.from({ length: 20 }, (_, i) => target(100 + i, "127.42.0.2", deadPort)),
    ];
    const rtt = parseCondition("[RTT] < 100ms", "tcp");
    if (!rtt.ok) throw new Error(rtt.error.message);
    const results: ProbeResult[] = [];
    // The prober's loop held 150 ms of every 200: each attempt's measured RTT can hold a stall.
    const starve = setInterval(() => {
      const until = performance.now() + 150;
      while (performance.now() < until) {
        // busy
      }
    }, 50);
    let report;
    try {
      report = await runCampaign({
        stack: "test",
        from: "unit",
        targets,
        checks: new Map([["t", { conditions: [rtt.condition], timeoutMs: 2000, retries: 1 }]]),
        probes: createProbes({ allow: parseAllow(["127.42.0.0/16"], "test") }),
        guard: () => {},
        deadlineMs: 40_000,
        maxRate: 1000,
        concurrency: 8,
        evalContext: { now: Date.now(), electionEnd: Date.now() + 86_400_000 },
        out: join(dir, "results.jsonl"),
        retryBaseMs: 10,
        onResult: (r) => results.push(r),
      });
    } finally {
      clearInterval(starve);
    }
    const liveResults = results.filter((r) => r.address === "127.42.0.1");
    const deadResults = results.filter((r) => r.address === "127.42.0.2");
    expect(liveResults).toHaveLength(60);
    expect(deadResults).toHaveLength(20);
    // Never blamed: up, or unknown because every attempt was starved — never down or degraded.
    for (const r of liveResults) expect(["up", "unknown"], `${r.key}: ${r.status} ${r.detail ?? ""}`).toContain(r.status);
    for (const r of liveResults.filter((x) => x.status === "unknown")) expect(r.failure).toBe("starved");
    for (const r of deadResults) expect(r, r.key).toMatchObject({ status: "down", failure: "refused" });
    // The stalls were there and were seen: the test would pass vacuously otherwise.
    expect(report.starvedAttempts).toBeGreaterThan(0);
  }, 60_000);
});
