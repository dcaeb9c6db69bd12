import { existsSync, readFileSync } from "node:fs";
import { run } from "../toolchain/inspect.ts";
import { execIn, listNetns } from "../toolchain/netns.ts";
import { type Marker, readMarker } from "./marker.ts";
import { namespaceNames, NFT_TABLE, type Plan } from "./plan.ts";
import { alive, cmdline } from "./processes.ts";
import type { StateLayout } from "./sshd.ts";
import type { SupervisorStatus } from "./supervise.ts";

export interface NamespaceStatus {
  readonly name: string;
  readonly role: string;
  readonly exists: boolean;
  readonly problems: readonly string[];
}

export interface ServerStatus {
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly listening: boolean;
  readonly pid?: number;
  readonly restarts?: number;
}

export interface RehearsalStatus {
  /** Anything of a rehearsal exists (marker, namespace). */
  readonly exists: boolean;
  /** Everything the plan asks for is there, up and running, and the marker says up finished. */
  readonly whole: boolean;
  /** The rehearsal was built from this inventory as it is now. */
  readonly matchesInventory: boolean;
  readonly marker?: { readonly complete: boolean; readonly startedAt: string; readonly finishedAt?: string; readonly steps: number; readonly hash: string };
  readonly planHash: string;
  readonly namespaces: readonly NamespaceStatus[];
  /** Namespaces with the prefix that the plan does not have (another inventory's operator). */
  readonly strayNamespaces: readonly string[];
  readonly servers: readonly ServerStatus[];
  readonly supervisor?: { readonly pid: number; readonly alive: boolean };
  readonly pins: boolean;
  readonly problems: readonly string[];
}

function withPrefixLength(text: string): string {
  return text.includes("/") ? text : `${text}/32`;
}

/** `ip -n NS …` output, or "" when it fails: a half-built namespace (after a crash) is a state to report, not an error. */
async function look(ns: string, args: readonly string[]): Promise<string> {
  const result = await run("ip", ["-n", ns, ...args]);
  return result.code === 0 ? result.stdout : "";
}

function parseJson<T>(text: string): T[] {
  try {
    const data = JSON.parse(text) as unknown;
    return Array.isArray(data) ? (data as T[]) : [];
  } catch {
    return [];
  }
}

async function checkNamespace(plan: Plan, ns: Plan["namespaces"][number]): Promise<string[]> {
  const problems: string[] = [];
  const links = parseJson<{ ifname: string; flags?: string[] }>(await look(ns.name, ["-j", "link", "show"]));
  const expected = plan.veths.flatMap((v) => (v.aNs === ns.name ? [v.aIf] : v.bNs === ns.name ? [v.bIf] : []));
  for (const name of ["lo", ...expected]) {
    const link = links.find((l) => l.ifname === name);
    if (link === undefined) problems.push(`interface ${name} is missing`);
    else if (!(link.flags ?? []).includes("UP")) problems.push(`interface ${name} is down`);
  }
  const wantedRoutes = ns.batch.filter((l) => l.startsWith("route add ")).map((l) => l.slice("route add ".length));
  const local = new Set<string>();
  const main = new Set<string>();
  for (const line of (await look(ns.name, ["route", "show", "table", "local"])).split("\n")) {
    const m = /^local (\S+) dev lo\b/.exec(line);
    if (m?.[1] !== undefined) local.add(withPrefixLength(m[1]));
  }
  for (const line of (await look(ns.name, ["route", "show"])).split("\n")) {
    const dest = line.trim().split(/\s+/)[0];
    if (dest !== undefined && dest !== "") main.add(withPrefixLength(dest));
  }
  let missingLocal = 0;
  let missingRoutes = 0;
  for (const route of wantedRoutes) {
    const [first, second] = route.split(/\s+/);
    if (first === "local") {
      if (second === undefined || !local.has(second)) missingLocal += 1;
    } else if (first === undefined || !main.has(first)) missingRoutes += 1;
  }
  if (missingLocal > 0) problems.push(`${missingLocal} of ${ns.localBlocks} answered address blocks are missing`);
  if (missingRoutes > 0) problems.push(`${missingRoutes} routes are missing`);
  if (ns.role === "core") {
    const addrs = parseJson<{ addr_info?: { local: string }[] }>(await look(ns.name, ["-j", "address", "show", "dev", "lo"]));
    const present = new Set(addrs.flatMap((a) => (a.addr_info ?? []).map((i) => i.local)));
    const missing = plan.servers.filter((s) => !present.has(s.address)).length;
    if (missing > 0) problems.push(`${missing} server addresses are missing`);
  }
  if (ns.nft !== undefined) {
    const table = await execIn(ns.name, ["nft", "list", "table", "ip", NFT_TABLE]);
    if (table.code !== 0) problems.push(`nftables table ${NFT_TABLE} is missing`);
  }
  return problems;
}

export function readSupervisorStatus(state: StateLayout): SupervisorStatus | undefined {
  try {
    return JSON.parse(readFileSync(state.supervisorStatus, "utf8")) as SupervisorStatus;
  } catch {
    return undefined;
  }
}

function supervisorPid(marker: Marker | undefined): number | undefined {
  for (const step of marker?.steps ?? []) if (step.kind === "process" && step.role === "supervisor" && step.pid !== undefined) return step.pid;
  return undefined;
}

/** What of the rehearsal is up, compared with what the plan (the inventory as it is now) asks for. No packet is sent. */
export async function rehearsalStatus(plan: Plan, state: StateLayout): Promise<RehearsalStatus> {
  const { marker, damaged } = readMarker(state.dir);
  const names = namespaceNames(plan.prefix);
  const present = listNetns().filter(names.owns);
  const problems: string[] = [];
  if (damaged !== undefined) problems.push(damaged);
  if (marker === undefined) problems.push("no marker: the rehearsal is not up (amadegi rehearsal up)");
  else if (!marker.complete)
    problems.push(`the marker says up did not finish (started ${marker.startedAt} by pid ${marker.upPid}): run rehearsal down, then up`);
  const matchesInventory = marker?.hash === plan.hash;
  if (marker !== undefined && !matchesInventory) problems.push("the inventory changed since rehearsal up: run rehearsal up again");

  const namespaces: NamespaceStatus[] = [];
  for (const ns of plan.namespaces) {
    const exists = present.includes(ns.name);
    const nsProblems = exists ? await checkNamespace(plan, ns) : ["does not exist"];
    namespaces.push({ name: ns.name, role: ns.role, exists, problems: nsProblems });
    for (const p of nsProblems) problems.push(`namespace ${ns.name}: ${p}`);
  }
  const planned = new Set(plan.namespaces.map((n) => n.name));
  const strayNamespaces = present.filter((n) => !planned.has(n));
  for (const n of strayNamespaces) problems.push(`namespace ${n} is not in the plan`);

  const pid = supervisorPid(marker);
  const supervisorAlive = pid !== undefined && alive(pid) && (cmdline(pid)?.includes(state.dir) ?? false);
  if (marker?.complete === true && !supervisorAlive) problems.push("the supervisor of the sshd servers is not running: run rehearsal down, then up");
  const supervised = supervisorAlive ? readSupervisorStatus(state) : undefined;
  const open = present.includes(plan.core) ? await listeningIn(plan.core) : new Set<string>();
  const servers: ServerStatus[] = plan.servers.map((s) => {
    const p = supervised?.processes[s.id];
    return {
      id: s.id,
      address: s.address,
      port: s.port,
      listening: open.has(`${s.address}:${s.port}`),
      ...(p?.pid === undefined ? {} : { pid: p.pid }),
      ...(p === undefined ? {} : { restarts: p.restarts }),
    };
  });
  const deaf = servers.filter((s) => !s.listening);
  if (deaf.length > 0)
    problems.push(
      `${deaf.length} servers' sshd do not listen: ${deaf
        .slice(0, 5)
        .map((s) => s.id)
        .join(", ")}${deaf.length > 5 ? "…" : ""}`,
    );
  const pins = existsSync(state.pins);
  if (marker?.complete === true && !pins) problems.push(`the pins overlay ${state.pins} is missing`);
  const exists = marker !== undefined || present.length > 0;
  return {
    exists,
    whole: exists && problems.length === 0,
    matchesInventory,
    ...(marker === undefined
      ? {}
      : {
          marker: {
            complete: marker.complete,
            startedAt: marker.startedAt,
            ...(marker.finishedAt === undefined ? {} : { finishedAt: marker.finishedAt }),
            steps: marker.steps.length,
            hash: marker.hash,
          },
        }),
    planHash: plan.hash,
    namespaces,
    strayNamespaces,
    servers,
    ...(pid === undefined ? {} : { supervisor: { pid, alive: supervisorAlive } }),
    pins,
    problems,
  };
}

/** `address:port` pairs listening on TCP inside a namespace (`ss`: no packet is sent). */
export async function listeningIn(ns: string): Promise<Set<string>> {
  const result = await execIn(ns, ["ss", "-Hltn"]);
  const found = new Set<string>();
  if (result.code !== 0) return found;
  for (const line of result.stdout.split("\n")) {
    const local = line.trim().split(/\s+/)[3];
    if (local !== undefined) found.add(local);
  }
  return found;
}
