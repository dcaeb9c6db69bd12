import { readFileSync } from "node:fs";

/**
 * Whether another process still runs, for the files a process leaves to say it holds something
 * (a lock, an engine's lock, a directory of credentials): one home for the question, answered
 * from signal 0 and /proc.
 */

/** Alive: signal 0 reaches it (EPERM: it exists, another user's), and it is not a zombie waiting for its parent. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.charAt(stat.lastIndexOf(")") + 2);
    return state !== "Z" && state !== "X";
  } catch {
    // No /proc entry to look at: signal 0 said it exists.
    return true;
  }
}

/**
 * Whether the process that has `pid` now could have written something at `at` (ms since the epoch):
 * it started no later than then, with a second of slack (the kernel counts a start in ticks). False
 * means the kernel gave the pid to another process since. Where the start or `at` is unknown, it
 * could have.
 */
export function startedBy(pid: number, at: number | undefined): boolean {
  const started = processStart(pid);
  return started === undefined || at === undefined || started <= at + 1000;
}

/** When process `pid` started (ms since the epoch), from /proc; undefined where it cannot be read. */
function processStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[19]);
    const boot = Number(/^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))?.[1]);
    // USER_HZ is 100 on every Linux architecture amadegi runs on.
    return Number.isFinite(ticks) && Number.isFinite(boot) ? boot * 1000 + ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}
