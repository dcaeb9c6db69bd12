import type { IsoDate } from "./dates.ts";
import type { CommitteeFile, DistrictFile, ElectionFile, OperatorsFile, ServersFile, WaiversFile } from "./schema/files.ts";
import type { County, District, Inventory, Link, Pop, Station } from "./types.ts";

/** What stage 3 produced: every file read against its schema. */
export interface ParsedFiles {
  readonly election: ElectionFile;
  readonly operators: OperatorsFile;
  readonly servers: ServersFile;
  readonly districts: readonly { readonly file: string; readonly data: DistrictFile }[];
  readonly waivers: WaiversFile;
  readonly committee: CommitteeFile;
}

/**
 * Put the files together into the typed inventory and its lookup maps. When an
 * id is used twice the first wins here; stage 4 reports the second.
 */
export function assemble(files: ParsedFiles, today: IsoDate): Inventory {
  const { election, policy, milestones } = files.election;
  const pops: Pop[] = files.operators.operators.flatMap((o) => o.pops.map((p) => ({ ...p, operator: o.id })));
  const districts = new Map<string, { id: string; name: string; province: string; counties: County[] }>();
  const stations: Station[] = [];
  for (const { file, data } of files.districts) {
    const header = data.district;
    // The schema stage made these objects for this file alone: placing them in place saves a copy of 60,000 stations.
    const placed: Station[] = [];
    for (const s of data.stations) {
      const station = Object.assign(s, { district: header.id, county: header.county.id });
      placed.push(station);
      stations.push(station);
    }
    let district = districts.get(header.id);
    if (district === undefined) {
      district = { id: header.id, name: header.name, province: header.province, counties: [] };
      districts.set(header.id, district);
    }
    district.counties.push({
      id: header.county.id,
      name: header.county.name,
      file,
      technicians: header.technicians,
      stations: placed,
      declared: { name: header.name, province: header.province },
      origin: header.origin,
    });
  }
  const linksById = new Map<string, { link: Link; station: Station }>();
  for (const station of stations) for (const link of station.links) if (!linksById.has(link.id)) linksById.set(link.id, { link, station });
  const districtList: District[] = [...districts.values()];
  return {
    election: { ...election, policy, milestones },
    operators: files.operators.operators,
    pops,
    sites: files.servers.sites,
    servers: files.servers.servers,
    districts: districtList,
    stations,
    waivers: files.waivers.waivers,
    committee: files.committee.committee,
    operatorsById: byId(files.operators.operators),
    popsById: byId(pops),
    sitesById: byId(files.servers.sites),
    serversById: byId(files.servers.servers),
    districtsById: byId(districtList),
    stationsById: byId(stations),
    linksById,
    membersById: byId(files.committee.committee),
    today,
  };
}

function byId<T extends { readonly id: string }>(items: readonly T[]): Map<string, T> {
  const map = new Map<string, T>();
  for (const item of items) if (!map.has(item.id)) map.set(item.id, item);
  return map;
}
