import type { IsoDate } from "./dates.ts";
import type { Infer } from "./schema/core.ts";
import type { districtFile, electionFile, link, member, milestone, operator, pop, policy, server, site, station, waiver } from "./schema/files.ts";
import type { Origin } from "./source.ts";

/**
 * The typed inventory: the contract every other layer consumes (ADR 0002).
 * Every type here is derived from a schema in schema/files.ts; the few fields
 * the loader adds (where an item sits) are spelled out.
 */

export type Milestone = Infer<typeof milestone>;
export type CriterionId = Milestone["criteria"][number];
export type Policy = Infer<typeof policy>;
export type ElectionDecl = Infer<typeof electionFile>["election"];
export type Election = ElectionDecl & {
  readonly policy: Policy;
  readonly milestones: readonly Milestone[];
};

export type Operator = Infer<typeof operator>;
/** A point of presence, with the operator that runs it. */
export type Pop = Infer<typeof pop> & { readonly operator: string };
export type Site = Infer<typeof site>;
export type Server = Infer<typeof server>;
export type Role = Server["roles"][number];
export type Link = Infer<typeof link>;
export type LinkState = Link["lifecycle"]["state"];
export type StationDecl = Infer<typeof station>;
/** A station, with the district and county whose file declares it. */
export type Station = StationDecl & { readonly district: string; readonly county: string };
export type Waiver = Infer<typeof waiver>;
export type Member = Infer<typeof member>;
export type Technician = Infer<typeof districtFile>["district"]["technicians"][number];

/** One county's file of an electoral district. */
export interface County {
  readonly id: string;
  readonly name: string;
  readonly file: string;
  readonly technicians: readonly Technician[];
  readonly stations: readonly Station[];
  /** The district's name and province as this county's file wrote them. */
  readonly declared: { readonly name: string; readonly province: string };
  /** The file's district header. */
  readonly origin: Origin;
}

/** An electoral district (حوزه انتخابیه): one or more counties, one file each. */
export interface District {
  readonly id: string;
  readonly name: string;
  readonly province: string;
  readonly counties: readonly County[];
}

export interface Inventory {
  readonly election: Election;
  readonly operators: readonly Operator[];
  readonly pops: readonly Pop[];
  readonly sites: readonly Site[];
  readonly servers: readonly Server[];
  readonly districts: readonly District[];
  /** Every station of every district, in file order. */
  readonly stations: readonly Station[];
  readonly waivers: readonly Waiver[];
  readonly committee: readonly Member[];
  readonly operatorsById: ReadonlyMap<string, Operator>;
  readonly popsById: ReadonlyMap<string, Pop>;
  readonly sitesById: ReadonlyMap<string, Site>;
  readonly serversById: ReadonlyMap<string, Server>;
  readonly districtsById: ReadonlyMap<string, District>;
  readonly stationsById: ReadonlyMap<string, Station>;
  /** Every link by id, with its station. */
  readonly linksById: ReadonlyMap<string, { readonly link: Link; readonly station: Station }>;
  readonly membersById: ReadonlyMap<string, Member>;
  /** The day rules were checked against (lifecycle, waivers). */
  readonly today: IsoDate;
}

export type { CommitteeFile, DistrictFile, ElectionFile, OperatorsFile, ServersFile, WaiversFile } from "./schema/files.ts";
export type { IsoDate } from "./dates.ts";
export type { Origin } from "./source.ts";
