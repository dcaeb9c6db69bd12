import { spawn } from "node:child_process";
import { join } from "node:path";
import { ExitCode } from "../lib/exit.ts";
import { netnsExists } from "../toolchain/netns.ts";
import { repoRoot } from "../toolchain/paths.ts";
import type { Io, ParsedArgs } from "./command.ts";

/** The command line again: the command's name and its arguments as they were given (main() or a test). */
export function argvOf(command: string, args: ParsedArgs): string[] {
  return [command, ...args.argv];
}

/**
 * Run this CLI again inside network namespace `ns` (`ip netns exec`), with
 * the same arguments, and return its exit code. The child sees itself inside
 * the namespace and runs there; nothing of the command runs out here. Its
 * output is passed through (stdout whole, so `--json` stays one document).
 */
export async function reexecInNetns(ns: string, argv: readonly string[], io: Io): Promise<ExitCode> {
  if (!netnsExists(ns)) {
    io.err(`${argv[0] ?? "amadegi"}: runs inside network namespace ${ns}, which does not exist; bring it up first (amadegi rehearsal up) — nothing was sent`);
    return ExitCode.CANNOT_RUN;
  }
  const child = spawn("ip", ["netns", "exec", ns, process.execPath, join(repoRoot, "bin", "amadegi.js"), ...argv], {
    cwd: io.cwd,
    env: io.env,
    stdio: ["inherit", "pipe", process.stderr.isTTY ? "inherit" : "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => io.err(chunk.toString().replace(/\n$/, "")));
  const code = await new Promise<number | null>((resolve) => {
    child.on("error", () => resolve(null));
    child.on("close", (c) => resolve(c));
  });
  if (out !== "") io.out(out.replace(/\n$/, ""));
  if (code === null) {
    io.err(`could not run ip netns exec ${ns} (root and iproute2 needed)`);
    return ExitCode.CANNOT_RUN;
  }
  return code === 0 ? ExitCode.OK : code === 1 ? ExitCode.FINDINGS : ExitCode.CANNOT_RUN;
}
