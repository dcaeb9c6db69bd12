import { normalizeName } from "./normalize.ts";
import { type Reporter, where } from "./report.ts";
import type { RuleId } from "./rules.ts";
import type { Origin } from "./source.ts";
import { parsePublicKey } from "./sshkey.ts";
import { didYouMean } from "./suggest.ts";
import type { Inventory } from "./types.ts";

/**
 * Stage 4, references and uniqueness across files. Ids are compared
 * case-insensitively, names after Persian normalization. At national size
 * this runs over 200,000 items: nothing is allocated per item unless it has
 * a finding.
 */

/** Organisations that may own a link's lifecycle besides the operators. */
export const ORGANISATIONS = ["municipality", "education", "governorate", "it-committee"] as const;

/** The first item that used each key. */
class Seen<T> {
  private readonly first = new Map<string, T>();
  /** Returns the earlier item with this key, if any; otherwise takes the key. */
  claim(key: string, item: T): T | undefined {
    const prior = this.first.get(key);
    if (prior === undefined) this.first.set(key, item);
    return prior;
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

/**
 * The case-insensitive key of an ASCII id or code. Most ids are already upper
 * case (PKD-0031): those are their own key, with no new string made.
 */
export function caseKey(id: string): string {
  return /[a-z]/.test(id) ? id.toUpperCase() : id;
}

interface Placed {
  readonly id: string;
  readonly origin: Origin;
}

function unique<T extends Placed>(
  report: Reporter,
  rule: RuleId,
  items: Iterable<T>,
  key: (item: T) => string | undefined,
  path: readonly (string | number)[],
  message: (item: T) => string,
  hint: string,
): void {
  const seen = new Seen<T>();
  for (const item of items) {
    const k = key(item);
    if (k === undefined) continue;
    const prior = seen.claim(k, item);
    if (prior !== undefined)
      report(rule, item.origin, path, item.id, `${message(item)}, already used at ${where(report.sources, prior.origin, ...path)}`, hint);
  }
}

function checkIds(inv: Inventory, report: Reporter): void {
  const ids = (kind: string, items: Iterable<Placed>, hint = `give this ${kind} another id`) =>
    unique(
      report,
      "uniqueness.id",
      items,
      (i) => caseKey(i.id),
      ["id"],
      (i) => `${kind} id "${i.id}" is used twice`,
      hint,
    );
  ids("milestone", inv.election.milestones);
  ids("operator", inv.operators);
  ids("point-of-presence", inv.pops);
  ids("site", inv.sites);
  ids("server", inv.servers);
  ids("station", inv.stations);
  ids("waiver", inv.waivers);
  ids("committee member", inv.committee);
  const links = new Seen<Origin>();
  for (const station of inv.stations) {
    for (const link of station.links) {
      const prior = links.claim(caseKey(link.id), link.origin);
      if (prior !== undefined) {
        report(
          "uniqueness.id",
          link.origin,
          ["id"],
          station.id,
          `link id "${link.id}" is used twice, already used at ${where(report.sources, prior, "id")}`,
          "give this link another id, e.g. <station>-F2",
        );
      }
    }
  }
  const counties = new Seen<Origin>();
  for (const d of inv.districts) {
    for (const c of d.counties) {
      const prior = counties.claim(caseKey(`${d.id}/${c.id}`), c.origin);
      if (prior !== undefined) {
        report(
          "uniqueness.id",
          c.origin,
          ["county"],
          d.id,
          `county "${c.id}" of district "${d.id}" is declared by two files, already at ${where(report.sources, prior, "county")}`,
          "keep one file per county, or merge them",
        );
      }
    }
  }
}

function checkNames(inv: Inventory, report: Reporter): void {
  const names = (kind: string, items: readonly (Placed & { readonly name?: string })[]) =>
    unique(
      report,
      "uniqueness.name",
      items,
      (i) => (i.name === undefined ? undefined : normalizeName(i.name)),
      ["name"],
      (i) => `${kind} name "${i.name}" is the same as another ${kind}'s once Persian spelling is normalized`,
      `tell the two ${kind}s apart in their names`,
    );
  names("operator", inv.operators);
  names("site", inv.sites);
  names("committee member", inv.committee);
  const firsts = inv.districts.flatMap((d) => {
    const c = d.counties[0];
    return c === undefined ? [] : [{ id: d.id, name: d.name, origin: c.origin }];
  });
  names("district", firsts);
  for (const d of inv.districts) {
    for (const c of d.counties) {
      unique(
        report,
        "uniqueness.station-name",
        c.stations,
        (s) => normalizeName(s.name),
        ["name"],
        (s) => `station name "${s.name}" is the same as another station's in ${c.name} once Persian spelling is normalized`,
        "add what tells them apart (e.g. the neighbourhood), or record a waiver if they truly share a name",
      );
    }
  }
}

function checkAddressesAndDevices(inv: Inventory, report: Reporter): void {
  // Addresses are strict dotted quads (no leading zeros), so the text is canonical.
  const addresses = new Seen<{ origin: Origin; path: readonly (string | number)[] }>();
  const taken = (address: string, origin: Origin, path: readonly (string | number)[]) => {
    const prior = addresses.claim(address, { origin, path });
    return prior === undefined ? undefined : where(report.sources, prior.origin, ...prior.path);
  };
  for (const s of inv.servers) {
    const prior = taken(s.address, s.origin, ["address"]);
    if (prior !== undefined)
      report(
        "uniqueness.address",
        s.origin,
        ["address"],
        s.id,
        `address ${s.address} is used twice, already at ${prior}`,
        "no two endpoints may share an address",
      );
  }
  const circuits = new Map<string, Seen<Origin>>();
  for (const station of inv.stations) {
    station.links.forEach((link, index) => {
      if (link.address !== undefined) {
        const prior = addresses.claim(link.address, { origin: station.origin, path: ["links", index, "address"] });
        if (prior !== undefined) {
          report(
            "uniqueness.address",
            station.origin,
            ["links", index, "address"],
            station.id,
            `link ${link.id}: address ${link.address} is used twice, already at ${where(report.sources, prior.origin, ...prior.path)}`,
            "no two endpoints may share an address; check the operator's assignment",
          );
        }
      }
      if (link.circuit !== undefined) {
        let ofOperator = circuits.get(link.operator);
        if (ofOperator === undefined) {
          ofOperator = new Seen<Origin>();
          circuits.set(link.operator, ofOperator);
        }
        const prior = ofOperator.claim(caseKey(link.circuit.trim()), link.origin);
        if (prior !== undefined) {
          report(
            "uniqueness.circuit",
            link.origin,
            ["circuit"],
            station.id,
            `link ${link.id}: circuit ${link.circuit} of ${link.operator} is used twice, already at ${where(report.sources, prior, "circuit")}`,
            "a circuit is one physical line; check the operator's order",
          );
        }
      }
    });
  }
  unique(
    report,
    "uniqueness.device-serial",
    inv.stations,
    (s) => caseKey(s.device.serial.trim()),
    ["device", "serial"],
    (s) => `device serial ${s.device.serial} is used twice`,
    "one device per station; check the serial on the device's label",
  );
  unique(
    report,
    "uniqueness.device-key",
    inv.stations,
    (s) => s.device.fingerprint,
    ["device", "fingerprint"],
    () => "device key fingerprint is used twice",
    "each device has its own key; a shared key means a cloned or mistyped device",
  );
}

function keyBody(key: string): string {
  const parsed = parsePublicKey(key);
  return parsed.ok ? parsed.fingerprint : key;
}

function checkServers(inv: Inventory, report: Reporter): void {
  const siteIds = [...inv.sitesById.keys()];
  unique(
    report,
    "uniqueness.ssh-key",
    inv.servers,
    (s) => (s.ssh.hostKey === undefined ? undefined : keyBody(s.ssh.hostKey)),
    ["ssh", "hostKey"],
    (s) => `server ${s.id}'s host key is the same as another server's`,
    "a cloned machine keeps its template's host key: regenerate it, then pin the new one",
  );
  unique(
    report,
    "uniqueness.ssh-key",
    inv.committee,
    (m) => keyBody(m.sshKey),
    ["sshKey"],
    (m) => `member ${m.id}'s SSH key is the same as another member's`,
    "each member signs off with their own key",
  );
  for (const s of inv.servers) {
    if (!inv.sitesById.has(s.site)) {
      report(
        "reference.unknown",
        s.origin,
        ["site"],
        s.id,
        `server ${s.id} is at site "${s.site}" — no such site${didYouMean(s.site, siteIds)}`,
        "add the site to servers.yaml sites, or fix the id",
      );
    }
    if (s.roles.includes("gateway") && s.capacity === undefined) {
      report("schema.missing-field", s.origin, [], s.id, `gateway ${s.id} declares no capacity`, "add capacity: { stations: N } so its load can be checked");
    }
  }
  for (const o of inv.operators) {
    o.interconnects.forEach((ic, index) => {
      if (!inv.sitesById.has(ic.site)) {
        report(
          "reference.unknown",
          o.origin,
          ["interconnects", index, "site"],
          o.id,
          `operator ${o.id} connects to site "${ic.site}" — no such site${didYouMean(ic.site, siteIds)}`,
          "use a site id from servers.yaml",
        );
      }
    });
  }
}

function checkPops(inv: Inventory, report: Reporter): void {
  const popIds = () => [...inv.popsById.keys()];
  for (const p of inv.pops) {
    if (p.backhaul !== undefined && !inv.popsById.has(p.backhaul)) {
      report(
        "reference.unknown",
        p.origin,
        ["backhaul"],
        p.id,
        `pop ${p.id} is backhauled through "${p.backhaul}" — no such point of presence${didYouMean(p.backhaul, popIds())}`,
        "use a pop id from operators.yaml",
      );
    }
  }
  for (const p of inv.pops) {
    const chain = [p.id];
    for (let next = p.backhaul; next !== undefined; next = inv.popsById.get(next)?.backhaul) {
      if (next === p.id) {
        report(
          "reference.pop-cycle",
          p.origin,
          ["backhaul"],
          p.id,
          `backhaul loops: ${[...chain, next].join(" → ")}`,
          "a backhaul chain must end at a pop with no backhaul",
        );
        break;
      }
      if (chain.includes(next)) break; // a loop further on; reported at its own pops
      chain.push(next);
    }
  }
}

function checkStations(inv: Inventory, report: Reporter): void {
  const operatorIds = () => [...inv.operatorsById.keys()];
  const popIds = () => [...inv.popsById.keys()];
  const gatewayIds = () => inv.servers.filter((s) => s.roles.includes("gateway")).map((s) => s.id);
  const owners = new Set<string>([...inv.operatorsById.keys(), ...ORGANISATIONS]);
  for (const station of inv.stations) {
    for (const which of ["primary", "secondary"] as const) {
      const id = station.gateways[which];
      const server = inv.serversById.get(id);
      if (server === undefined) {
        report(
          "reference.unknown",
          station.origin,
          ["gateways", which],
          station.id,
          `station ${station.id}: ${which} gateway "${id}" — no such server${didYouMean(id, gatewayIds())}`,
          "use a gateway id from servers.yaml",
        );
      } else if (!server.roles.includes("gateway")) {
        report(
          "reference.not-a-gateway",
          station.origin,
          ["gateways", which],
          station.id,
          `station ${station.id}: ${which} gateway "${id}" has roles ${server.roles.join(", ")}, not gateway`,
          "assign a server with the gateway role",
        );
      }
    }
    station.links.forEach((link, index) => {
      if (!inv.operatorsById.has(link.operator)) {
        report(
          "reference.unknown",
          station.origin,
          ["links", index, "operator"],
          station.id,
          `link ${link.id} names operator "${link.operator}" — no such operator${didYouMean(link.operator, operatorIds())}`,
          "use an operator id from operators.yaml",
        );
      }
      const pop = inv.popsById.get(link.pop);
      if (pop === undefined) {
        report(
          "reference.unknown",
          station.origin,
          ["links", index, "pop"],
          station.id,
          `link ${link.id} depends on "${link.pop}" — no such point of presence${didYouMean(link.pop, popIds())}`,
          "use a pop id from operators.yaml",
        );
      } else if (inv.operatorsById.has(link.operator) && pop.operator !== link.operator) {
        report(
          "reference.pop-operator",
          station.origin,
          ["links", index, "pop"],
          station.id,
          `link ${link.id} is a ${link.operator} link but ${link.pop} belongs to ${pop.operator}`,
          `use a ${link.operator} pop; if ${link.operator} rides on ${pop.operator}, record that as the pop's backhaul`,
        );
      }
      if (!owners.has(link.lifecycle.owner)) {
        report(
          "reference.unknown",
          station.origin,
          ["links", index, "lifecycle", "owner"],
          station.id,
          `link ${link.id} is owned by "${link.lifecycle.owner}" — no such operator or organisation${didYouMean(link.lifecycle.owner, owners)}`,
          `use an operator id or one of ${ORGANISATIONS.join(", ")}`,
        );
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
        report(
          "reference.district-mismatch",
          c.origin,
          ["name"],
          d.id,
          `district ${d.id} is named "${c.declared.name}" here but "${first.declared.name}" at ${where(report.sources, first.origin, "name")}`,
          "write the same district name in every county file",
        );
      }
      if (c.declared.province !== first.declared.province) {
        report(
          "reference.district-mismatch",
          c.origin,
          ["province"],
          d.id,
          `district ${d.id} is in province "${c.declared.province}" here ` +
            `but "${first.declared.province}" at ${where(report.sources, first.origin, "province")}`,
          "write the same province in every county file",
        );
      }
    }
  }
}

/** Whether an id names anything a finding can be about. */
function isKnownItem(inv: Inventory, id: string): boolean {
  return (
    id === inv.election.id ||
    inv.stationsById.has(id) ||
    inv.linksById.has(id) ||
    inv.serversById.has(id) ||
    inv.operatorsById.has(id) ||
    inv.popsById.has(id) ||
    inv.sitesById.has(id) ||
    inv.districtsById.has(id) ||
    inv.membersById.has(id) ||
    inv.waivers.some((w) => w.id === id)
  );
}

function checkWaivers(inv: Inventory, report: Reporter): void {
  const memberIds = [...inv.membersById.keys()];
  for (const w of inv.waivers) {
    if (!inv.membersById.has(w.approvedBy)) {
      report(
        "reference.unknown",
        w.origin,
        ["approvedBy"],
        w.id,
        `waiver ${w.id} is approved by "${w.approvedBy}" — no such committee member${didYouMean(w.approvedBy, memberIds)}`,
        "only a member listed in governance/committee.yaml can approve a waiver",
      );
    }
    if (!isKnownItem(inv, w.item)) {
      const near = didYouMean(
        w.item,
        [...inv.stationsById.keys(), ...inv.linksById.keys()].filter((k) => Math.abs(k.length - w.item.length) <= 1),
      );
      report(
        "reference.unknown",
        w.origin,
        ["item"],
        w.id,
        `waiver ${w.id} is about "${w.item}" — no such item${near}`,
        "name the id the finding names (a station, link, server…)",
      );
    }
  }
}
