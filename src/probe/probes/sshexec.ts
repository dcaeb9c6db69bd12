import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProbeError } from "../../lib/errors.ts";
import { parsePublicKey } from "../../model/index.ts";
import { type AllowList, assertAllowed } from "../allow.ts";
import type { FailureClass } from "../types.ts";
import { runTool, type ToolRun } from "./spawn.ts";
import type { Spawner } from "../spawner.ts";
import { knownHostsLine, type PinnedHost as BaseHost, pinnedSshArgv, shellQuote, type SshArgvOptions } from "../../toolchain/ssh.ts";

/**
 * One command on a server over SSH, trusting only its pinned host key: the
 * way every reader of a server (the check-in reader, drift's facts) logs in.
 *
 * A known_hosts file is written from the pin for this one call
 * (StrictHostKeyChecking=yes, never accept-new); the user's ssh config is
 * ignored (-F /dev/null: no ProxyCommand or alias can redirect it); BatchMode
 * so nothing ever prompts; no agent, no forwarding, no shared connection. The
 * allow-list guard runs before ssh is spawned: ssh is the lowest level these
 * readers send from. A server without a valid pin is not contacted.
 */
export interface PinnedHost extends BaseHost {
  /** Named in errors and the guard's refusal (a target key or a server id). */
  readonly key: string;
}

/** ssh, identityFile, timeoutMs and kex as toolchain/ssh.ts's SshArgvOptions say. */
export interface SshExecOptions extends SshArgvOptions {
  readonly allow: AllowList;
  /** Kills ssh when it fires. */
  readonly signal: AbortSignal;
  /** Largest stdout kept, in bytes (the rest is dropped). */
  readonly maxStdout: number;
  /** Who starts ssh (a campaign's broker); default: this process. */
  readonly spawner?: Spawner;
  /** ssh's niceness (spawner.ts UNTIMED_NICE beside a campaign's timed probes); default: the caller's. */
  readonly nice?: number;
}

export { shellQuote };

/** Whether a pin is a public key ssh can be told to expect; the reason when it is not. */
export function checkPin(hostKey: string | undefined): { ok: true } | { ok: false; reason: string } {
  if (hostKey === undefined) return { ok: false, reason: "no pinned SSH host key" };
  const parsed = parsePublicKey(hostKey);
  return parsed.ok ? { ok: true } : { ok: false, reason: "an invalid pinned SSH host key" };
}

/**
 * Run `remoteCommand` on `host`. Throws ProbeError when the pin is missing or
 * invalid or the address is outside the allow-list (nothing is sent), and
 * ToolError when ssh cannot be run; otherwise returns what ssh did (exit 255:
 * ssh's own failure, see classifySshFailure).
 */
export async function sshExec(host: PinnedHost, remoteCommand: string, options: SshExecOptions): Promise<ToolRun> {
  const pin = checkPin(host.hostKey);
  if (!pin.ok)
    throw new ProbeError(`${host.key}: ${host.address} has ${pin.reason}; it is not contacted`, {
      hint: "pin the server's key (servers.yaml ssh.hostKey, or the stack's pins overlay), as ssh-keyscan prints it",
    });
  assertAllowed(host.key, host.address, options.allow);
  const dir = await mkdtemp(join(tmpdir(), "amadegi-ssh-"));
  try {
    const knownHosts = join(dir, "known_hosts");
    await writeFile(knownHosts, knownHostsLine(host), { mode: 0o600 });
    return await runTool(
      pinnedSshArgv(host, knownHosts, remoteCommand, options),
      options.signal,
      options.maxStdout,
      "install openssh-client (ssh)",
      options.spawner,
      options.nice,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface SshFailure {
  readonly failure: FailureClass;
  /** The host did not present the pinned key: nothing was read. */
  readonly hostKeyMismatch: boolean;
  /** The last line ssh printed (or `exit N`). */
  readonly said: string;
}

const CLASSES: readonly (readonly [RegExp, FailureClass])[] = [
  [/Connection refused/i, "refused"],
  [/timed out/i, "timeout"],
  [/No route to host|Network is unreachable/i, "no-route"],
  [/Connection reset|Connection closed|kex_exchange_identification/i, "reset"],
  [/Permission denied/i, "refused"],
  [/banner|Bad packet length|invalid format/i, "protocol"],
];

/** What a failed ssh said, as a failure class (ADR 0004). */
export function classifySshFailure(code: number | null, stderr: string): SshFailure {
  const said =
    stderr
      .trim()
      .split("\n")
      .filter((l) => l !== "")
      .slice(-1)[0] ?? `exit ${code}`;
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|host key is known|no matching host key type/i.test(stderr)) {
    return { failure: "assertion", hostKeyMismatch: true, said };
  }
  for (const [pattern, failure] of CLASSES) if (pattern.test(stderr)) return { failure, hostKeyMismatch: false, said };
  return { failure: "internal", hostKeyMismatch: false, said };
}
