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

/** The kernel's own threads (every process whose parent is kthreadd, pid 2): their CPU ticks so far, by pid. */
export function kernelThreadTicks(): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[1] !== "2") continue; // ppid (field 4 of stat)
    ticks.set(Number(pid), Number(fields[11]) + Number(fields[12])); // utime, stime (fields 14 and 15)
  }
  return ticks;
}

/**
 * What the kernel's threads took since `before` (kernelThreadTicks), ms: each thread's growth, a
 * thread started meanwhile whole. A thread that exited meanwhile is not counted (a kworker's share
 * is lost with it): a total of the threads alive at each end would go below 0 when one exits.
 */
export function kernelCpuMsSince(before: ReadonlyMap<number, number>): number {
  let ticks = 0;
  for (const [pid, now] of kernelThreadTicks()) ticks += Math.max(0, now - (before.get(pid) ?? 0));
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}
