import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ToolError } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/fs.ts";
import { run } from "../toolchain/inspect.ts";
import type { ServerPlan } from "./plan.ts";

/**
 * The rehearsal's central servers are real OpenSSH servers on this machine,
 * one per inventory server, each on its own address inside the core
 * namespace, so provisioning later goes over exactly the SSH path production
 * uses. Host keys live under `<state>/keys/` and survive `down`/`up`: the pins
 * stay valid for the rehearsal stack's whole life.
 */
export const SSHD = "/usr/sbin/sshd";

export interface StateLayout {
  readonly dir: string;
  /** Kept across down/up. */
  readonly keys: string;
  readonly controlKey: string;
  readonly servers: string;
  readonly pins: string;
  readonly supervisorSpec: string;
  readonly supervisorLog: string;
  readonly supervisorStatus: string;
}

export function layout(dir: string): StateLayout {
  const keys = join(dir, "keys");
  return {
    dir,
    keys,
    controlKey: join(keys, "control_ed25519"),
    servers: join(dir, "servers"),
    pins: join(dir, "pins.yaml"),
    supervisorSpec: join(dir, "supervisor.json"),
    supervisorLog: join(dir, "supervisor.log"),
    supervisorStatus: join(dir, "supervisor-status.json"),
  };
}

export function hostKeyPath(state: StateLayout, server: string): string {
  return join(state.keys, server, "ssh_host_ed25519_key");
}

export function serverDir(state: StateLayout, server: string): string {
  return join(state.servers, server);
}

/** An ed25519 key pair at `file` (kept if it exists); returns the public key as `type base64`. */
export async function ensureKey(file: string, comment: string): Promise<string> {
  if (!existsSync(file) || !existsSync(`${file}.pub`)) {
    await mkdir(join(file, ".."), { recursive: true, mode: 0o700 });
    const result = await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
    if (result.code !== 0)
      throw new ToolError(`ssh-keygen for ${file} failed: ${(result.error ?? result.stderr).trim()}`, { hint: "install openssh-client (amadegi doctor)" });
  }
  return (await readFile(`${file}.pub`, "utf8")).trim().split(/\s+/).slice(0, 2).join(" ");
}

/** Whether a local account exists: sshd refuses logins of users this machine does not have. */
export function localUserExists(user: string): boolean {
  try {
    return readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .some((line) => line.startsWith(`${user}:`));
  } catch {
    return false;
  }
}

/** A rehearsal server's home directory for its sessions (HOME): empty, its own, never the operator's. */
export function serverHome(state: StateLayout, server: string): string {
  return join(serverDir(state, server), "home");
}

/** sshd_config of one rehearsal server: its address and port only, keys only, its own root directory in the session's environment. */
export function sshdConfig(state: StateLayout, server: ServerPlan): string {
  const dir = serverDir(state, server.id);
  return [
    `# amadegi rehearsal: server ${server.id} (${server.roles.join(", ")}). Written by \`amadegi rehearsal up\`; removed by \`down\`.`,
    `ListenAddress ${server.address}`,
    `Port ${server.port}`,
    `HostKey ${hostKeyPath(state, server.id)}`,
    "PidFile none",
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PermitRootLogin prohibit-password",
    "UsePAM no",
    // The files live under the project's state directory, owned by whoever ran up.
    "StrictModes no",
    "AllowTcpForwarding no",
    "X11Forwarding no",
    // Provisioning writes the server's files under this directory (the server's root in the rehearsal).
    // HOME is the server's own: a session's shell (bash, run by sshd) sources $HOME/.bashrc, and the
    // operator's dotfiles are not the server's. On a machine whose root runs `pyenv init` there, that
    // was ~100 ms of every session (check-in reads, facts, provisioning), and anything it printed
    // would have been read as the server's answer.
    `SetEnv AMADEGI_SERVER=${server.id} AMADEGI_ROOT=${join(dir, "root")} HOME=${serverHome(state, server.id)}`,
    "LogLevel INFO",
    "",
  ].join("\n");
}

export interface Pin {
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly user: string;
  readonly hostKey: string;
  readonly root: string;
}

function quote(text: string): string {
  return JSON.stringify(text);
}

/**
 * The pins overlay: the host keys of the rehearsal's servers, for the
 * rehearsal stack only, in place of inventory/servers.yaml's pins (which are
 * production's). Git-ignored state, never a tracked file.
 */
export async function writePins(state: StateLayout, prefix: string, pins: readonly Pin[], generation = new Date().toISOString()): Promise<void> {
  const lines = [
    "# Written by `amadegi rehearsal up`; removed by `down`. Never commit it.",
    "# The rehearsal's servers are sshd processes on this machine with their own host",
    "# keys (kept in keys/ across down/up). For the rehearsal stack these pins replace",
    "# the inventory's (servers[].ssh.hostKey), which belong to production.",
    "stack: rehearsal",
    `prefix: ${quote(prefix)}`,
    "# A new one at every `up` that builds the servers: a stack re-provisions them (their roots start empty).",
    `generation: ${quote(generation)}`,
    `controlKey: ${quote(state.controlKey)}`,
    "servers:",
    ...pins.flatMap((p) => [
      `  - id: ${quote(p.id)}`,
      `    address: ${quote(p.address)}`,
      `    port: ${p.port}`,
      `    user: ${quote(p.user)}`,
      `    hostKey: ${quote(p.hostKey)}`,
      `    root: ${quote(p.root)}`,
    ]),
    "",
  ];
  await writeFileAtomic(state.pins, lines.join("\n"), 0o600);
}
