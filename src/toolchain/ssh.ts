/**
 * How amadegi runs OpenSSH against a server, whoever asks (provisioning
 * writes over it, probes and drift's facts read over it): trusting only the
 * pinned host key — a known_hosts file written from the pin for the one call,
 * StrictHostKeyChecking=yes, never accept-new —, the user's ssh config ignored
 * (-F /dev/null: no ProxyCommand or alias can redirect it), BatchMode so
 * nothing prompts, no agent, no forwarding, no shared connection. The callers
 * apply their own guard (allowed ranges, namespace) before spawning ssh.
 */
export interface PinnedHost {
  readonly address: string;
  readonly port: number;
  readonly user: string;
  /** The pinned public key, `type base64` as ssh-keyscan prints it. */
  readonly hostKey: string;
}

/**
 * The key exchange for a session whose content is not secret: the check-in tables a campaign
 * reads, which it writes into results and reports in the clear anyway. OpenSSH 9.2's default
 * (sntrup761x25519, post-quantum) costs the client about 65 ms of CPU more per session than
 * curve25519 — a minute of a 2-core prober's time for a national campaign's reads (ADR 0015) —
 * and protects only against decrypting a recording of the session later, which has nothing to
 * reveal here. The server still proves its pinned host key, and the login is as before. The
 * post-quantum method stays last, for a server that offers nothing else. Sessions that carry
 * secrets (provisioning) or a server's configuration (drift's facts) keep their client's default.
 */
export const PUBLIC_DATA_KEX = "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,sntrup761x25519-sha512@openssh.com";

/** Host key algorithms to offer for a pinned key type (an RSA key signs with SHA-2 only). */
const ALGORITHMS: Readonly<Record<string, string>> = { "ssh-rsa": "rsa-sha2-512,rsa-sha2-256" };

export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

/** The one line of the call's known_hosts file: the pin, for this address and port only. */
export function knownHostsLine(host: PinnedHost): string {
  const [keyType = "", keyBody = ""] = host.hostKey.trim().split(/\s+/);
  const pattern = host.port === 22 ? host.address : `[${host.address}]:${host.port}`;
  return `${pattern} ${keyType} ${keyBody}\n`;
}

/** How ssh is run for one call, whoever calls it. */
export interface SshArgvOptions {
  /** argv prefix for ssh. Default ["ssh"]. */
  readonly ssh?: readonly string[];
  readonly identityFile?: string;
  /** ConnectTimeout (rounded up to whole seconds). */
  readonly timeoutMs: number;
  /** KexAlgorithms; default OpenSSH's own list (PUBLIC_DATA_KEX says when to choose another). */
  readonly kex?: string;
}

/** ssh's argv for one remote command (the known_hosts file already written). */
export function pinnedSshArgv(host: PinnedHost, knownHosts: string, remoteCommand: string, options: SshArgvOptions): string[] {
  const [keyType = ""] = host.hostKey.trim().split(/\s+/);
  const seconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
  return [
    ...(options.ssh ?? ["ssh"]),
    "-F",
    "/dev/null",
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "UpdateHostKeys=no",
    "-o",
    "CheckHostIP=no",
    "-o",
    `HostKeyAlgorithms=${ALGORITHMS[keyType] ?? keyType}`,
    ...(options.kex === undefined ? [] : ["-o", `KexAlgorithms=${options.kex}`]),
    "-o",
    `ConnectTimeout=${seconds}`,
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "ProxyCommand=none",
    "-o",
    "ControlMaster=no",
    "-o",
    "ControlPath=none",
    "-o",
    "ForwardAgent=no",
    "-o",
    "ClearAllForwardings=yes",
    "-o",
    "LogLevel=ERROR",
    ...(options.identityFile === undefined ? [] : ["-i", options.identityFile]),
    "-p",
    String(host.port),
    "-l",
    host.user,
    "--",
    host.address,
    remoteCommand,
  ];
}
