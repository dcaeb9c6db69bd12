// A real OpenSSH server on a loopback address, for the ssh and check-in
// probes: its own host key, config and authorized key in a temp dir, run in
// the foreground (-D -e) so the test owns the process and stops it.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./listeners.ts";

const run = promisify(execFile);

export interface Sshd {
  readonly address: string;
  readonly port: number;
  readonly dir: string;
  /** The server's public host key, as ssh-keyscan prints it (type and base64). */
  readonly hostKey: string;
  /** A client key sshd accepts for root. */
  readonly clientKeyFile: string;
  /** Another key pair of the same type, never used by the server: a wrong pin. */
  readonly otherHostKey: string;
  /** What sshd has logged so far (its first 64 KiB; `LogLevel` in extraConfig says how much). */
  log(): string;
  stop(): Promise<void>;
}

export async function keygen(file: string): Promise<string> {
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", file]);
  return (await readFile(`${file}.pub`, "utf8")).trim();
}

/** `extraConfig`: more sshd_config lines (e.g. `AcceptEnv NAME`), first: sshd keeps a keyword's first value, so they win. */
export async function startSshd(address: string, extraConfig: readonly string[] = []): Promise<Sshd> {
  // sshd insists on its privilege-separation directory (the Debian package makes it at boot).
  await mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  const dir = await mkdtemp(join(tmpdir(), "amadegi-t-sshd-"));
  const port = await freePort(address);
  const hostKey = await keygen(join(dir, "host_ed25519"));
  const otherHostKey = await keygen(join(dir, "other_ed25519"));
  const clientPub = await keygen(join(dir, "client_ed25519"));
  await writeFile(join(dir, "authorized_keys"), `${clientPub}\n`, { mode: 0o600 });
  const config = [
    ...extraConfig,
    `Port ${port}`,
    `ListenAddress ${address}`,
    `HostKey ${join(dir, "host_ed25519")}`,
    `PidFile ${join(dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PubkeyAuthentication yes",
    "PermitRootLogin prohibit-password",
    "UsePAM no",
    "StrictModes no",
    "LogLevel ERROR",
  ].join("\n");
  await writeFile(join(dir, "sshd_config"), `${config}\n`);
  const child: ChildProcess = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    if (stderr.length < 65_536) stderr += c.toString();
  });
  try {
    await waitForPort(address, port, child, () => stderr);
  } catch (error) {
    child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    address,
    port,
    dir,
    hostKey: hostKey.split(/\s+/).slice(0, 2).join(" "),
    otherHostKey: otherHostKey.split(/\s+/).slice(0, 2).join(" "),
    clientKeyFile: join(dir, "client_ed25519"),
    log: () => stderr,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(address: string, port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    if (child.exitCode !== null) throw new Error(`sshd exited (${child.exitCode}): ${stderr()}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = connect({ host: address, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not listen on ${address}:${port}: ${stderr()}`);
}
