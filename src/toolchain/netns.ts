import { readdirSync, statSync } from "node:fs";
import { ToolError } from "../lib/errors.ts";
import { run, type RunResult } from "./inspect.ts";

/**
 * Network namespaces through iproute2 (`ip netns …`). Shared by the rehearsal
 * (which builds them) and the CLI (which re-runs a campaign inside one).
 * Named namespaces are bind mounts under /run/netns.
 */
export const NETNS_DIR = "/run/netns";

/** `ip` with arguments, optionally inside a namespace (`ip -n NS …`); a failure is a ToolError naming the command and its stderr. */
export async function ip(args: readonly string[], options: { ns?: string; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const argv = options.ns === undefined ? [...args] : ["-n", options.ns, ...args];
  const result = await run("ip", argv, { timeoutMs: options.timeoutMs ?? 60_000, ...(options.input === undefined ? {} : { input: options.input }) });
  if (result.code !== 0) {
    throw new ToolError(`ip ${argv.join(" ")} failed: ${(result.error ?? result.stderr).trim().split("\n").slice(0, 5).join("; ")}`, {
      hint: "this needs root and iproute2 (`amadegi doctor`)",
    });
  }
  return result;
}

/** Run argv inside a namespace (`ip netns exec NS argv…`), never throwing: a failure is a result. */
export function execIn(ns: string, argv: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return run("ip", ["netns", "exec", ns, ...argv], {
    timeoutMs: options.timeoutMs ?? 60_000,
    ...(options.input === undefined ? {} : { input: options.input }),
  });
}

/** Names of the namespaces that exist now. */
export function listNetns(): string[] {
  try {
    return readdirSync(NETNS_DIR).sort();
  } catch {
    return [];
  }
}

export function netnsExists(name: string): boolean {
  return listNetns().includes(name);
}

/** Pids of the processes whose network namespace is `name` (`ip netns pids`). */
export async function netnsPids(name: string): Promise<number[]> {
  const result = await run("ip", ["netns", "pids", name]);
  if (result.code !== 0) return [];
  return result.stdout
    .split("\n")
    .filter((l) => /^\d+$/.test(l.trim()))
    .map(Number);
}

/** Whether this process already runs inside namespace `name` (same namespace inode). */
export function inNetns(name: string, pid: number | "self" = "self"): boolean {
  try {
    const mine = statSync(`/proc/${pid}/ns/net`);
    const theirs = statSync(`${NETNS_DIR}/${name}`);
    return mine.ino === theirs.ino && mine.dev === theirs.dev;
  } catch {
    return false;
  }
}
