import { createHash } from "node:crypto";
import {
  type Block,
  cidrContains,
  exactCover,
  formatBlock,
  formatIpv4,
  type Inventory,
  type Link,
  type LinkState,
  parseCidr,
  parseIpv4,
} from "../model/index.ts";

/**
 * The rehearsal's own plumbing (veth link addresses) lives in 198.18.0.0/15,
 * the range RFC 2544 sets aside for benchmarking network devices: it is never
 * routed on the internet and an election inventory has no reason to use it.
 * An inventory address inside it would be answered by plumbing instead of the
 * object, so such an inventory is refused (plan findings).
 */
export const PLUMBING_RANGE = "198.18.0.0/15";
const PLUMBING = (() => {
  const parsed = parseCidr(PLUMBING_RANGE);
  if (!parsed.ok) throw new Error(`PLUMBING_RANGE ${PLUMBING_RANGE}: ${parsed.reason}`);
  return parsed;
})();

/** Every namespace of a rehearsal starts with this; `down` finds them by it even without a marker. */
export const DEFAULT_PREFIX = "amadegi-r-";

/**
 * Mobile signal below this (dBm) but not yet a blind spot is a weak link: it
 * answers, with loss. −100 dBm is where operators' own planning calls the
 * signal poor; the inventory's `policy.blindSpotDbm` (default −110) is where
 * the path stops counting at all.
 */
export const WEAK_DBM = -100;

/**
 * Loss (%) of a weak link: 10 % plus 4 % per dB below WEAK_DBM, at most 50 %
 * (−101 dBm → 14 %, −105 → 30 %, −109 → 46 %). A model for rehearsing, not a
 * measurement: strong enough that a three-ping probe sees it now and then.
 */
export function lossPercent(signalDbm: number): number {
  return Math.min(50, Math.max(10, Math.round(10 + (WEAK_DBM - signalDbm) * 4)));
}

/** A link the rehearsal answers with loss (lossPercent): an answering mobile link surveyed below WEAK_DBM, not a blind spot. */
export function isWeakLink(link: Link, blindSpotDbm: number): boolean {
  const signal = link.medium === "mobile" ? link.survey?.signalDbm : undefined;
  return signal !== undefined && signal >= blindSpotDbm && signal < WEAK_DBM && ANSWERING_STATES.has(link.lifecycle.state);
}

/** Link states whose equipment is in place and answers; planned/ordered/retired links do not exist yet (or any more). */
export const ANSWERING_STATES: ReadonlySet<LinkState> = new Set<LinkState>(["installed", "live"]);

/** The nftables table each operator's namespace gets (link quality). */
export const NFT_TABLE = "amadegi_rehearsal";

export interface NamespaceNames {
  readonly prefix: string;
  readonly core: string;
  readonly probe: string;
  operator(id: string): string;
  /** Whether a namespace name belongs to this rehearsal (the prefix and a known role). */
  owns(name: string): boolean;
}

export function namespaceNames(prefix = DEFAULT_PREFIX): NamespaceNames {
  if (!/^amadegi-r-([a-z0-9]+-)?$/.test(prefix)) throw new Error(`rehearsal prefix "${prefix}" must be amadegi-r- or amadegi-r-<tag>-`);
  const escaped = prefix.replace(/[-]/g, "\\-");
  const pattern = new RegExp(`^${escaped}(core|probe|op-[A-Za-z0-9._-]+)$`);
  return {
    prefix,
    core: `${prefix}core`,
    probe: `${prefix}probe`,
    operator: (id) => `${prefix}op-${id}`,
    owns: (name) => pattern.test(name),
  };
}

export interface VethPlan {
  /** Core-side (or probe link: core) namespace, interface and address (CIDR). */
  readonly aNs: string;
  readonly aIf: string;
  readonly aAddr: string;
  readonly bNs: string;
  readonly bIf: string;
  readonly bAddr: string;
  /** What the link stands for, shown by `ip link` (ifalias). */
  readonly alias: string;
}

export interface NamespacePlan {
  readonly name: string;
  readonly role: "core" | "probe" | "operator";
  readonly operator?: string;
  readonly forwarding: boolean;
  /** `ip -batch` lines run inside it once its veths exist: addresses, links up, routes. */
  readonly batch: readonly string[];
  /** nftables ruleset loaded inside it (operators only). */
  readonly nft?: string;
  /** Local routes (`ip route add local … dev lo`) it must hold. */
  readonly localBlocks: number;
}

export interface ServerPlan {
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly user: string;
  readonly roles: readonly string[];
}

export interface LinkQuality {
  readonly link: string;
  readonly station: string;
  readonly address: string;
  readonly signalDbm: number;
  readonly loss: number;
}

export interface OperatorPlan {
  readonly id: string;
  readonly ns: string;
  readonly interconnects: number;
  /** Link addresses routed to it (any state). */
  readonly addresses: number;
  /** Of which answer (installed or live). */
  readonly answering: number;
  readonly blind: readonly LinkQuality[];
  readonly weak: readonly LinkQuality[];
}

export interface Plan {
  readonly prefix: string;
  readonly core: string;
  readonly probe: string;
  readonly namespaces: readonly NamespacePlan[];
  readonly veths: readonly VethPlan[];
  readonly servers: readonly ServerPlan[];
  readonly operators: readonly OperatorPlan[];
  /** The probing namespace's source address. */
  readonly probeAddress: string;
  /** Blocks the probing namespace routes into the rehearsal: servers and every link address. */
  readonly reachable: readonly string[];
  readonly unaddressed: number;
  /** A digest of everything `up` builds: a rehearsal whose marker has another one does not match the inventory. */
  readonly hash: string;
  /** Reasons the inventory cannot be rehearsed; `up` refuses while there are any. */
  readonly findings: readonly string[];
}

/** The i-th /31 of the plumbing range: [even, odd] addresses. */
function plumbingPair(index: number): [string, string] {
  const base = PLUMBING.base + index * 2;
  return [formatIpv4(base), formatIpv4(base + 1)];
}

function nexthops(vias: readonly { addr: string; dev: string }[]): string {
  const [only] = vias;
  if (vias.length === 1 && only !== undefined) return `via ${only.addr} dev ${only.dev}`;
  return vias.map((v) => `nexthop via ${v.addr} dev ${v.dev}`).join(" ");
}

function ipOf(text: string): number {
  const value = parseIpv4(text);
  if (value === undefined) throw new Error(`not an IPv4 address: ${text}`);
  return value;
}

function nftSet(name: string, addresses: readonly string[]): string {
  const elements = addresses.length === 0 ? "" : ` elements = { ${addresses.join(", ")} };`;
  return `  set ${name} { type ipv4_addr;${elements} }`;
}

function nftRuleset(blind: readonly LinkQuality[], weak: readonly LinkQuality[]): string {
  const byLoss = new Map<number, string[]>();
  for (const w of weak) listOf(byLoss, w.loss).push(w.address);
  const losses = [...byLoss.keys()].sort((a, b) => a - b);
  return [
    `table ip ${NFT_TABLE} {`,
    nftSet(
      "blind",
      blind.map((b) => b.address),
    ),
    ...losses.map((loss) => nftSet(`loss${loss}`, byLoss.get(loss) ?? [])),
    "  chain input {",
    "    type filter hook input priority 0; policy accept;",
    "    ip daddr @blind drop",
    ...losses.map((loss) => `    ip daddr @loss${loss} numgen random mod 100 < ${loss} drop`),
    "  }",
    "  chain output {",
    "    type filter hook output priority 0; policy accept;",
    "    ip saddr @blind drop",
    "  }",
    "}",
    "",
  ].join("\n");
}

/** Interface names are at most 15 bytes; readable ones where they fit, indices where not. */
function coreIfName(operator: string, opIndex: number, j: number, taken: Set<string>): string {
  const readable = `${operator}-${j}`;
  const name = readable.length <= 15 && /^[A-Za-z0-9_-]+$/.test(readable) && !taken.has(readable) ? readable : `o${opIndex}-${j}`;
  taken.add(name);
  return name;
}

/**
 * Everything `rehearsal up` builds, derived from the inventory alone and
 * deterministically (operators and interconnects in id order), so the same
 * inventory always gives the same namespaces, interface names and addresses.
 */
export function planRehearsal(inventory: Inventory, prefix = DEFAULT_PREFIX): Plan {
  const names = namespaceNames(prefix);
  const findings: string[] = [];
  const inPlumbing = (address: string, what: string): void => {
    const value = parseIpv4(address);
    if (value !== undefined && cidrContains(PLUMBING, value)) {
      findings.push(
        `${what} has address ${address}, inside the rehearsal's plumbing range ${PLUMBING_RANGE} (RFC 2544 benchmarking): ` +
          `give it an address outside that range`,
      );
    }
  };

  const servers: ServerPlan[] = inventory.servers.map((s) => {
    inPlumbing(s.address, `server ${s.id}`);
    return { id: s.id, address: s.address, port: s.ssh.port, user: s.ssh.user, roles: [...s.roles] };
  });
  const serverBlocks = exactCover(servers.map((s) => ipOf(s.address)));

  // Link addresses per operator: all (routed) and those that answer.
  const all = new Map<string, number[]>();
  const answering = new Map<string, number[]>();
  const blind = new Map<string, LinkQuality[]>();
  const weak = new Map<string, LinkQuality[]>();
  let unaddressed = 0;
  const blindSpotDbm = inventory.election.policy.blindSpotDbm;
  for (const station of inventory.stations) {
    for (const link of station.links) {
      if (link.address === undefined) {
        unaddressed += 1;
        continue;
      }
      inPlumbing(link.address, `link ${link.id} of station ${station.id}`);
      const value = ipOf(link.address);
      listOf(all, link.operator).push(value);
      if (!ANSWERING_STATES.has(link.lifecycle.state)) continue;
      listOf(answering, link.operator).push(value);
      const signal = link.medium === "mobile" ? link.survey?.signalDbm : undefined;
      if (signal === undefined) continue;
      const quality = { link: link.id, station: station.id, address: link.address, signalDbm: signal };
      if (signal < blindSpotDbm) listOf(blind, link.operator).push({ ...quality, loss: 100 });
      else if (isWeakLink(link, blindSpotDbm)) listOf(weak, link.operator).push({ ...quality, loss: lossPercent(signal) });
    }
  }

  const veths: VethPlan[] = [];
  const [probeCore, probeSide] = plumbingPair(0);
  veths.push({ aNs: names.core, aIf: "probe", aAddr: `${probeCore}/31`, bNs: names.probe, bIf: "core", bAddr: `${probeSide}/31`, alias: "probing namespace" });

  const coreBatch: string[] = [
    "link set lo up",
    ...servers.map((s) => `address add ${s.address}/32 dev lo`),
    "link set probe up",
    `address add ${probeCore}/31 dev probe`,
  ];
  const taken = new Set<string>(["probe", "lo"]);
  const operatorNamespaces: NamespacePlan[] = [];
  const operators: OperatorPlan[] = [];
  const sortedOperators = [...inventory.operators].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  let pair = 1;
  sortedOperators.forEach((operator, opIndex) => {
    const ns = names.operator(operator.id);
    const interconnects = [...operator.interconnects].sort((a, b) => (a.site < b.site ? -1 : a.site > b.site ? 1 : 0));
    const toCore: { addr: string; dev: string }[] = [];
    const toOperator: { addr: string; dev: string }[] = [];
    const opBatch: string[] = ["link set lo up"];
    interconnects.forEach((ic, j) => {
      const [coreAddr, opAddr] = plumbingPair(pair);
      pair += 1;
      const aIf = coreIfName(operator.id, opIndex, j, taken);
      const bIf = `core-${j}`;
      const capacity = ic.capacityMbps === undefined ? "" : `, ${ic.capacityMbps} Mbps`;
      veths.push({
        aNs: names.core,
        aIf,
        aAddr: `${coreAddr}/31`,
        bNs: ns,
        bIf,
        bAddr: `${opAddr}/31`,
        alias: `${operator.id} at ${ic.site} (${ic.kind}${capacity})`,
      });
      coreBatch.push(`link set ${aIf} up`, `address add ${coreAddr}/31 dev ${aIf}`);
      opBatch.push(`link set ${bIf} up`, `address add ${opAddr}/31 dev ${bIf}`);
      toOperator.push({ addr: opAddr, dev: aIf });
      toCore.push({ addr: coreAddr, dev: bIf });
    });
    const routed = exactCover(all.get(operator.id) ?? []);
    const local = exactCover(answering.get(operator.id) ?? []);
    if (toOperator.length > 0) for (const block of routed) coreBatch.push(`route add ${formatBlock(block)} ${nexthops(toOperator)}`);
    for (const block of local) opBatch.push(`route add local ${formatBlock(block)} dev lo`);
    if (toCore.length > 0) {
      // Back to the servers and the probing namespace only: no default route anywhere in the rehearsal.
      for (const block of serverBlocks) opBatch.push(`route add ${formatBlock(block)} ${nexthops(toCore)}`);
      opBatch.push(`route add ${PLUMBING_RANGE} ${nexthops(toCore)}`);
    }
    const opBlind = blind.get(operator.id) ?? [];
    const opWeak = weak.get(operator.id) ?? [];
    operatorNamespaces.push({
      name: ns,
      role: "operator",
      operator: operator.id,
      forwarding: false,
      batch: opBatch,
      nft: nftRuleset(opBlind, opWeak),
      localBlocks: local.length,
    });
    operators.push({
      id: operator.id,
      ns,
      interconnects: interconnects.length,
      addresses: all.get(operator.id)?.length ?? 0,
      answering: answering.get(operator.id)?.length ?? 0,
      blind: opBlind,
      weak: opWeak,
    });
  });
  for (const [operator, addresses] of all) {
    if (!inventory.operatorsById.has(operator))
      findings.push(`${addresses.length} link addresses name operator ${operator}, which operators.yaml does not declare: run amadegi validate`);
  }

  const reachable = exactCover([...servers.map((s) => ipOf(s.address)), ...[...all.values()].flat()]).map(formatBlock);
  const probeBatch = [
    "link set lo up",
    "link set core up",
    `address add ${probeSide}/31 dev core`,
    ...reachable.map((b) => `route add ${b} via ${probeCore} dev core`),
  ];

  const namespaces: NamespacePlan[] = [
    { name: names.core, role: "core", forwarding: true, batch: coreBatch, localBlocks: 0 },
    { name: names.probe, role: "probe", forwarding: false, batch: probeBatch, localBlocks: 0 },
    ...operatorNamespaces,
  ];
  if (pair > 65_536) findings.push(`${pair} veth links do not fit the plumbing range ${PLUMBING_RANGE}`);
  const hash = createHash("sha256").update(JSON.stringify({ namespaces, veths, servers })).digest("hex").slice(0, 16);
  return {
    prefix,
    core: names.core,
    probe: names.probe,
    namespaces,
    veths,
    servers,
    operators,
    probeAddress: probeSide,
    reachable,
    unaddressed,
    hash,
    findings,
  };
}

export type { Block };

/**
 * The list under `key`, made empty the first time: appended to in place. A copy per link (a spread)
 * made planning quadratic: at national size (133,202 links) it was most of `rehearsal up`'s 104 s.
 */
function listOf<K, T>(map: Map<K, T[]>, key: K): T[] {
  let list = map.get(key);
  if (list === undefined) {
    list = [];
    map.set(key, list);
  }
  return list;
}
