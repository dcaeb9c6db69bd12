/**
 * remote.Command's and CopyToRemote's connection, over OpenSSH's `ssh` instead of the Go provider's
 * built-in client (provider/pkg/provider/remote/connection.go). The server's identity is the pinned
 * `hostKey` and nothing else: a known_hosts file holding only that key, StrictHostKeyChecking yes,
 * no user or system ssh configuration (-F /dev/null). amadegi refuses a connection without a
 * hostKey before anything is sent (Pulumi's provider would skip verification). The private key goes
 * to a mode-600 file in a private temp directory, removed afterwards; it is never on a command line.
 * `environment` is sent with the session's env requests (SendEnv), as the Go client's Setenv does:
 * the server drops what its AcceptEnv does not list.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { capture, type Captured, exitText, trimOneNewline } from "./local.ts";
import { isObject, type Value } from "./wire.ts";

export interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly privateKey?: string;
  readonly agentSocketPath?: string;
  readonly hostKey: string;
  readonly dialErrorLimit: number;
  readonly perDialTimeout: number;
}

export interface Connection extends Endpoint {
  readonly proxy?: Endpoint;
}

export class ConnectionRefused extends Error {}

function endpointOf(v: { [key: string]: Value }, what: string): Endpoint {
  const str = (k: string) => (typeof v[k] === "string" ? v[k] : undefined);
  const num = (k: string, fallback: number) => (typeof v[k] === "number" ? v[k] : fallback);
  const host = str("host");
  if (host === undefined || host === "") throw new ConnectionRefused(`${what}.host is not set`);
  const hostKey = str("hostKey")?.trim();
  if (hostKey === undefined || hostKey === "") {
    throw new ConnectionRefused(`${what}.hostKey is not set for ${host}: amadegi never connects to a server whose host key is not pinned`);
  }
  const privateKey = str("privateKey");
  const agentSocketPath = str("agentSocketPath");
  return {
    host,
    port: num("port", 22),
    user: str("user") ?? "root",
    hostKey,
    dialErrorLimit: num("dialErrorLimit", 10),
    perDialTimeout: num("perDialTimeout", 15),
    ...(privateKey === undefined ? {} : { privateKey }),
    ...(agentSocketPath === undefined ? {} : { agentSocketPath }),
  };
}

/** The connection from a revealed `connection` input; refuses one without a pinned host key. */
export function connectionOf(v: Value | undefined): Connection {
  if (!isObject(v)) throw new ConnectionRefused("connection is not set");
  const target = endpointOf(v, "connection");
  return isObject(v.proxy) ? { ...target, proxy: endpointOf(v.proxy, "connection.proxy") } : target;
}

export function describe(e: Endpoint): string {
  return `${e.user}@${e.host}:${e.port}`;
}

/** A word for the shell: single-quoted. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** A value inside `-o Name=value`, which ssh splits like a configuration line. */
function optionValue(s: string): string {
  return /^[^\s"']+$/.test(s) ? s : `"${s.replaceAll('"', "")}"`;
}

/** The options that pin one endpoint's host key and name its credentials (files in `dir`, named by `role`). */
export function endpointOptions(e: Endpoint, dir: string, role: "target" | "proxy"): string[] {
  const o = (name: string, value: string | number) => ["-o", `${name}=${typeof value === "number" ? value : optionValue(value)}`];
  const attempts = e.dialErrorLimit < 0 ? 2_147_483_647 : e.dialErrorLimit + 1;
  return [
    "-F",
    "/dev/null",
    ...o("BatchMode", "yes"),
    ...o("StrictHostKeyChecking", "yes"),
    ...o("UserKnownHostsFile", join(dir, `${role}_known_hosts`)),
    ...o("GlobalKnownHostsFile", "/dev/null"),
    ...o("HostKeyAlias", `amadegi-pinned-${role}`),
    ...o("UpdateHostKeys", "no"),
    ...o("CheckHostIP", "no"),
    ...o("PasswordAuthentication", "no"),
    ...o("KbdInteractiveAuthentication", "no"),
    ...o("IdentityFile", e.privateKey === undefined ? "none" : join(dir, `${role}_key`)),
    ...(e.agentSocketPath === undefined ? [] : o("IdentityAgent", e.agentSocketPath)),
    ...(e.perDialTimeout > 0 ? o("ConnectTimeout", e.perDialTimeout) : []),
    ...o("ConnectionAttempts", attempts),
    "-p",
    String(e.port),
    "-l",
    e.user,
  ];
}

/** The key types and base64 of a pinned key, as known_hosts wants it under the alias. */
export function knownHostsLine(alias: string, hostKey: string): string {
  const [type = "", key = ""] = hostKey.trim().split(/\s+/);
  return `${alias} ${type} ${key}\n`;
}

/** ssh's arguments for `remoteCommand` on the connection's server (through its proxy, if any), sharing `controlPath`'s connection if given. */
export function sshArgs(conn: Connection, dir: string, envNames: readonly string[], remoteCommand: string, controlPath?: string): string[] {
  // ssh expands %h:%p to the target; every other % in the command is written %%.
  const word = (a: string) => (a === "%h:%p" ? a : shellQuote(a.replaceAll("%", "%%")));
  const through = conn.proxy === undefined ? [] : ["ssh", ...endpointOptions(conn.proxy, dir, "proxy"), "-W", "%h:%p", "--", conn.proxy.host];
  const proxy = through.length === 0 ? [] : ["-o", `ProxyCommand=${through.map(word).join(" ")}`];
  const shared =
    controlPath === undefined
      ? []
      : ["-o", "ControlMaster=auto", "-o", `ControlPath=${optionValue(controlPath)}`, "-o", `ControlPersist=${SHARED_CONNECTION_IDLE_S}`];
  return [
    ...endpointOptions(conn, dir, "target"),
    ...proxy,
    ...shared,
    ...envNames.flatMap((n) => ["-o", `SendEnv=${n}`]),
    "-T",
    "--",
    conn.host,
    remoteCommand,
  ];
}

/** What ssh printed and how it ended (255 with ssh's own text: the connection failed). */
export type SshRun = Captured;

/** Lines of ssh's own stderr that say the connection, not the command, failed. */
const SSH_FAILURE =
  /Host key verification failed|Permission denied \(|^ssh: |kex_exchange_identification|Connection (refused|timed out|closed by)|No route to host/m;

export function connectionFailure(conn: Connection, run: SshRun): string | undefined {
  if (run.code !== 255 || !SSH_FAILURE.test(run.stderr)) return undefined;
  const where = describe(conn) + (conn.proxy === undefined ? "" : ` through ${describe(conn.proxy)}`);
  const said = run.stderr.trim().split("\n").slice(-3).join("; ");
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/.test(run.stderr)) {
    return `ssh to ${where}: the server's host key is not the pinned connection.hostKey (${said}); check the server's key, then fix the pin`;
  }
  if (/Permission denied \(/.test(run.stderr)) {
    return `ssh to ${where}: the server refused the credentials (${said}); check connection.user and connection.privateKey`;
  }
  return `ssh to ${where} failed (${said}); check that the server is up and connection.host/port are right`;
}

/** The variable that lets the stand-in connect from the machine's own network namespace (a deploy host on the election network). */
export const MACHINE_NAMESPACE_OPT_IN = "AMADEGI_COMMAND_FROM_MACHINE_NAMESPACE";

function isLoopback(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === "::1" || host === "localhost";
}

/** Whether this process runs inside a named network namespace (one `ip netns` made, under /run/netns). */
function inNamedNamespace(): boolean {
  try {
    const mine = statSync("/proc/self/ns/net");
    return readdirSync("/run/netns").some((name) => {
      const named = statSync(join("/run/netns", name), { throwIfNoEntry: false });
      return named !== undefined && named.ino === mine.ino && named.dev === mine.dev;
    });
  } catch {
    return false;
  }
}

/**
 * amadegi's network-safety rule, which this stand-in adds to Pulumi's provider (ADR 0007): on these
 * machines the inventory's addresses belong to a real election network, and a stack's delete
 * commands run from its state, without the program and its guard (`pulumi destroy`). So a
 * connection to anything but loopback is refused unless this process runs inside a named network
 * namespace (`ip netns`: the rehearsal's) — never from the machine's own — or the environment opts in.
 */
export function namespaceRefusal(conn: Connection, env: NodeJS.ProcessEnv = process.env, named = inNamedNamespace): string | undefined {
  const hosts = [conn.host, ...(conn.proxy === undefined ? [] : [conn.proxy.host])];
  if (hosts.every(isLoopback) || env[MACHINE_NAMESPACE_OPT_IN] === "1" || named()) return undefined;
  return (
    `refusing to connect to ${describe(conn)} from this machine's own network namespace: nothing was sent. ` +
    `Run the stack inside its namespace (amadegi up/destroy do; or ip netns exec <namespace> pulumi ...), ` +
    `or, on a deploy host that belongs on that network, set ${MACHINE_NAMESPACE_OPT_IN}=1`
  );
}

/**
 * A run's credentials live in `<tmp>/amadegi-ssh-<pid>-XXXXXX`, named for the provider that wrote
 * them: a provider killed with its engine never runs the `finally` that removes them, and amadegi
 * removes what a provider that no longer runs left before its next engine starts
 * (provision/unfinished.ts, sweepLeftCredentials).
 */
export const CREDENTIALS_PREFIX = "amadegi-ssh-";
export const CREDENTIALS_DIR = /^amadegi-ssh-(\d{1,10})-[A-Za-z0-9]{6}$/;

/**
 * Sessions to one server share one SSH connection (ADR 0020): the first session's ssh becomes its
 * master (OpenSSH's ControlMaster), the next ones open a channel in it instead of a connection of
 * their own, so the key exchange (post-quantum, ADR 0015) and the login are done once per server
 * and engine run, not once per resource. A connection is shared only by sessions with the same
 * host, port, user, pinned host key, private key and agent: its name is their HMAC under a key
 * this process drew, so nothing about the credentials is in a file name. The sockets live in one
 * directory of this process's (`amadegi-ssh-<pid>-XXXXXX`, mode 700, swept like a run's when this
 * process was killed); a master ends when `closeSharedConnections` says so at the engine's end, or
 * after SHARED_CONNECTION_IDLE_S seconds unused (a killed provider's). A session through a proxy
 * has a connection of its own, as before.
 */
const SHARED_CONNECTION_IDLE_S = 120;
/**
 * Sessions open at once in one shared connection: well under OpenSSH's default MaxSessions (10).
 * Past a server's MaxSessions a session gets a connection of its own, and ssh says so on stderr.
 */
const SHARED_CONNECTION_SESSIONS = 4;

interface Place {
  /** Whether the last session to end had connected: until one has (again), a session runs alone. */
  opened: boolean;
  open: number;
  readonly waiting: (() => void)[];
}

interface Shared {
  readonly dir: Promise<string>;
  readonly key: Buffer;
  /** Per control path: its sessions open, and who waits for a place. */
  readonly places: Map<string, Place>;
}
let shared: Shared | undefined;

async function privateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `${CREDENTIALS_PREFIX}${process.pid}-`));
  await chmod(dir, 0o700);
  return dir;
}

/** The control socket of the connection `conn` shares; its directory made at first use. */
async function controlPathOf(conn: Connection): Promise<{ path: string; place: Place }> {
  shared ??= { dir: privateDir(), key: randomBytes(32), places: new Map() };
  const who = (e: Endpoint) => [e.host, e.port, e.user, e.hostKey, e.privateKey ?? null, e.agentSocketPath ?? null];
  const name = createHmac("sha256", shared.key)
    .update(JSON.stringify(who(conn)))
    .digest("hex")
    .slice(0, 32);
  let place = shared.places.get(name);
  if (place === undefined) shared.places.set(name, (place = { opened: false, open: 0, waiting: [] }));
  return { path: join(await shared.dir, name), place };
}

/**
 * Wait for a place among a connection's sessions; the returned function gives it back, saying
 * whether ssh connected. Until one has, and again after one could not (the connection was lost), a
 * session runs alone: sessions started beside the one that opens the connection
 * would each open one too, and all but one would say on stderr that they could not share it.
 */
async function sessionPlace(place: Place): Promise<(connected: boolean) => void> {
  const limit = () => (place.opened ? SHARED_CONNECTION_SESSIONS : 1);
  if (place.open >= limit()) await new Promise<void>((resolve) => place.waiting.push(resolve));
  else place.open++;
  return (connected) => {
    place.opened = connected;
    place.open--;
    while (place.open < limit()) {
      const next = place.waiting.shift();
      if (next === undefined) break;
      place.open++;
      next();
    }
  };
}

/** Ends every shared connection this process opened and removes their sockets' directory. */
export async function closeSharedConnections(): Promise<void> {
  const s = shared;
  if (s === undefined) return;
  shared = undefined;
  const dir = await s.dir;
  await Promise.all(
    [...s.places.keys()].map(
      (name) =>
        new Promise<void>((resolve) => {
          // A master that already ended answers with an error: nothing to do then.
          const child = spawn("ssh", ["-F", "/dev/null", "-o", `ControlPath=${optionValue(join(dir, name))}`, "-O", "exit", "--", "amadegi-shared"], {
            stdio: "ignore",
          });
          child.on("error", () => resolve()).on("close", () => resolve());
        }),
    ),
  );
  await rm(dir, { recursive: true, force: true });
}

/**
 * Run `remoteCommand` on the connection's server: the credentials written for this run only, the
 * environment sent by name, `stdin` fed and closed, in the server's shared connection (unless
 * through a proxy). Resolves with what happened, even a failure.
 */
export async function runSsh(
  conn: Connection,
  remoteCommand: string,
  options: {
    readonly environment?: Readonly<Record<string, string>>;
    readonly stdin?: string | Buffer;
    readonly logging?: string;
    readonly onLine?: (line: string) => void;
    readonly running?: Set<ChildProcess>;
  } = {},
): Promise<SshRun> {
  const refused = namespaceRefusal(conn);
  if (refused !== undefined) throw new ConnectionRefused(refused);
  // Not through a proxy: with ControlPersist, ssh sends the ProxyCommand's stderr to /dev/null,
  // and the proxy's own refusal (a wrong pin) would no longer be said. amadegi's stacks use none.
  const sharing = conn.proxy === undefined ? await controlPathOf(conn) : undefined;
  const release = sharing === undefined ? () => undefined : await sessionPlace(sharing.place);
  let connected = false;
  let dir: string | undefined;
  try {
    dir = await privateDir();
    const within = dir;
    const secretFile = async (name: string, text: string) => writeFile(join(within, name), text.endsWith("\n") ? text : `${text}\n`, { mode: 0o600 });
    await secretFile("target_known_hosts", knownHostsLine("amadegi-pinned-target", conn.hostKey));
    if (conn.privateKey !== undefined) await secretFile("target_key", conn.privateKey);
    if (conn.proxy !== undefined) {
      await secretFile("proxy_known_hosts", knownHostsLine("amadegi-pinned-proxy", conn.proxy.hostKey));
      if (conn.proxy.privateKey !== undefined) await secretFile("proxy_key", conn.proxy.privateKey);
    }
    const environment = options.environment ?? {};
    const args = sshArgs(conn, dir, Object.keys(environment), remoteCommand, sharing?.path);
    const spawnOptions = { env: { ...process.env, ...environment } };
    const run = await capture("ssh", args, spawnOptions, options).catch((error: Error) => ({
      stdout: "",
      stderr: `ssh: ${error.message} (is OpenSSH's ssh installed?)`,
      code: 255,
      signal: null,
      both: "",
    }));
    // 255 is ssh's own failure (connectionFailure says which), or a command that exited 255: either way, not proof of a connection.
    connected = run.code !== 255;
    return run;
  } finally {
    release(connected);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}

/** The Go client's text for a remote command's end ("Process exited with status 2"). */
export function remoteExitText(run: SshRun): string {
  return run.code === null ? `Process ${exitText(run.code, run.signal)}` : `Process exited with status ${run.code}`;
}

export { trimOneNewline };
