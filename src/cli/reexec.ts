import { spawn } from "node:child_process";
import { join } from "node:path";
import { ExitCode } from "../lib/exit.ts";
import { lineSplitter } from "../lib/lines.ts";
import { netnsExists } from "../toolchain/netns.ts";
import { repoRoot } from "../toolchain/paths.ts";
import type { Io, ParsedArgs } from "./command.ts";

/** The environment variable that carries a command's start into its run in a namespace. */
export const STARTED_AT_ENV = "AMADEGI_STARTED_AT";
const DAY_MS = 86_400_000;

/**
 * When the command began, in ms since the epoch: the first process's start
 * when this one was started again inside a namespace (reexecInNetns passes
 * it on), else this process's (Io.startedAt), else now. A value that is not
 * a number, is later than this process's start or is over a day old is not
 * a parent's start, and is ignored.
 */
export function startedAt(io: Io): number {
  const own = io.startedAt ?? Date.now();
  const text = io.env[STARTED_AT_ENV];
  const given = text !== undefined && /^\d{1,16}(\.\d{1,6})?$/.test(text) ? Number(text) : Number.NaN;
  return given <= own && given >= own - DAY_MS ? given : own;
}

/** The command line again: the command's name and its arguments as they were given (main() or a test). */
export function argvOf(command: string, args: ParsedArgs): string[] {
  return [command, ...args.argv];
}

/**
 * Run this CLI again inside network namespace `ns` (`ip netns exec`), with
 * the same arguments, and return its exit code. The child sees itself inside
 * the namespace and runs there; nothing of the command runs out here. Its
 * output is passed through as it comes, a whole line at a time (so `--json`
 * stays the same document); a terminal is handed to it as it is, so it knows
 * someone is there to answer (`up` asks before it changes anything). A
 * Ctrl-C reaches the child from the terminal; one sent to this process alone
 * is passed on. This process waits for the child either way, and 130 (the
 * child stopped on Ctrl-C) is passed back as it is.
 */
export async function reexecInNetns(ns: string, argv: readonly string[], io: Io): Promise<ExitCode> {
  if (!netnsExists(ns)) {
    io.err(`${argv[0] ?? "amadegi"}: runs inside network namespace ${ns}, which does not exist; bring it up first (amadegi rehearsal up) — nothing was sent`);
    return ExitCode.CANNOT_RUN;
  }
  const child = spawn("ip", ["netns", "exec", ns, process.execPath, join(repoRoot, "bin", "amadegi.js"), ...argv], {
    cwd: io.cwd,
    // The child's budgets (check's --deadline) count from this command's start, not the child's.
    env: { ...io.env, [STARTED_AT_ENV]: String(startedAt(io)) },
    stdio: ["inherit", process.stdout.isTTY ? "inherit" : "pipe", process.stderr.isTTY ? "inherit" : "pipe"],
  });
  const out = lineSplitter(io.out);
  const err = lineSplitter(io.err);
  child.stdout?.on("data", (chunk: Buffer) => out.write(chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => err.write(chunk.toString()));
  const onSigint = (): void => {
    child.kill("SIGINT");
  };
  process.on("SIGINT", onSigint);
  const code = await new Promise<number | null>((resolve) => {
    child.on("error", () => resolve(null));
    child.on("close", (c) => resolve(c));
  }).finally(() => process.removeListener("SIGINT", onSigint));
  out.end();
  err.end();
  if (code === null) {
    io.err(`could not run ip netns exec ${ns} (root and iproute2 needed)`);
    return ExitCode.CANNOT_RUN;
  }
  return code === 0 ? ExitCode.OK : code === 1 ? ExitCode.FINDINGS : code === ExitCode.INTERRUPTED ? ExitCode.INTERRUPTED : ExitCode.CANNOT_RUN;
}
