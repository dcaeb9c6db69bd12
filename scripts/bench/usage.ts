// A measured child's own CPU time and peak memory, as the benchmarks report them. The peak is the
// kernel's VmHWM for the process's address space, which starts afresh at exec; getrusage's maxRSS
// does not (Linux keeps it across execve): a child forked from a harness holding 600 MiB reported
// 600 MiB however little it used, so every small stage of bench:scale showed the harness's size.
import { readFileSync } from "node:fs";

/** What a child writes at exit. */
export interface ChildUsage {
  readonly userCPUTime: number;
  readonly systemCPUTime: number;
  /** Peak resident memory since exec, KiB. */
  readonly peakKiB: number;
}

/** The peak resident memory of this process since its exec, KiB (getrusage's maxRSS where there is no /proc). */
export function peakKiB(status = readProcStatus()): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  return match?.[1] !== undefined ? Number(match[1]) : process.resourceUsage().maxRSS;
}

function readProcStatus(): string {
  try {
    return readFileSync("/proc/self/status", "utf8");
  } catch {
    return "";
  }
}

/**
 * The module to `--import` into a measured child: at exit it writes its ChildUsage to `file`.
 * Self-contained (a data: URL imports only built-ins), so it repeats `peakKiB` in one line.
 */
export function usageHook(file: string): string {
  const source =
    `import{readFileSync,writeFileSync}from"node:fs";process.on("exit",()=>{const u=process.resourceUsage();let s="";` +
    `try{s=readFileSync("/proc/self/status","utf8")}catch{}const m=/^VmHWM:\\s+(\\d+) kB$/m.exec(s);` +
    `writeFileSync(${JSON.stringify(file)},JSON.stringify({userCPUTime:u.userCPUTime,systemCPUTime:u.systemCPUTime,peakKiB:m?Number(m[1]):u.maxRSS}))})`;
  return `data:text/javascript,${encodeURIComponent(source)}`;
}
