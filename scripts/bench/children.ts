// What a benchmark starts and must always take down: its child processes and
// the network namespace it made. Stopped on exit and on Ctrl-C / SIGTERM
// (exit code 130, the signal passed on), so no run leaves either behind.
import { type ChildProcess, execFileSync } from "node:child_process";

export class Leftovers {
  readonly children: ChildProcess[] = [];
  private netns: string | undefined;

  constructor() {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.once(signal, () => {
        this.cleanup();
        process.exitCode = 130;
        process.kill(process.pid, signal);
      });
    }
    process.once("exit", () => this.cleanup());
  }

  /** The namespace is made: delete it at the end. */
  madeNetns(name: string): void {
    this.netns = name;
  }

  /** Delete the namespace now, if one was made and is not yet deleted. */
  deleteNetns(): void {
    if (this.netns !== undefined) {
      try {
        execFileSync("ip", ["netns", "del", this.netns]);
      } catch {
        // already gone
      }
      this.netns = undefined;
    }
  }

  cleanup(): void {
    for (const c of this.children) if (c.exitCode === null) c.kill("SIGTERM");
    this.deleteNetns();
  }
}
