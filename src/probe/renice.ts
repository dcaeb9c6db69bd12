// A started tool's niceness, the one home of the rule both spawners follow (spawner.ts starts tools
// in the prober, spawner-child.ts in the broker process, which imports only node: built-ins and this).
import { getPriority, setPriority } from "node:os";

/**
 * Lower a started tool's priority to `nice`, never raise it: a prober already at nice 15 keeps its
 * tools there. Whether it took: a tool already gone (ESRCH), or one this user may not renice (a
 * set-uid tool: EPERM), keeps the caller's niceness and still runs; a niceness is never worth
 * failing a probe for, and throwing here would leave the started tool without an owner.
 */
export function renice(pid: number | undefined, nice: number | undefined): boolean {
  if (pid === undefined || nice === undefined) return false;
  try {
    setPriority(pid, Math.max(nice, getPriority(pid)));
    return true;
  } catch {
    return false;
  }
}
