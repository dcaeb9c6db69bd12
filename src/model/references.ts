import { parseIpv4 } from "./net.ts";
import { normalizeName } from "./normalize.ts";
import { type Reporter, where } from "./report.ts";
import type { Origin } from "./source.ts";
import { parsePublicKey } from "./sshkey.ts";
import { didYouMean } from "./suggest.ts";
import type { Inventory, Link, Station } from "./types.ts";

/**
 * Stage 4, references and uniqueness across files. Ids are compared
 * case-insensitively, names after Persian normalization.
 */

/** Organisations that may own a link's lifecycle besides the operators. */
export const ORGANISATIONS = ["municipality", "education", "governorate", "it-committee"] as const;

interface Placed {
  readonly id: string;
  readonly origin: Origin;
}

/** Report the second use of a key; `describe` says what is duplicated. */
class Seen {
  private readonly first = new Map<string, { origin: Origin; path: readonly (string | number)[] }>();
  private readonly report: Reporter;
  constructor(report: Reporter) {
    this.report = report;
  }

  check(
    rule: Parameters<Reporter>[0],
    key: string,
    origin: Origin,
    path: readonly (string | number)[],
    item: string,
    what: string,
    hint: string,
  ): void {
    const prior = this.first.get(key);
    if (prior === undefined) {
      this.first.set(key, { origin, path });
      return;
    }
    this.report(rule, origin, path, item, `${what}, already used at ${where(this.report.sources, prior.origin, ...prior.path)}`, hint);
  }
}

export function checkReferences(inv: Inventory, report: Reporter): void {
  checkIds(inv, report);
  checkNames(inv, report);
  checkAddressesAndDevices(inv, report);
  checkServers(inv, report);
  checkPops(inv, report);
  checkStations(inv, report);
  checkDistricts(inv, report);
  checkWaivers(inv, report);
}

function uniqueIds(report: Reporter, kind: string, items: Iterable<Placed>): void {
  const seen = new Seen(report);
  for (const item of items) {
    seen.check("uniqueness.id", item.id.toLowerCase(), item.origin, ["id"], item.id, `${kind} id "${item.id}" is used twice`, `give this ${kind} another id`);
  }
}

function* links(inv: Inventory): Generator<{ station: Station; link: Link; index: number }> {
  for (const station of inv.stations) {
    for (let index = 0; index < station.links.length; index++) {
      const link = station.links[index];
      if (link !== undefined) yield { station, link, index };
    }
  }
}

function checkIds(inv: Inventory, report: Reporter): void {
  uniqueIds(report, "milestone", inv.election.milestones);
  uniqueIds(report, "operator", inv.operators);
  uniqueIds(report, "point-of-presence", inv.pops);
  uniqueIds(report, "site", inv.sites);
  uniqueIds(report, "server", inv.servers);
  uniqueIds(report, "station", inv.stations);
  uniqueIds(report, "waiver", inv.waivers);
  uniqueIds(report, "committee member", inv.committee);
  const linkIds = new Seen(report);
  for (const { station, link } of links(inv)) {
    linkIds.check("uniqueness.id", link.id.toLowerCase(), link.origin, ["id"], station.id, `link id "${link.id}" is used twice`, "give this link another id, e.g. <station>-F2");
  }
  const counties = new Seen(report);
  for (const d of inv.districts) {
    for (const c of d.counties) {
      counties.check("uniqueness.id", `${d.id}/${c.id}`.toLowerCase(), c.origin, ["county", "id"], d.id, `county "${c.id}" of district "${d.id}" is declared by two files`, "keep one file per county, or merge them");
    }
  }
}

function checkNames(inv: Inventory, report: Reporter): void {
  const named = (kind: string, items: readonly { id: string; name?: string; origin: Origin }[]) => {
    const seen = new Seen(report);
    for (const item of items) {
      if (item.name === undefined) continue;
      seen.check("uniqueness.name", normalizeName(item.name), item.origin, ["name"], item.id, `${kind} name "${item.name}" is the same as another ${kind}'s once Persian spelling is normalized`, `tell the two ${kind}s apart in their names`);
    }
  };
  named("operator", inv.operators);
  named("site", inv.sites);
  named("committee member", inv.committee);
  const districts = new Seen(report);
  for (const d of inv.districts) {
    const c = d.counties[0];
    if (c !== undefined) districts.check("uniqueness.name", normalizeName(d.name), c.origin, ["name"], d.id, `district name "${d.name}" is the same as another district's once Persian spelling is normalized`, "tell the districts apart in their names");
  }
  for (const d of inv.districts) {
    for (const c of d.counties) {
      const seen = new Seen(report);
      for (const s of c.stations) {
        seen.check("uniqueness.station-name", normalizeName(s.name), s.origin, ["name"], s.id, `station name "${s.name}" is the same as another station's in ${c.name} once Persian spelling is normalized`, "add what tells them apart (e.g. the neighbourhood), or record a waiver if they truly share a name");
      }
    }
  }
}

function checkAddressesAndDevices(inv: Inventory, report: Reporter): void {
  const addresses = new Seen(report);
  for (const s of inv.servers) {
    addresses.check("uniqueness.address", String(parseIpv4(s.address)), s.origin, ["address"], s.id, `address ${s.address} is used twice`, "no two endpoints may share an address");
  }
  const circuits = new Seen(report);
  const serials = new Seen(report);
  const keys = new Seen(report);
  for (const { station, link, index } of links(inv)) {
    if (link.address !== undefined) {
      addresses.check("uniqueness.address", String(parseIpv4(link.address)), station.origin, ["links", index, "address"], station.id, `link ${link.id}: address ${link.address} is used twice`, "no two endpoints may share an address; check the operator's assignment");
    }
    if (link.circuit !== undefined) {
      circuits.check("uniqueness.circuit", `${link.operator}\u0000${link.circuit.trim().toUpperCase()}`, station.origin, ["links", index, "circuit"], station.id, `link ${link.id}: circuit ${link.circuit} of ${link.operator} is used twice`, "a circuit is one physical line; check the operator's order");
    }
  }
  for (const s of inv.stations) {
    serials.check("uniqueness.device-serial", s.device.serial.trim().toUpperCase(), s.origin, ["device", "serial"], s.id, `device serial ${s.device.serial} is used twice`, "one device per station; check the serial on the device's label");
    keys.check("uniqueness.device-key", s.device.fingerprint, s.origin, ["device", "fingerprint"], s.id, "device key fingerprint is used twice", "each device has its own key; a shared key means a cloned or mistyped device");
  }
}

function keyBody(key: string): string {
  const [type = "", body = ""] = key.split(/\s+/);
  return `${type} ${body}`;
}

function checkServers(inv: Inventory, report: Reporter): void {
  const siteIds = [...inv.sitesById.keys()];
  const hostKeys = new Seen(report);
  for (const s of inv.servers) {
    if (!inv.sitesById.has(s.site)) {
      report("reference.unknown", s.origin, ["site"], s.id, `server ${s.id} is at site "${s.site}" — no such site${didYouMean(s.site, siteIds)}`, "add the site to servers.yaml sites, or fix the id");
    }
    if (s.ssh.hostKey !== undefined) {
      hostKeys.check("uniqueness.ssh-key", keyBody(s.ssh.hostKey), s.origin, ["ssh", "hostKey"], s.id, `server ${s.id}'s host key is the same as another server's`, "a cloned machine keeps its template's host key: regenerate it, then pin the new one");
    }
    if (s.roles.includes("gateway") && s.capacity === undefined) {
      report("schema.missing-field", s.origin, [], s.id, `gateway ${s.id} declares no capacity`, "add capacity: { stations: N } so its load can be checked");
    }
  }
  const memberKeys = new Seen(report);
  for (const m of inv.committee) {
    const parsed = parsePublicKey(m.sshKey);
    const key = parsed.ok ? parsed.fingerprint : keyBody(m.sshKey);
    memberKeys.check("uniqueness.ssh-key", key, m.origin, ["sshKey"], m.id, `member ${m.id}'s SSH key is the same as another member's`, "each member signs off with their own key");
  }
  for (const o of inv.operators) {
    o.interconnects.forEach((ic, index) => {
      if (!inv.sitesById.has(ic.site)) {
        report("reference.unknown", o.origin, ["interconnects", index, "site"], o.id, `operator ${o.id} connects to site "${ic.site}" — no such site${didYouMean(ic.site, siteIds)}`, "use a site id from servers.yaml");
      }
    });
  }
}

function checkPops(inv: Inventory, report: Reporter): void {
  const popIds = [...inv.popsById.keys()];
  for (const p of inv.pops) {
    if (p.backhaul !== undefined && !inv.popsById.has(p.backhaul)) {
      report("reference.unknown", p.origin, ["backhaul"], p.id, `pop ${p.id} is backhauled through "${p.backhaul}" — no such point of presence${didYouMean(p.backhaul, popIds)}`, "use a pop id from operators.yaml");
    }
  }
  for (const p of inv.pops) {
    const chain = [p.id];
    for (let next = p.backhaul; next !== undefined; next = inv.popsById.get(next)?.backhaul) {
      if (next === p.id) {
        report("reference.pop-cycle", p.origin, ["backhaul"], p.id, `backhaul loops: ${[...chain, next].join(" → ")}`, "a backhaul chain must end at a pop with no backhaul");
        break;
      }
      if (chain.includes(next)) break; // a loop further on; reported at its own pops
      chain.push(next);
    }
  }
}

function checkStations(inv: Inventory, report: Reporter): void {
  const operatorIds = [...inv.operatorsById.keys()];
  const popIds = [...inv.popsById.keys()];
  const owners = new Set<string>([...operatorIds, ...ORGANISATIONS]);
  const gatewayIds = inv.servers.filter((s) => s.roles.includes("gateway")).map((s) => s.id);
  for (const station of inv.stations) {
    for (const which of ["primary", "secondary"] as const) {
      const id = station.gateways[which];
      const server = inv.serversById.get(id);
      if (server === undefined) {
        report("reference.unknown", station.origin, ["gateways", which], station.id, `station ${station.id}: ${which} gateway "${id}" — no such server${didYouMean(id, gatewayIds)}`, "use a gateway id from servers.yaml");
      } else if (!server.roles.includes("gateway")) {
        report("reference.not-a-gateway", station.origin, ["gateways", which], station.id, `station ${station.id}: ${which} gateway "${id}" has roles ${server.roles.join(", ")}, not gateway`, "assign a server with the gateway role");
      }
    }
    station.links.forEach((link, index) => {
      const at = ["links", index] as const;
      if (!inv.operatorsById.has(link.operator)) {
        report("reference.unknown", station.origin, [...at, "operator"], station.id, `link ${link.id} names operator "${link.operator}" — no such operator${didYouMean(link.operator, operatorIds)}`, "use an operator id from operators.yaml");
      }
      const pop = inv.popsById.get(link.pop);
      if (pop === undefined) {
        report("reference.unknown", station.origin, [...at, "pop"], station.id, `link ${link.id} depends on "${link.pop}" — no such point of presence${didYouMean(link.pop, popIds)}`, "use a pop id from operators.yaml");
      } else if (inv.operatorsById.has(link.operator) && pop.operator !== link.operator) {
        report("reference.pop-operator", station.origin, [...at, "pop"], station.id, `link ${link.id} is a ${link.operator} link but ${link.pop} belongs to ${pop.operator}`, `use a ${link.operator} pop; if ${link.operator} rides on ${pop.operator}, record that as the pop's backhaul`);
      }
      if (!owners.has(link.lifecycle.owner)) {
        report("reference.unknown", station.origin, [...at, "lifecycle", "owner"], station.id, `link ${link.id} is owned by "${link.lifecycle.owner}" — no such operator or organisation${didYouMean(link.lifecycle.owner, owners)}`, `use an operator id or one of ${ORGANISATIONS.join(", ")}`);
      }
    });
  }
}

function checkDistricts(inv: Inventory, report: Reporter): void {
  for (const d of inv.districts) {
    const [first, ...rest] = d.counties;
    if (first === undefined) continue;
    // The district header repeats in each county file; they must agree.
    for (const c of rest) {
      if (normalizeName(c.declared.name) !== normalizeName(first.declared.name)) {
        report("reference.district-mismatch", c.origin, ["name"], d.id, `district ${d.id} is named "${c.declared.name}" here but "${first.declared.name}" at ${where(report.sources, first.origin, "name")}`, "write the same district name in every county file");
      }
      if (c.declared.province !== first.declared.province) {
        report("reference.district-mismatch", c.origin, ["province"], d.id, `district ${d.id} is in province "${c.declared.province}" here but "${first.declared.province}" at ${where(report.sources, first.origin, "province")}`, "write the same province in every county file");
      }
    }
  }
}

function checkWaivers(inv: Inventory, report: Reporter): void {
  const memberIds = [...inv.membersById.keys()];
  const known = new Set<string>([
    inv.election.id,
    ...inv.stationsById.keys(),
    ...inv.linksById.keys(),
    ...inv.serversById.keys(),
    ...inv.operatorsById.keys(),
    ...inv.popsById.keys(),
    ...inv.sitesById.keys(),
    ...inv.districtsById.keys(),
  ]);
  for (const w of inv.waivers) {
    if (!inv.membersById.has(w.approvedBy)) {
      report("reference.unknown", w.origin, ["approvedBy"], w.id, `waiver ${w.id} is approved by "${w.approvedBy}" — no such committee member${didYouMean(w.approvedBy, memberIds)}`, "only a member listed in governance/committee.yaml can approve a waiver");
    }
    if (!known.has(w.item)) {
      const hint = w.item.length <= 24 ? didYouMean(w.item, [...inv.stationsById.keys()].filter((k) => k.length === w.item.length)) : "";
      report("reference.unknown", w.origin, ["item"], w.id, `waiver ${w.id} is about "${w.item}" — no such item${hint}`, "name the id the finding names (a station, link, server…)");
    }
  }
}
