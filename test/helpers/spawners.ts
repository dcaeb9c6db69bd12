// A spawner for tests of the probes that start tools: the real direct spawner, noting each tool's
// niceness as the kernel holds it once the spawner has returned (spawner.ts: `nice`, UNTIMED_NICE).
import type { ChildProcess } from "node:child_process";
import { getPriority } from "node:os";
import { basename } from "node:path";
import { directSpawner, type Spawner, type ToolProcess } from "../../src/probe/spawner.ts";

export function notingNiceness(seen: Map<string, number>): Spawner {
  return {
    kind: "direct",
    spawn(argv, request) {
      const child = directSpawner.spawn(argv, request);
      const { pid } = child as ToolProcess & ChildProcess;
      if (pid !== undefined) seen.set(basename(argv[0] ?? ""), getPriority(pid));
      return child;
    },
    close: () => Promise.resolve(),
  };
}
