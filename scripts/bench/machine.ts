// What a benchmark's figures were measured on. The same code gave the national check 87–90 s,
// 189–212 s and 380 s on three machines of one kind (ADR 0022): a figure is read beside the CPU it
// ran on and what the kernel's own threads (kdamond, kswapd, kworkers) took of it meanwhile.
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";

/** `2 CPUs (AMD EPYC 7B13), load average 0.12 0.40 0.55`; under taskset, also how many this process may use. */
export function machineLine(): string {
  const all = cpus();
  const model = all[0]?.model.trim() ?? "model unknown";
  const mine = availableParallelism();
  return `${all.length} CPUs (${model}${mine < all.length ? `; this process pinned to ${mine}` : ""}), load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`;
}

/**
 * The CPU ticks so far of every process `which` selects (by its command name and parent pid), by
 * pid, from /proc/<pid>/stat: the monitors' (bench:scale) and the kernel's own threads.
 */
export function processTicks(which: (name: string, ppid: number) => boolean): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    const close = stat.lastIndexOf(")");
    const fields = stat.slice(close + 2).split(" ");
    if (!which(stat.slice(stat.indexOf("(") + 1, close), Number(fields[1]))) continue; // ppid: field 4 of stat
    ticks.set(Number(pid), Number(fields[11]) + Number(fields[12])); // utime, stime (fields 14 and 15)
  }
  return ticks;
}

/**
 * What the processes `which` selects took since `before` (processTicks with the same `which`), ms:
 * each one's growth, one started meanwhile whole. One that exited meanwhile is not counted (a
 * kworker's share is lost with it): a total of those alive at each end would go below 0 when one exits.
 */
export function cpuMsSince(before: ReadonlyMap<number, number>, which: (name: string, ppid: number) => boolean): number {
  let ticks = 0;
  for (const [pid, now] of processTicks(which)) ticks += Math.max(0, now - (before.get(pid) ?? 0));
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/** The kernel's own threads: every process whose parent is kthreadd (pid 2). */
export const kernelThread = (_name: string, ppid: number): boolean => ppid === 2;
