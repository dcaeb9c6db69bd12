import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkAllowed, parseAllow, parseCidr, parseIpv4 } from "../../model/index.ts";
import { inNetns } from "../../toolchain/netns.ts";
import { knownHostsLine, pinnedSshArgv } from "../../toolchain/ssh.ts";

/**
 * How provisioning reaches a server: OpenSSH as every amadegi reader of a
 * server runs it (src/toolchain/ssh.ts: only the pinned host key, no config,
 * no prompt). Before anything is spawned the target is checked against
 * the ranges the stack declares (`amadegi:probe.allow`) and, for a stack that
 * lives in a namespace (the rehearsal), that this process runs inside it: the
 * inventory's addresses belong to a real network and are never sent a packet
 * from the machine's own namespace.
 *
 * Plain data in, plain data out: the dynamic providers (dynamic.ts) import
 * this module by URL inside the engine's provider process.
 */
export interface Connection {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** The pinned host key, `type base64`. */
  readonly hostKey: string;
  readonly identityFile: string;
  /** CIDR ranges the stack may reach. */
  readonly allow: readonly string[];
  /** The network namespace the stack's engine must run in, if any. */
  readonly netns?: string;
}

export interface RemoteResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Refuse a target outside the stack's ranges, or a namespaced stack run from outside its namespace.
 * The program calls it for every server before it registers a resource, so the guard holds
 * whichever provider runs them; a preview (`sending: false`) connects to nothing, so it may run
 * outside the namespace. Each connection checks again before it is made.
 */
export function guardTarget(server: string, connection: Connection, { sending = true }: { readonly sending?: boolean } = {}): void {
  if (parseIpv4(connection.host) === undefined)
    throw new Error(`server ${server}: ${connection.host} is not an IPv4 address; provisioning connects to inventory addresses only`);
  // Ranges that do not parse allow nothing here; the stack's settings report them where they are read.
  const ranges = connection.allow.filter((text) => parseCidr(text).ok);
  if (!checkAllowed(connection.host, parseAllow(ranges, "amadegi:probe.allow")))
    throw new Error(
      `server ${server}: ${connection.host} is outside the ranges this stack may reach (${connection.allow.join(", ")}); ` +
        `nothing was sent — fix amadegi:probe.allow or the inventory`,
    );
  if (sending && connection.netns !== undefined && !inNetns(connection.netns)) {
    throw new Error(
      `server ${server}: this stack's engine must run inside network namespace ${connection.netns} (amadegi up re-runs itself there); nothing was sent`,
    );
  }
}

/** Run `command` on the server, with `input` on its standard input. Never throws for a remote failure: the code says. */
export async function runRemote(
  server: string,
  connection: Connection,
  command: string,
  input: Buffer | string = "",
  timeoutMs = 120_000,
): Promise<RemoteResult> {
  guardTarget(server, connection);
  const dir = await mkdtemp(join(tmpdir(), "amadegi-provision-"));
  try {
    const knownHosts = join(dir, "known_hosts");
    const host = { address: connection.host, port: connection.port, user: connection.user, hostKey: connection.hostKey };
    await writeFile(knownHosts, knownHostsLine(host), { mode: 0o600 });
    const argv = pinnedSshArgv(host, knownHosts, command, { identityFile: connection.identityFile, timeoutMs: 10_000 });
    return await new Promise<RemoteResult>((resolve) => {
      const [ssh = "ssh", ...rest] = argv;
      const child = spawn(ssh, rest, { stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdin.on("error", () => undefined);
      child.on("error", (error) => {
        clearTimeout(timer);
        resolve({ code: null, stdout, stderr: `could not run ssh: ${error.message}` });
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr: signal === "SIGKILL" ? `${stderr}no answer within ${timeoutMs} ms` : stderr });
      });
      child.stdin.end(input);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The first meaningful line of a failed remote command, for an error message. */
export function reason(result: RemoteResult): string {
  const text = (result.stderr.trim() || result.stdout.trim()).split(/\r?\n/).filter((l) => l.trim() !== "");
  return text.slice(-3).join(" | ").slice(0, 500) || `exit ${result.code ?? "signal"}`;
}
