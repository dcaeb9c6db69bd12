import { readdirSync, readFileSync } from "node:fs";

/**
 * Finding and stopping the rehearsal's processes by what they are, not by
 * memory: a pid from the marker is only trusted when its command line still
 * names the rehearsal's state directory (pids are reused).
 */

export function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie waiting for its parent. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Processes whose command line mentions `needle` (e.g. the state directory), except this one. */
export function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    if (cmdline(pid)?.includes(needle) === true) found.push(pid);
  }
  return found;
}

/** SIGTERM, then SIGKILL after `graceMs` for what is left; resolves with the pids that would not die. */
export async function stopProcesses(pids: readonly number[], graceMs = 3_000): Promise<number[]> {
  const targets = [...new Set(pids)].filter((p) => p > 1 && p !== process.pid && alive(p));
  const signal = (pid: number, name: NodeJS.Signals): void => {
    try {
      process.kill(pid, name);
    } catch {
      // gone already
    }
  };
  for (const pid of targets) signal(pid, "SIGTERM");
  const until = Date.now() + graceMs;
  while (Date.now() < until && targets.some(alive)) await new Promise((r) => setTimeout(r, 50));
  for (const pid of targets.filter(alive)) signal(pid, "SIGKILL");
  const hard = Date.now() + 2_000;
  while (Date.now() < hard && targets.some(alive)) await new Promise((r) => setTimeout(r, 50));
  return targets.filter(alive);
}
