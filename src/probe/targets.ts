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
  const targets: Target[] = [];
  /** The SSH user and pinned host key a probe expects of a server: the overlay's where the stack names one. */
  const sshOf = (server: Server): { user: string; hostKey?: string; root?: string } => {
    const pin = options.pins?.get(server.id);
    if (pin !== undefined) return { user: pin.user ?? server.ssh.user, hostKey: pin.hostKey, ...(pin.root === undefined ? {} : { root: pin.root }) };
    return server.ssh.hostKey === undefined ? { user: server.ssh.user } : { user: server.ssh.user, hostKey: server.ssh.hostKey };
  };
  const keys = new Set<string>();
  let unaddressed = 0;
  for (const check of catalog.checks) {
    const deps = check.dependsOn.map((id) => catalog.byId.get(id)).filter((d): d is Check => d !== undefined);
    const emit = (t: Target) => {
      if (filter !== undefined && !filter(t)) return;
      targets.push(t);
      keys.add(t.key);
    };
    if (check.select.objects === "servers") {
      for (const server of inventory.servers) {
        if (!selectsServer(check, server)) continue;
        emit(serverTarget(check, server, deps));
      }
    } else {
      for (const station of inventory.stations) {
        if (!selectsStation(check, station)) continue;
        for (const link of station.links) {
          if (!selectsLink(check, link)) continue;
          if (check.select.objects === "links") {
            if (link.address === undefined) {
              unaddressed++;
              continue;
            }
            emit(linkTarget(check, station, link, link.address, check.port ?? defaultPort(check.kind, check.params), {}, deps));
          } else {
            const gateway = inventory.serversById.get(station.gateways.primary);
            if (gateway === undefined) continue;
            const ssh = sshOf(gateway);
            // A device that failed over checks in at its secondary gateway: both are read (issue 17).
            const secondary = station.gateways.secondary === undefined ? undefined : inventory.serversById.get(station.gateways.secondary);
            const other = secondary === undefined ? undefined : sshOf(secondary);
            emit(
              linkTarget(
                check,
                station,
                link,
                gateway.address,
                check.port ?? gateway.ssh.port,
                {
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
                },
                deps,
              ),
            );
          }
        }
      }
    }
  }
  // Edges to targets that were not built (filtered out, not selected) are dropped:
  // an absent upstream says nothing about its dependents.
  const out = targets.map((t) => {
    const dependsOn = t.dependsOn?.filter((k) => keys.has(k));
    if (t.dependsOn === undefined || dependsOn?.length === t.dependsOn.length) return t;
    const rest: Target = { ...t };
    delete (rest as { dependsOn?: readonly string[] }).dependsOn;
    return dependsOn === undefined || dependsOn.length === 0 ? rest : { ...rest, dependsOn };
  });
  return { targets: out, unaddressed };

  function serverTarget(check: Check, server: Server, deps: readonly Check[]): Target {
    const port = check.port ?? (check.kind === "ssh" ? server.ssh.port : defaultPort(check.kind, check.params));
    const dependsOn = deps.filter((d) => d.select.objects === "servers").map((d) => `${d.id}/${server.id}`);
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

  function linkTarget(
    check: Check,
    station: Station,
    link: Station["links"][number],
    address: string,
    port: number | undefined,
    extra: Record<string, string | number>,
    deps: readonly Check[],
  ): Target {
    const dependsOn = deps.map((d) => (d.select.objects === "servers" ? `${d.id}/${station.gateways.primary}` : `${d.id}/${station.id}/${link.id}`));
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
      params: { ...check.params, ...extra },
      ...(dependsOn.length === 0 ? {} : { dependsOn }),
    };
  }
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

function selectsLink(check: Check, link: Station["links"][number]): boolean {
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
