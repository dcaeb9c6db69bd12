// What a benchmark's figures were measured on. The same code gave the national check 87–90 s,
// 189–212 s and 380 s on three machines of one kind (ADR 0022): a figure is read beside the CPU it
// ran on and what the kernel's own threads (kdamond, kswapd, kworkers) took of it meanwhile.
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";

/** `2 CPUs (AMD EPYC 7B13), load average 0.12 0.40 0.55` */
export function machineLine(): string {
  const model = cpus()[0]?.model.trim() ?? "model unknown";
  return `${availableParallelism()} CPUs (${model}), load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`;
}

/**
 * CPU time the kernel's own threads have spent since they started, ms: every process whose parent is
 * kthreadd (pid 2). Read before and after a stage, the difference is what the kernel took from it.
 */
export function kernelThreadsCpuMs(): number {
  let ticks = 0;
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
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  }
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}
