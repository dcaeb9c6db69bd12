import { ProbeError, ToolError } from "../../lib/errors.ts";
import { checkAllowed, notAllowedError } from "../allow.ts";
import type { BatchProbe, Observation, ProbeContext, Target } from "../types.ts";
import { onLines } from "./lines.ts";
import { since, type Values } from "./observe.ts";
import type { ProbeOptions } from "./options.ts";
import { DEFAULT_MAX_STDERR, directSpawner, type Spawner } from "../spawner.ts";

/**
 * ICMP echo through Debian's fping: one process for the whole batch (hosts on
 * stdin, deduplicated), `-C count` requests per host for loss and jitter,
 * `-q` so only the per-host summary lines come back (on stderr, streamed and
 * parsed line by line). context.timeoutMs is the wait for each reply (fping
 * -t); the batch as a whole ends at context.signal (the campaign's deadline),
 * when fping is interrupted and reports what it measured so far, or at a
 * watchdog derived from the batch size.
 */
const DEFAULTS = { count: 3, periodMs: 100, intervalMs: 1 };
const MAX_LINE = 4096;
const MAX_TOOL_LINES = 5;

interface HostResult {
  rtts: number[];
  sent: number;
}

export function icmpProbe(options: ProbeOptions): BatchProbe {
  const command = options.icmp?.command ?? ["fping"];
  const count = options.icmp?.count ?? DEFAULTS.count;
  const periodMs = options.icmp?.periodMs ?? DEFAULTS.periodMs;
  const intervalMs = options.icmp?.intervalMs ?? DEFAULTS.intervalMs;
  return {
    kind: "icmp",
    async probeAll(targets: readonly Target[], context: ProbeContext): Promise<Map<string, Observation>> {
      // The guard runs over the whole host list before fping exists: one address outside
      // probe.allow refuses the batch, and nothing is sent to any of it.
      const refused = targets.filter((t) => !checkAllowed(t.address, options.allow));
      const first = refused[0];
      if (first !== undefined) {
        const error = notAllowedError(first.key, first.address, options.allow);
        if (refused.length === 1) throw error;
        throw new ProbeError(`${refused.length} icmp targets are outside probe.allow (first: ${error.message}); nothing was sent`, {
          hint: error.hint ?? "",
          cause: error,
        });
      }
      const hosts = [...new Set(targets.map((t) => t.address))];
      const results = new Map<string, HostResult>(hosts.map((h) => [h, { rtts: [], sent: 0 }]));
      const start = performance.now();
      const tool = await runFping(
        command,
        hosts,
        { count, periodMs, intervalMs, timeoutMs: Math.max(1, Math.round(context.timeoutMs)) },
        context.signal,
        results,
        options.spawner ?? directSpawner,
      );
      const elapsed = since(start);
      const observations = new Map<string, Observation>();
      for (const target of targets) {
        const result = results.get(target.address) ?? { rtts: [], sent: 0 };
        // fping -C reports every host it was given, answered or not ("- - -"): a host missing from a
        // report that ran to its end was lost in the reading, not by the network. No observation
        // (the campaign's unknown), never a down.
        if (result.sent === 0 && tool.stopped === undefined) continue;
        observations.set(target.key, observe(target, result, count, elapsed, tool.stopped));
      }
      return observations;
    },
  };
}

interface FpingRun {
  /** Why fping ended early ("the deadline", "the watchdog"), if it did. */
  readonly stopped?: string;
}

function runFping(
  command: readonly string[],
  hosts: readonly string[],
  p: { count: number; periodMs: number; intervalMs: number; timeoutMs: number },
  signal: AbortSignal,
  results: Map<string, HostResult>,
  spawner: Spawner,
): Promise<FpingRun> {
  const [program, ...prefix] = command;
  if (program === undefined) throw new ToolError("the fping command is empty", { hint: 'give the icmp probe an fping command, e.g. ["fping"]' });
  if (hosts.length === 0) return Promise.resolve({});
  const args = [
    ...prefix,
    "-q",
    "-4",
    "-C",
    String(p.count),
    "-p",
    String(p.periodMs),
    "-i",
    String(p.intervalMs),
    "-t",
    String(p.timeoutMs),
    "-r",
    "0",
    "-B",
    "1",
    "-f",
    "-",
  ];
  // Sending takes hosts × count × interval; the last replies come a period and a timeout later.
  const expected = hosts.length * p.count * p.intervalMs + p.count * p.periodMs + p.timeoutMs;
  return new Promise((resolve, reject) => {
    // Hosts go on stdin, written by whoever starts fping (the spawner).
    // The report is on stderr, a line per host: room for every line (a full address, count times a long reply time).
    const maxStderr = hosts.length * (32 + p.count * 12) + DEFAULT_MAX_STDERR;
    const child = spawner.spawn([program, ...args], { input: `${hosts.join("\n")}\n`, stdout: false, maxStderr });
    const toolLines: string[] = [];
    let stopped: string | undefined;
    const stop = (why: string): void => {
      if (stopped !== undefined) return;
      stopped = why;
      // SIGINT makes fping print the summary of what it has sent so far.
      child.kill("SIGINT");
      setTimeout(() => child.kill("SIGKILL"), 1000).unref();
    };
    const onAbort = (): void => stop("the campaign's deadline");
    const watchdog = setTimeout(() => stop(`the watchdog (${Math.round(expected * 2 + 5000)} ms)`), expected * 2 + 5000);
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) onAbort();
    const parsed = onLines(child.stderr, MAX_LINE, (line) => parseLine(line, results, toolLines));
    child.on("error", (error: Error) => {
      clearTimeout(watchdog);
      signal.removeEventListener("abort", onAbort);
      reject(
        new ToolError(`cannot run fping (${command.join(" ")}): ${error.message}`, {
          hint: "install Debian's fping (npm run setup) or fix the icmp command",
          cause: error,
        }),
      );
    });
    child.on("close", (code: number | null) => {
      clearTimeout(watchdog);
      signal.removeEventListener("abort", onAbort);
      void parsed.then(() => {
        // 0: all answered, 1: some did not, 2: a name did not resolve; 3 and 4 are fping's own failures.
        if (stopped === undefined && code !== null && code >= 3) {
          reject(
            new ToolError(`fping failed (exit ${code}): ${toolLines.join(" | ") || "no message"}`, {
              hint: "run `amadegi doctor`; check the fping arguments and that it may open raw sockets",
            }),
          );
          return;
        }
        resolve(stopped === undefined ? {} : { stopped });
      });
    });
  });
}

const SUMMARY = /^(\d+\.\d+\.\d+\.\d+)\s+:\s+((?:[\d.]+|-)(?:\s+(?:[\d.]+|-))*)\s*$/;
function parseLine(line: string, results: Map<string, HostResult>, toolLines: string[]): void {
  const summary = SUMMARY.exec(line);
  if (summary !== null) {
    const result = results.get(summary[1] ?? "");
    if (result === undefined) return;
    const entries = (summary[2] ?? "").trim().split(/\s+/);
    result.sent = entries.length;
    result.rtts = entries.filter((e) => e !== "-").map(Number);
    return;
  }
  if (toolLines.length < MAX_TOOL_LINES && line.trim() !== "") toolLines.push(line.trim());
}

function observe(target: Target, result: HostResult, count: number, elapsed: number, stopped: string | undefined): Observation {
  const timings = { total: elapsed };
  const sent = result.sent;
  const received = result.rtts.length;
  if (sent === 0) {
    // Only a stopped fping leaves a host unreported here (probeAll leaves out the rest).
    return {
      ok: false,
      failure: "timeout",
      detail: `${target.address}: not measured: fping was stopped by ${stopped ?? "?"} before any request to it`,
      timings,
      values: { SENT: 0, RECEIVED: 0 },
    };
  }
  const loss = Math.round(((sent - received) / sent) * 1000) / 10;
  const values: Values = { SENT: sent, RECEIVED: received, LOSS: loss };
  if (received === 0) {
    // With -q fping does not report ICMP errors per host, so an unreachable host and a
    // black hole look the same here: no reply (the tcp probe tells them apart).
    return { ok: false, failure: "timeout", detail: `${target.address}: no echo reply to ${sent} of ${count} requests`, timings, values };
  }
  const sorted = [...result.rtts].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  let jitter = 0;
  for (let i = 1; i < result.rtts.length; i += 1) jitter += Math.abs((result.rtts[i] ?? 0) - (result.rtts[i - 1] ?? 0));
  Object.assign(values, {
    RTT: round(median),
    RTT_AVG: round(result.rtts.reduce((a, b) => a + b, 0) / received),
    RTT_MIN: round(sorted[0] ?? 0),
    RTT_MAX: round(sorted[sorted.length - 1] ?? 0),
    // Mean absolute difference of consecutive replies (RFC 3550's idea, without smoothing).
    JITTER: round(received > 1 ? jitter / (received - 1) : 0),
  });
  return { ok: true, timings, values };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
