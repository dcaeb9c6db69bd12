import { RULE_IDS } from "../rules.ts";
import { boolean, type Infer, list, number, object, oneOf, optional, required, text, withDefault } from "./core.ts";
import { cidr, date, fingerprint, id, ipv4, phone, publicKey, timeZone } from "./scalars.ts";

/**
 * The schema of every inventory file: the single source of the model's types
 * (see types.ts) and of docs/inventory.md's field tables. Field docs are the
 * hints a "missing field" finding gives.
 */

/** A field name that looks like a secret is a `security.secret` finding, not a typo. */
export const looksLikeSecret = (name: string): boolean => /pass(word|wd|phrase)?$|secret|token|private_?key|privatekey|api_?key|credential/i.test(name);

const closed = { secretField: looksLikeSecret } as const;

// election.yaml ---------------------------------------------------------------

/**
 * The readiness criteria a milestone may name. The model owns the vocabulary (so
 * `validate` reports an unknown id with "did you mean"); src/readiness/criteria.ts
 * implements each one, and a test keeps the two lists identical.
 */
export const CRITERIA = [
  "links-declared",
  "links-ordered",
  "links-live",
  "links-live-by-committed",
  "fixed-diverse-paths",
  "gateways-up",
  "dns-up",
  "ntp-in-sync",
  "central-roles-n-plus-1",
  "certificates-valid",
  "devices-checked-in",
  "no-blind-spot",
  "no-unwaived-drift",
  "election-day-sign-off",
] as const;

export const milestone = object(
  {
    id: required(id(), "an id such as T-30"),
    name: optional(text(), "a name, Persian or English"),
    due: required(date(), "the date by which the criteria must hold"),
    criteria: withDefault(list(oneOf(CRITERIA)), [], "ids of the readiness criteria that must hold by then (docs/readiness.md)"),
    thresholds: withDefault(
      list(
        object(
          {
            criterion: required(oneOf(CRITERIA), "the criterion id"),
            min: required(number({ min: 0, max: 100, unit: "%" }), "the share (%) that must pass; default 100"),
          },
          closed,
        ),
      ),
      [],
      "per-criterion minimum shares, e.g. { criterion: links-live, min: 98 }",
    ),
    maxAgeHours: withDefault(number({ min: 1, max: 8760, integer: true, unit: "h" }), 24, "results and approvals older than this cannot be judged"),
    maxUnknownPercent: withDefault(number({ min: 0, max: 100, unit: "%" }), 5, "more `unknown` results than this share: the gate cannot judge"),
    checkinsSince: optional(date(), "devices must have checked in since this day (default: 7 days before due)"),
    signoff: optional(
      object({ required: required(number({ min: 1, max: 100, integer: true }), "how many committee members must approve") }, closed),
      "committee sign-off this milestone needs",
    ),
  },
  { ...closed, id: "id", origin: true },
);

/** The widest range the committee may open a central service to (`policy.serviceRanges`): a /8, as 10.0.0.0/8. */
export const WIDEST_SERVICE_RANGE = 8;
/** The widest carrier-NAT egress range an operator may declare: a /16 (65,536 addresses) is already a national pool. */
export const WIDEST_EGRESS = 16;

/** RFC 1918 and the shared carrier-NAT space (RFC 6598): where station links live unless the committee says more. */
export const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"] as const;

export const policy = object(
  {
    blindSpotDbm: withDefault(number({ min: -150, max: -30, unit: "dBm" }), -110, "a mobile link surveyed below this signal (dBm) is a blind spot"),
    certMarginDays: withDefault(number({ min: 0, max: 365, integer: true, unit: "days" }), 14, "certificates must stay valid this many days past election day"),
    serviceRanges: withDefault(
      list(cidr({ widest: WIDEST_SERVICE_RANGE, why: "a range the central services answer is part of the election's own address space, never the internet" })),
      [...PRIVATE_RANGES],
      "the only address space the central services (DNS, NTP) may answer: " +
        "every operator's egress and every link address's /24 must lie inside (default: the private ranges). " +
        "The committee decides it (issue 13)",
    ),
  },
  closed,
);

export const electionFile = object(
  {
    election: required(
      object(
        {
          id: required(id(), "an id such as majles-1404"),
          name: required(text(), "the election's name"),
          day: required(date(), "election day, ISO or Jalali"),
          timeZone: withDefault(timeZone(), "Asia/Tehran", "the IANA time zone of the election"),
          changeFreeze: optional(date(), "from this day production `up` needs the committee's approval"),
        },
        { ...closed, id: "id", origin: true },
      ),
      "the election",
    ),
    policy: withDefault(policy, { blindSpotDbm: -110, certMarginDays: 14, serviceRanges: [...PRIVATE_RANGES] }, "policy thresholds"),
    milestones: withDefault(list(milestone), [], "readiness milestones"),
  },
  closed,
);

// operators.yaml --------------------------------------------------------------

export const POP_KINDS = ["exchange", "tower", "olt", "cabinet", "ix"] as const;

export const pop = object(
  {
    id: required(id(), "a globally unique id such as EX-PKD-01"),
    name: optional(text(), "a name"),
    kind: required(oneOf(POP_KINDS), POP_KINDS.join(" | ")),
    backhaul: optional(id(), "the pop (of any operator) this one depends on, e.g. a tower's exchange"),
  },
  { ...closed, id: "id", origin: true },
);

export const INTERCONNECT_KINDS = ["direct", "vpn", "ix"] as const;

export const interconnect = object(
  {
    site: required(id(), "the central site"),
    kind: required(oneOf(INTERCONNECT_KINDS), INTERCONNECT_KINDS.join(" | ")),
    capacityMbps: optional(number({ min: 1, max: 1_000_000, integer: true, unit: "Mbit/s" }), "capacity"),
  },
  closed,
);

export const operator = object(
  {
    id: required(id(), "an id such as tci, mci, irancell"),
    name: required(text(), "the operator's name"),
    kind: required(oneOf(["fixed", "mobile"] as const), "fixed | mobile"),
    apn: optional(text(), "the private APN stations use"),
    egress: withDefault(
      list(cidr({ widest: WIDEST_EGRESS, why: "an operator's carrier-NAT pool toward the election network" })),
      [],
      `carrier-NAT egress ranges (CIDR, /${WIDEST_EGRESS} or narrower)`,
    ),
    interconnects: withDefault(list(interconnect), [], "how the operator reaches the central sites"),
    pops: withDefault(list(pop), [], "points of presence: exchanges, towers"),
  },
  { ...closed, id: "id", origin: true },
);

export const operatorsFile = object({ operators: required(list(operator, { min: 1 }), "the operators") }, closed);

// servers.yaml ----------------------------------------------------------------

export const ROLES = ["gateway", "dns", "ntp", "monitor", "pki", "auth", "tally", "registry", "bastion"] as const;

export const site = object(
  {
    id: required(id(), "an id such as DC-TEH-1"),
    name: required(text(), "the site's name"),
    city: optional(text(), "the city"),
  },
  { ...closed, id: "id", origin: true },
);

export const server = object(
  {
    id: required(id(), "an id such as gw-teh-01"),
    name: optional(text(), "a name"),
    roles: required(list(oneOf(ROLES), { min: 1 }), ROLES.join(" | ")),
    address: required(ipv4(), "the management address"),
    site: required(id(), "the site it is in"),
    ssh: required(
      object(
        {
          user: withDefault(text(), "amadegi", "the SSH user"),
          port: withDefault(number({ min: 1, max: 65535, integer: true }), 22, "the SSH port"),
          // Optional in the schema so that a missing key is the security finding, not a typo.
          hostKey: optional(publicKey(), "the pinned SSH host key, as `ssh-keyscan` prints it"),
        },
        closed,
      ),
      "the SSH connection",
    ),
    capacity: optional(
      object(
        {
          stations: required(number({ min: 1, max: 100_000, integer: true }), "stations it can serve"),
          handshakesPerSecond: optional(number({ min: 1, max: 1_000_000, integer: true }), "TLS handshakes per second"),
        },
        closed,
      ),
      "capacity, for gateways",
    ),
  },
  { ...closed, id: "id", origin: true },
);

export const serversFile = object(
  {
    sites: required(list(site, { min: 1 }), "the central sites"),
    servers: required(list(server, { min: 1 }), "the central servers"),
  },
  closed,
);

// districts/*.yaml ------------------------------------------------------------

export const SITE_OWNERS = ["education", "municipality", "mosque", "governorate", "health", "other"] as const;
export const MEDIA = ["fiber", "copper", "mobile", "satellite", "radio"] as const;
export const LINK_STATES = ["planned", "ordered", "installed", "live", "retired"] as const;

export const technician = object(
  {
    name: required(text(), "the technician's name"),
    phone: required(phone(), "a phone number"),
    role: optional(text(), "e.g. network, devices"),
  },
  closed,
);

export const link = object(
  {
    id: required(id(), "an id such as PKD-0031-F"),
    medium: required(oneOf(MEDIA), MEDIA.join(" | ")),
    operator: required(id(), "the operator's id"),
    pop: required(id(), "the point of presence (exchange, tower) it depends on"),
    circuit: optional(text({ max: 64 }), "the operator's circuit id"),
    address: optional(ipv4(), "the station-side address, where one is routable"),
    survey: optional(
      object(
        {
          signalDbm: required(number({ min: -150, max: -20, unit: "dBm" }), "surveyed signal strength"),
          date: optional(date(), "when it was surveyed"),
        },
        closed,
      ),
      "the mobile signal survey",
    ),
    lifecycle: required(
      object(
        {
          state: required(oneOf(LINK_STATES), LINK_STATES.join(" → ")),
          committed: optional(date(), "the date the owner committed to have it live"),
          owner: required(id(), "who is responsible: an operator id, municipality, education, governorate"),
        },
        closed,
      ),
      "the lifecycle",
    ),
  },
  { ...closed, id: "id", origin: true },
);

export const station = object(
  {
    id: required(id(), "an id such as PKD-0031"),
    name: required(text(), "the station's name, Persian"),
    kind: required(oneOf(["fixed", "mobile"] as const), "fixed | mobile (سیار)"),
    setting: required(oneOf(["urban", "rural"] as const), "urban | rural"),
    location: required(
      object(
        {
          lat: required(number({ min: 24, max: 40, unit: "°N (Iran)" }), "latitude"),
          lon: required(number({ min: 44, max: 64, unit: "°E (Iran)" }), "longitude"),
        },
        closed,
      ),
      "lat and lon",
    ),
    siteOwner: required(oneOf(SITE_OWNERS), SITE_OWNERS.join(" | ")),
    gateways: required(
      object({ primary: required(id(), "a gateway server id"), secondary: required(id(), "a gateway on another site") }, closed),
      "primary and secondary gateway",
    ),
    device: required(
      object(
        {
          serial: required(text({ max: 64 }), "the authentication device's serial"),
          fingerprint: required(fingerprint(), "its public key's SHA256 fingerprint"),
          spares: withDefault(number({ min: 0, max: 20, integer: true }), 0, "spare devices kept at the station"),
          ups: withDefault(boolean(), false, "whether the station has a UPS"),
        },
        closed,
      ),
      "the authentication device",
    ),
    links: required(list(link, { min: 1 }), "the station's links"),
  },
  { ...closed, id: "id", origin: true },
);

export const districtFile = object(
  {
    district: required(
      object(
        {
          id: required(id(), "the electoral district's id, e.g. pakdasht"),
          name: required(text(), "its name"),
          province: required(id(), "the province's id, e.g. tehran"),
          county: required(object({ id: required(id(), "the county's id"), name: required(text(), "its name") }, closed), "the county this file covers"),
          technicians: withDefault(list(technician), [], "technicians on call"),
        },
        { ...closed, id: "id", origin: true },
      ),
      "the district header",
    ),
    stations: required(list(station, { min: 1 }), "the stations"),
  },
  closed,
);

// waivers.yaml ----------------------------------------------------------------

export const waiver = object(
  {
    id: required(id(), "an id such as W-001"),
    rule: required(oneOf(RULE_IDS), "the rule id it accepts"),
    item: required(id(), "the id of the item the finding names"),
    reason: required(text({ min: 3, max: 1000 }), "why it is accepted"),
    approvedBy: required(id(), "the committee member who approved it"),
    until: required(date(), "the last day it counts"),
  },
  { ...closed, id: "id", origin: true },
);

export const waiversFile = object({ waivers: withDefault(list(waiver), [], "accepted deficiencies") }, closed);

// governance/committee.yaml -----------------------------------------------------

export const member = object(
  {
    id: required(id(), "an id such as m-rahimi"),
    name: required(text(), "the member's name"),
    role: required(oneOf(["chair", "secretary", "member"] as const), "chair | secretary | member"),
    level: required(oneOf(["county", "province", "national"] as const), "county | province | national"),
    sshKey: required(publicKey(), "the SSH public key used to sign off"),
  },
  { ...closed, id: "id", origin: true },
);

export const committeeFile = object({ committee: required(list(member, { min: 1 }), "the committee members") }, closed);

export type ElectionFile = Infer<typeof electionFile>;
export type OperatorsFile = Infer<typeof operatorsFile>;
export type ServersFile = Infer<typeof serversFile>;
export type DistrictFile = Infer<typeof districtFile>;
export type WaiversFile = Infer<typeof waiversFile>;
export type CommitteeFile = Infer<typeof committeeFile>;
