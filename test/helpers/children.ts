// Stopping a test's daemon before its directory is removed: a daemon told SIGTERM still writes
// (Prometheus's TSDB, Alertmanager's snapshot) until it exits, and rm then fails with ENOTEMPTY.
import type { ChildProcess } from "node:child_process";

/** SIGTERM, SIGKILL after `graceMs`; resolves once `child` has exited (at once if it already had). */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}
