import { ToolError } from "../../lib/errors.ts";
import { directSpawner, type Spawner } from "../spawner.ts";

/**
 * Runs a short-lived tool (ssh-keyscan, ssh) for one probe: killed when the
 * attempt's signal fires, its output capped (bytes past the cap are dropped,
 * not buffered). A missing tool is a ToolError: it is not a fact about the target.
 * A campaign passes its spawner (the broker, spawner.ts) so that starting the
 * tool never blocks its event loop; alone, the tool is spawned here. `nice`: the tool's niceness
 * (spawner.ts UNTIMED_NICE for a tool that times nothing).
 */
export interface ToolRun {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
  readonly killed: boolean;
}

export function runTool(
  argv: readonly string[],
  signal: AbortSignal,
  maxStdout: number,
  hint: string,
  spawner: Spawner = directSpawner,
  nice?: number,
): Promise<ToolRun> {
  if (argv[0] === undefined) return Promise.reject(new ToolError("empty command", { hint }));
  return new Promise((resolve, reject) => {
    const child = spawner.spawn(argv, { maxStdout, ...(nice === undefined ? {} : { nice }) });
    const out: Buffer[] = [];
    let outBytes = 0;
    let stderr = "";
    let killed = false;
    const onAbort = (): void => {
      killed = true;
      child.kill("SIGKILL");
    };
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) onAbort();
    child.stdout?.on("data", (chunk: Buffer) => {
      const room = maxStdout - outBytes;
      if (room <= 0) return;
      out.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      outBytes += Math.min(room, chunk.length);
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      if (stderr.length < 8192) stderr += chunk;
    });
    child.on("error", (error: Error) => {
      signal.removeEventListener("abort", onAbort);
      reject(new ToolError(`cannot run ${argv.join(" ")}: ${error.message}`, { hint, cause: error }));
    });
    child.on("close", (code: number | null) => {
      signal.removeEventListener("abort", onAbort);
      resolve({ code, stdout: Buffer.concat(out), stderr, killed });
    });
  });
}
