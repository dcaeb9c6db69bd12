import type { Inventory, PinOverlay, Server, Station } from "../model/index.ts";
import { GATEWAY_FILES } from "../model/render/index.ts";
import { didYouMean } from "../model/kit.ts";
import { UsageError } from "../lib/errors.ts";
import type { Catalog, Check } from "./catalog/load.ts";
import { defaultPort } from "./catalog/params.ts";
import type { Target } from "./types.ts";

/**
 * Inventory + catalog → the campaign's targets. Keys are
 * `<check>/<server>` or `<check>/<station>/<link>`. A check's `dependsOn`
 * becomes target-level edges by what the two checks aim at:
 * - both on servers: the same server;
 * - links or devices on a servers check: the station's primary gateway;
 * - links or devices on a links or devices check: the same link.
 * So a down gateway (or a down link's ping) turns what lies behind it into
 * `unreachable` instead of thousands of `down`.
 */

export interface TargetSet {
  readonly targets: Target[];
  /** Links a check selected but that have no routable address (cannot be probed from the centre). */
  readonly unaddressed: number;
}

export interface TargetOptions {
  /**
   * A pins overlay (the stack's `amadegi:probe.pins`): its host keys and users
   * replace the inventory's for ssh checks and check-in reads. Already checked
   * against the inventory (src/model/pins.ts): every server has an entry.
   */
  readonly pins?: PinOverlay;
}

export function buildTargets(inventory: Inventory, catalog: Catalog, filter?: TargetFilter, options: TargetOptions = {}): TargetSet {
  /** The SSH user and pinned host key a probe expects of a server: the overlay's where the stack names one. */
  const sshOf = (server: Server): { user: string; hostKey?: string; root?: string } => {
    const pin = options.pins?.get(server.id);
    if (pin !== undefined) return { user: pin.user ?? server.ssh.user, hostKey: pin.hostKey, ...(pin.root === undefined ? {} : { root: pin.root }) };
    return server.ssh.hostKey === undefined ? { user: server.ssh.user } : { user: server.ssh.user, hostKey: server.ssh.hostKey };
  };
  /**
   * The servers and links each check has a target for, by identity. An edge to a target that was not
   * built (filtered out, not selected, no address) is never made: an absent upstream says nothing
   * about its dependents. Checks are built upstreams first, so each edge is decided as it is made;
   * looking 400,000 keys up in a set of strings afterwards took a second at national size.
   */
  const builtServers = new Map<string, Set<Server>>();
  const builtLinks = new Map<string, Set<Link>>();
  const byCheck = new Map<string, Target[]>();
  let unaddressed = 0;
  for (const check of upstreamsFirst(catalog)) {
    const list: Target[] = [];
    const servers = new Set<Server>();
    const links = new Set<Link>();
    byCheck.set(check.id, list);
    builtServers.set(check.id, servers);
    builtLinks.set(check.id, links);
    const deps = check.dependsOn.map((id) => catalog.byId.get(id)).filter((d): d is Check => d !== undefined);
    if (check.select.objects === "servers") {
      for (const server of inventory.servers) {
        if (!selectsServer(check, server)) continue;
        const t = serverTarget(check, server, deps);
        if (filter !== undefined && !filter(t)) continue;
        list.push(t);
        servers.add(server);
      }
      continue;
    }
    for (const station of inventory.stations) {
      if (!selectsStation(check, station)) continue;
      const gateway = inventory.serversById.get(station.gateways.primary);
      for (const link of station.links) {
        if (!selectsLink(check, link)) continue;
        let t: Target;
        if (check.select.objects === "links") {
          if (link.address === undefined) {
            unaddressed++;
            continue;
          }
          t = linkTarget(check, station, gateway, link, link.address, check.port ?? defaultPort(check.kind, check.params), undefined, deps);
        } else {
          if (gateway === undefined) continue;
          t = deviceTarget(check, station, gateway, link, deps);
        }
        if (filter !== undefined && !filter(t)) continue;
        list.push(t);
        links.add(link);
      }
    }
  }
  const targets: Target[] = [];
  for (const check of catalog.checks) for (const t of byCheck.get(check.id) ?? []) targets.push(t);
  return { targets, unaddressed };

  function serverTarget(check: Check, server: Server, deps: readonly Check[]): Target {
    const port = check.port ?? (check.kind === "ssh" ? server.ssh.port : defaultPort(check.kind, check.params));
    const dependsOn = deps.filter((d) => d.select.objects === "servers" && builtServers.get(d.id)?.has(server) === true).map((d) => `${d.id}/${server.id}`);
    const hostname = typeof check.params.hostname === "string" ? check.params.hostname : server.id;
    const ssh = sshOf(server);
    return {
      key: `${check.id}/${server.id}`,
      check: check.id,
      kind: check.kind,
      server: server.id,
      address: server.address,
      ...(port === undefined ? {} : { port }),
      hostname,
      params: { ...check.params, ...(check.kind === "ssh" && ssh.hostKey !== undefined ? { hostKey: ssh.hostKey, user: ssh.user } : {}) },
      ...(dependsOn.length === 0 ? {} : { dependsOn }),
    };
  }

  /** A device's check-in target: read at its station's gateways (both, for a device that failed over: issue 17). */
  function deviceTarget(check: Check, station: Station, gateway: Server, link: Link, deps: readonly Check[]): Target {
    const ssh = sshOf(gateway);
    const secondary = station.gateways.secondary === undefined ? undefined : inventory.serversById.get(station.gateways.secondary);
    const other = secondary === undefined ? undefined : sshOf(secondary);
    const extra = {
      serial: station.device.serial,
      fingerprint: station.device.fingerprint,
      gateway: gateway.id,
      user: ssh.user,
      ...(ssh.hostKey === undefined ? {} : { hostKey: ssh.hostKey }),
      // A rehearsal gateway keeps its files under its own root (the overlay says where).
      ...(ssh.root === undefined ? {} : { table: `${ssh.root}${GATEWAY_FILES.checkinTable}` }),
      ...(secondary === undefined || other === undefined
        ? {}
        : {
            secondary: secondary.id,
            secondaryAddress: secondary.address,
            secondaryPort: check.port ?? secondary.ssh.port,
            secondaryUser: other.user,
            ...(other.hostKey === undefined ? {} : { secondaryHostKey: other.hostKey }),
            ...(other.root === undefined ? {} : { secondaryTable: `${other.root}${GATEWAY_FILES.checkinTable}` }),
          }),
    };
    return linkTarget(check, station, gateway, link, gateway.address, check.port ?? gateway.ssh.port, extra, deps);
  }

  /** `extra` params beside the check's own; without them the target shares the check's (read-only) params. */
  function linkTarget(
    check: Check,
    station: Station,
    gateway: Server | undefined,
    link: Link,
    address: string,
    port: number | undefined,
    extra: Record<string, string | number> | undefined,
    deps: readonly Check[],
  ): Target {
    const dependsOn: string[] = [];
    for (const d of deps) {
      if (d.select.objects === "servers") {
        if (gateway !== undefined && builtServers.get(d.id)?.has(gateway) === true) dependsOn.push(`${d.id}/${station.gateways.primary}`);
      } else if (builtLinks.get(d.id)?.has(link) === true) dependsOn.push(`${d.id}/${station.id}/${link.id}`);
    }
    return {
      key: `${check.id}/${station.id}/${link.id}`,
      check: check.id,
      kind: check.kind,
      station: station.id,
      link: link.id,
      district: station.district,
      operator: link.operator,
      medium: link.medium,
      address,
      ...(port === undefined ? {} : { port }),
      ...(typeof check.params.hostname === "string" ? { hostname: check.params.hostname } : {}),
      params: extra === undefined ? check.params : { ...check.params, ...extra },
      ...(dependsOn.length === 0 ? {} : { dependsOn }),
    };
  }
}

type Link = Station["links"][number];

/** The catalog's checks, each after the checks it depends on (a valid catalog has no cycle; one is cut where it closes). */
function upstreamsFirst(catalog: Catalog): Check[] {
  const order: Check[] = [];
  const seen = new Set<string>();
  const visit = (check: Check): void => {
    if (seen.has(check.id)) return;
    seen.add(check.id);
    for (const id of check.dependsOn) {
      const dep = catalog.byId.get(id);
      if (dep !== undefined) visit(dep);
    }
    order.push(check);
  };
  for (const check of catalog.checks) visit(check);
  return order;
}

function selectsServer(check: Check, server: Server): boolean {
  const s = check.select;
  if (s.roles !== undefined && !s.roles.some((r) => server.roles.includes(r))) return false;
  if (s.servers !== undefined && !s.servers.includes(server.id)) return false;
  if (s.sites !== undefined && !s.sites.includes(server.site)) return false;
  return true;
}

function selectsStation(check: Check, station: Station): boolean {
  const s = check.select;
  if (s.districts !== undefined && !s.districts.includes(station.district)) return false;
  if (s.stationKind !== undefined && !s.stationKind.includes(station.kind)) return false;
  if (s.setting !== undefined && !s.setting.includes(station.setting)) return false;
  return true;
}

function selectsLink(check: Check, link: Link): boolean {
  const s = check.select;
  if (s.medium !== undefined && !s.medium.includes(link.medium)) return false;
  if (s.operators !== undefined && !s.operators.includes(link.operator)) return false;
  // A link that is not live yet has nothing to answer: probe live links unless the check says otherwise.
  if (!(s.lifecycle ?? ["live"]).includes(link.lifecycle.state)) return false;
  return true;
}

// --select ---------------------------------------------------------------------

export type TargetFilter = (t: Target) => boolean;

export const SELECT_KEYS = ["check", "kind", "province", "district", "operator", "medium", "station", "link", "server"] as const;
export type SelectKey = (typeof SELECT_KEYS)[number];

/** One term of a selection: `district=a|b`, `check!=x`, `server=*` (the target names a server). */
export interface SelectTerm {
  readonly key: SelectKey;
  readonly negated: boolean;
  /** Empty for `*`: any value of the key. */
  readonly values: ReadonlySet<string>;
  readonly any: boolean;
}

/** `--select` parsed into its terms (a comma is "and"; `a|b` is "or" within one key; `!=` negates). */
export function parseSelectTerms(expr: string): SelectTerm[] {
  const terms = expr
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "");
  if (terms.length === 0) throw new UsageError(`--select "${expr}" selects nothing`, { hint: "write e.g. --select district=pakdasht,operator=mci" });
  return terms.map((term) => {
    const match = /^([a-z]+)\s*(!=|=)\s*(.+)$/.exec(term);
    if (match === null) throw new UsageError(`--select: "${term}" is not KEY=VALUE`, { hint: `keys: ${SELECT_KEYS.join(", ")}` });
    const [, key = "", op, value = ""] = match;
    if (!(SELECT_KEYS as readonly string[]).includes(key)) {
      throw new UsageError(`--select: unknown key "${key}"${didYouMean(key, SELECT_KEYS)}`, { hint: `keys: ${SELECT_KEYS.join(", ")}` });
    }
    const any = value.trim() === "*";
    return { key: key as SelectKey, negated: op === "!=", any, values: new Set(any ? [] : value.split("|").map((v) => v.trim())) };
  });
}

/** What a term reads of a target: its ids, and the province of its district. */
export type Selectable = Partial<Record<Exclude<SelectKey, "province">, string>>;

/** Whether a target (or any object carrying those ids) passes every term. */
export function matchesTerms(terms: readonly SelectTerm[], t: Selectable, provinces?: ReadonlyMap<string, string>): boolean {
  return terms.every((term) => {
    const v = term.key === "province" ? (t.district === undefined ? undefined : provinces?.get(t.district)) : t[term.key];
    const hit = v !== undefined && (term.any || term.values.has(v));
    return term.negated ? !hit : hit;
  });
}

/**
 * `--select district=pakdasht,operator=mci` (a comma is "and"; `a|b` is "or"
 * within one key; `!=` negates; `KEY=*` any target that has one: `server=*`
 * is the central servers). Keys are the inventory ids a target carries, and
 * `province`, read through `provinces` (district → province).
 */
export function parseSelect(expr: string, provinces?: ReadonlyMap<string, string>): TargetFilter {
  const terms = parseSelectTerms(expr);
  if (provinces === undefined && terms.some((t) => t.key === "province")) {
    throw new UsageError(`--select ${expr}: selecting by province needs the inventory's districts`, { hint: "pass the district → province map" });
  }
  return (t) => matchesTerms(terms, t, provinces);
}

/** District id → province id, from the inventory. */
export function provincesOf(inventory: Pick<Inventory, "districts">): Map<string, string> {
  return new Map(inventory.districts.map((d) => [d.id, d.province]));
}
