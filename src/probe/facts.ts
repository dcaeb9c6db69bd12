import { randomBytes } from "node:crypto";
import { ProbeError } from "../lib/errors.ts";
import { SILENCE_TAG, SILENCE_TAG_GREP } from "../model/index.ts";
import type { Listen, ServerFacts } from "../model/render/index.ts";
import type { AllowList } from "./allow.ts";
import { classifySshFailure, shellQuote, sshExec } from "./probes/sshexec.ts";
import { dataRecord } from "../lib/records.ts";
import { forEachLimited } from "../lib/pool.ts";
import type { Spawner } from "./spawner.ts";

/**
 * Facts: what a server shows when asked over SSH, for `amadegi drift` (the
 * command provider cannot read back what a command did, so this is how a
 * change made by hand is found). One ssh call per server, with the pinned
 * host key only (probes/sshexec.ts), runs one POSIX sh script that prints:
 * the sha256 of each file the stack wrote (`<root><path>`; missing is
 * missing), the listening sockets (`ss -Hltnu`), and each service's version
 * line. The answer is framed by a random marker chosen for the call, so no
 * file name or command output can pass for framing, and it is parsed
 * strictly: anything unexpected means the facts could not be collected, never
 * a guess. A server that cannot be asked is `reachable: false` with the reason.
 */
export interface FactsServer {
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly user: string;
  /** The pinned host key (`type base64`); absent: the server is not contacted. */
  readonly hostKey: string | undefined;
  /** Prefix of every path on the server: "" in production, the server's root directory in the rehearsal. */
  readonly root: string;
}

export interface FactsExpectation {
  /** Paths in production form (no root prefix). */
  readonly files: readonly string[];
  /** Each service's version command (POSIX sh, prints one line). */
  readonly services: readonly { readonly name: string; readonly version: string }[];
  /** A monitor's Alertmanager (its URL as the server reaches it): list the silences amadegi made there. */
  readonly silences?: { readonly url: string };
}

export interface FactsOptions {
  readonly allow: AllowList;
  readonly identityFile?: string;
  /** The whole call, connection included (default 20 s). */
  readonly timeoutMs?: number;
  /** argv prefix for ssh. Default ["ssh"]. */
  readonly ssh?: readonly string[];
  /** Servers asked at once by collectAllFacts (default 16). */
  readonly concurrency?: number;
  /** Injected clock (tests). */
  readonly now?: () => Date;
  /**
   * Who starts ssh; default: this process. A caller holding a large inventory
   * passes a broker (spawner.ts): each spawn of its own copies its page tables.
   */
  readonly spawner?: Spawner;
}

const DEFAULT_TIMEOUT_MS = 20_000;
const DEFAULT_CONCURRENCY = 16;
/** A version line longer than this is cut. */
const MAX_VERSION = 300;
/** The whole answer: a server's files, its listeners and a few version lines stay far below it. */
const MAX_ANSWER = 4 * 1024 * 1024;
/** The script's own exit code when a tool it needs is missing on the server. */
const MISSING_TOOL_EXIT = 66;

/** The script run on the server; `marker` frames every section. */
export function factsScript(root: string, expected: FactsExpectation, marker: string): string {
  const m = `@${marker}`;
  const lines = [
    "LC_ALL=C; export LC_ALL",
    `for t in sha256sum ss head cut; do command -v "$t" >/dev/null 2>&1 || { echo "$t is not installed on the server" >&2; exit ${MISSING_TOOL_EXIT}; }; done`,
    // F <index> <hex> | F <index> - (missing) | E <index> <why> (there, but unreadable)
    'h() { if [ ! -e "$1" ]; then echo "F $2 -"; ' +
      'elif s=$(sha256sum -- "$1" 2>&1); then echo "F $2 ${s%% *}"; ' +
      'else echo "E $2 $(printf %s "$s" | head -n 1)"; fi; }',
    `echo '${m} facts 1'`,
    ...expected.files.map((path, i) => `h ${shellQuote(`${root}${path}`)} ${i}`),
    `echo '${m} ss'`,
    "ss -Hltnu 2>&1",
    `echo "${m} ss-exit $?"`,
    ...expected.services.flatMap((s, i) => [
      `echo '${m} version ${i}'`,
      `v=$(sh -c ${shellQuote(s.version)} 2>&1 </dev/null); r=$?`,
      `printf '%s\\n' "$v" | head -n 1 | cut -c 1-${MAX_VERSION}`,
      `echo "${m} version-exit ${i} $r"`,
    ]),
    ...(expected.silences === undefined
      ? []
      : [
          `echo '${m} silences'`,
          `s=$(amtool ${shellQuote(`--alertmanager.url=${expected.silences.url}`)} silence query -o extended 2>&1 </dev/null); r=$?`,
          // The tags, one a line; or, when amtool failed, the first line it said.
          `if [ $r = 0 ]; then printf '%s\n' "$s" | grep -o '${SILENCE_TAG_GREP}' | sort -u; ` +
            `else printf '%s\n' "$s" | head -n 1 | cut -c 1-${MAX_VERSION}; fi`,
          `echo "${m} silences-exit $r"`,
        ]),
    `echo '${m} end'`,
  ];
  // Run by sh whatever the user's login shell is (ssh hands the command to it).
  return `exec sh -c ${shellQuote(lines.join("\n"))}`;
}

/** One line of `ss -Hltnu`: Netid State Recv-Q Send-Q Local:Port Peer:Port. */
export function parseSsLine(line: string): Listen | undefined {
  const fields = line.trim().split(/\s+/);
  const [netid, , , , local] = fields;
  if (fields.length < 6 || (netid !== "tcp" && netid !== "udp") || local === undefined) return undefined;
  const colon = local.lastIndexOf(":");
  if (colon <= 0) return undefined;
  const portText = local.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65535) return undefined;
  let address = local.slice(0, colon);
  if (address.startsWith("[") && address.endsWith("]")) address = address.slice(1, -1);
  const zone = address.indexOf("%");
  if (zone >= 0) address = address.slice(0, zone);
  if (address === "") return undefined;
  return { proto: netid, address, port };
}

/** Whether a listener serves a declared listen: same protocol and port, its address or a wildcard. */
export function listensOn(observed: Listen, declared: Listen): boolean {
  return (
    observed.proto === declared.proto &&
    observed.port === declared.port &&
    (observed.address === declared.address || observed.address === "*" || observed.address === "0.0.0.0" || observed.address === "::")
  );
}

/** Read the script's answer; throws ProbeError (naming the line) at the first thing that is not as framed. */
export function parseFacts(answer: string, expected: FactsExpectation, marker: string): Pick<ServerFacts, "files" | "listening" | "versions" | "silences"> {
  const m = `@${marker}`;
  const lines = answer.split("\n");
  if (lines.at(-1) === "") lines.pop();
  let i = 0;
  const fail = (what: string): never => {
    const seen = lines[i];
    throw new ProbeError(`line ${i + 1} of the answer: ${what}${seen === undefined ? " (the answer ended)" : `, got ${JSON.stringify(seen.slice(0, 120))}`}`);
  };
  const expect = (line: string): void => {
    if (lines[i] !== line) fail(`expected ${JSON.stringify(line.replace(m, "@…"))}`);
    i++;
  };
  expect(`${m} facts 1`);
  const files = dataRecord<string | null>();
  const unreadable: string[] = [];
  for (const [index, path] of expected.files.entries()) {
    const match = /^([FE]) (\d+) (.*)$/.exec(lines[i] ?? "");
    if (match === null || Number(match[2]) !== index) fail(`expected the hash of file ${index} (${path})`);
    const [, tag, , value = ""] = match ?? [];
    if (tag === "E") unreadable.push(`${path}: ${value.trim() || "unreadable"}`);
    else if (value === "-") files[path] = null;
    else if (/^[0-9a-f]{64}$/.test(value)) files[path] = value;
    else fail(`expected a sha256 (64 hex digits) or "-" for ${path}`);
    i++;
  }
  if (unreadable.length > 0)
    throw new ProbeError(`cannot read ${unreadable.length} file${unreadable.length === 1 ? "" : "s"} the stack wrote: ${unreadable.slice(0, 3).join("; ")}`);
  expect(`${m} ss`);
  const ssLines: string[] = [];
  while (i < lines.length && !(lines[i] ?? "").startsWith(`${m} ss-exit `)) ssLines.push(lines[i++] ?? "");
  const ssExit = /^ss-exit (\d+)$/.exec((lines[i] ?? "").slice(m.length + 1));
  if (ssExit === null) fail("expected the end of ss's output");
  i++;
  if (ssExit?.[1] !== "0") throw new ProbeError(`ss -Hltnu failed (exit ${ssExit?.[1]}): ${ssLines.slice(0, 2).join(" ").slice(0, 200)}`);
  const listening: Listen[] = [];
  for (const [n, line] of ssLines.entries()) {
    if (line.trim() === "") continue;
    const parsed = parseSsLine(line);
    if (parsed === undefined) throw new ProbeError(`line ${n + 1} of ss -Hltnu is not a socket: ${JSON.stringify(line.slice(0, 120))}`);
    listening.push(parsed);
  }
  const versions = dataRecord<string | null>();
  for (const [index, service] of expected.services.entries()) {
    expect(`${m} version ${index}`);
    let line: string | undefined;
    if (!(lines[i] ?? "").startsWith(`${m} `)) line = lines[i++];
    const exit = new RegExp(`^version-exit ${index} (\\d+)$`).exec((lines[i] ?? "").slice(m.length + 1));
    if (exit === null || !(lines[i] ?? "").startsWith(`${m} `)) fail(`expected the exit code of ${service.name}'s version command`);
    i++;
    versions[service.name] = exit?.[1] === "0" ? (line ?? "") : null;
  }
  let silences: ServerFacts["silences"];
  if (expected.silences !== undefined) {
    expect(`${m} silences`);
    const said: string[] = [];
    while (i < lines.length && !(lines[i] ?? "").startsWith(`${m} `)) said.push(lines[i++] ?? "");
    const exit = /^silences-exit (\d+)$/.exec((lines[i] ?? "").slice(m.length + 1));
    if (exit === null) fail("expected the exit code of amtool silence query");
    i++;
    if (exit?.[1] === "0") {
      const bad = said.find((t) => !SILENCE_TAG.test(t));
      if (bad !== undefined) throw new ProbeError(`amtool listed a silence tag that is not one of amadegi's: ${JSON.stringify(bad.slice(0, 120))}`);
      silences = { tags: said };
    } else {
      silences = { error: `amtool silence query at ${expected.silences.url} failed (exit ${exit?.[1]}): ${(said[0] ?? "").slice(0, MAX_VERSION)}` };
    }
  }
  expect(`${m} end`);
  if (i !== lines.length) fail("expected nothing after the end");
  return { files, listening, versions, ...(silences === undefined ? {} : { silences }) };
}

/** Ask one server for its facts. Never throws for the server: what went wrong is `error`. */
export async function collectFacts(server: FactsServer, expected: FactsExpectation, options: FactsOptions): Promise<ServerFacts> {
  const now = options.now ?? (() => new Date());
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const where = `${server.id} (${server.address}:${server.port})`;
  const unreachable = (error: string): ServerFacts => ({
    server: server.id,
    reachable: false,
    error,
    files: {},
    listening: [],
    versions: {},
    at: now().toISOString(),
  });
  if (server.hostKey === undefined) return unreachable(`${where}: no pinned SSH host key; not contacted`);
  const marker = randomBytes(12).toString("hex");
  const signal = AbortSignal.timeout(Math.max(1, timeoutMs));
  let run;
  try {
    run = await sshExec(
      { key: server.id, address: server.address, port: server.port, user: server.user, hostKey: server.hostKey },
      factsScript(server.root, expected, marker),
      {
        allow: options.allow,
        ...(options.ssh === undefined ? {} : { ssh: options.ssh }),
        ...(options.identityFile === undefined ? {} : { identityFile: options.identityFile }),
        ...(options.spawner === undefined ? {} : { spawner: options.spawner }),
        timeoutMs,
        signal,
        maxStdout: MAX_ANSWER,
      },
    );
  } catch (error) {
    // The guard's refusal or a bad pin: nothing was sent; say so for this server. (No ssh at all is a ToolError: thrown.)
    if (error instanceof ProbeError) return unreachable(error.message);
    throw error;
  }
  const at = now().toISOString();
  if (run.killed || signal.aborted) return unreachable(`${where}: no answer within ${timeoutMs} ms`);
  if (run.code === MISSING_TOOL_EXIT) return unreachable(`${where}: ${run.stderr.trim().split("\n").at(-1) ?? "a tool is missing"}`);
  if (run.code !== 0) {
    const { failure, hostKeyMismatch, said } = classifySshFailure(run.code, run.stderr);
    if (hostKeyMismatch) return unreachable(`${where}: its SSH host key is not the pinned one; nothing was read (${said})`);
    return unreachable(`${where}: ${failure === "internal" ? `ssh exited ${run.code}: ` : ""}${said}`);
  }
  try {
    return { server: server.id, reachable: true, ...parseFacts(run.stdout.toString("utf8"), expected, marker), at };
  } catch (error) {
    if (error instanceof ProbeError) return unreachable(`${where}: the server's answer could not be read: ${error.message}`);
    throw error;
  }
}

/** Facts of many servers, at most `concurrency` asked at once, in the order given. */
export async function collectAllFacts(
  requests: readonly { readonly server: FactsServer; readonly expected: FactsExpectation }[],
  options: FactsOptions,
): Promise<ServerFacts[]> {
  const results = new Array<ServerFacts>(requests.length);
  await forEachLimited(requests, options.concurrency ?? DEFAULT_CONCURRENCY, async (r, i) => {
    results[i] = await collectFacts(r.server, r.expected, options);
  });
  return results;
}
