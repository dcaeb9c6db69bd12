import { createHash } from "node:crypto";
import { readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../lib/fs.ts";
import { type Finding, type Inventory, type IsoDate, loadInventory, type Origin, RULES, type Station } from "../model/index.ts";

/**
 * The gate's view of the inventory, with a snapshot cache. Validating a
 * national inventory (60 MB of YAML) takes seconds; the gate runs after every
 * campaign and in CI, mostly on an inventory that has not changed. So the
 * validated inventory is kept as JSON under the state directory, keyed by
 * every inventory file's path, size, inode and modification time (ns), the
 * committee file's, the day judged and amadegi's model code: any change to any
 * of them is a miss and a full validation. A snapshot holds the validated data and the error findings, never
 * anything the files do not (so no secret can enter it that is not in git).
 *
 * A snapshot is two files: its head (the election, waivers, committee, counts and errors: a few
 * kilobytes, all a gate answered from the measures cache reads, ADR 0016) and its body (stations,
 * operators, points of presence, sites, servers: 25 MB at national size), read only when a
 * criterion is measured or a report drawn.
 */

/** Bump when the snapshot's layout changes. */
const SNAPSHOT_VERSION = 3;
const MODEL_DIR = join(import.meta.dirname, "..", "model");

/** What the gate reads of the inventory itself, beside the criteria's measures. */
export interface InventoryHead {
  readonly election: Inventory["election"];
  readonly waivers: Inventory["waivers"];
  readonly committee: Inventory["committee"];
  readonly counts: { readonly stations: number; readonly links: number; readonly servers: number };
}

export interface GateInventory {
  /** Absent: the inventory does not load (errors say why). */
  readonly head?: InventoryHead;
  /** The whole validated inventory (from a snapshot, its body is read now); throws when it does not load. */
  full(): Promise<Inventory>;
  /** The snapshot's key (inventoryKey), when a cache directory was given. */
  readonly key?: string;
  /** Error findings not accepted by a waiver (all of them when loaded fresh; the first 1,000 from a snapshot). */
  readonly errors: readonly Finding[];
  readonly errorCount: number;
  /** Errors no waiver can accept: schema, references, security. */
  readonly hardErrors: readonly Finding[];
  readonly hardErrorCount: number;
  /** `file:line:col` of a milestone, the election, or a field of one. */
  locate(origin: Origin, ...path: string[]): string;
  readonly fromSnapshot: boolean;
}

export interface GateLoadOptions {
  readonly today?: IsoDate;
  readonly committeeFile?: string;
  /** Where snapshots are kept; absent: always validate afresh. */
  readonly cacheDir?: string;
  /** The snapshot's key when the caller has computed it already (inventoryKey, same options). */
  readonly key?: string;
}

interface SnapshotHead {
  readonly version: number;
  readonly key: string;
  readonly head: InventoryHead;
  readonly today: IsoDate;
  readonly errors: readonly Finding[];
  readonly errorCount: number;
  readonly hardErrors: readonly Finding[];
  readonly hardErrorCount: number;
  readonly locations: Readonly<Record<string, string>>;
}

interface SnapshotBody {
  readonly version: number;
  readonly key: string;
  readonly inventory: Pick<Inventory, "operators" | "pops" | "sites" | "servers"> & {
    readonly districts: readonly (Omit<Inventory["districts"][number], "counties"> & {
      readonly counties: readonly Omit<Inventory["districts"][number]["counties"][number], "stations">[];
    })[];
  };
  /** The stations, column-coded (the end of this file): most of the snapshot's bytes. */
  readonly stations: EncodedStations;
}

const KEEP = 1000;
const locationKey = (origin: Origin, path: readonly string[]) => `${origin.file}#${origin.node}#${path.join(".")}`;

export async function loadForGate(dir: string, options: GateLoadOptions = {}): Promise<GateInventory> {
  const committeeFile = options.committeeFile ?? join(dir, "..", "governance", "committee.yaml");
  const load = { ...(options.today === undefined ? {} : { today: options.today }), committeeFile };
  if (options.cacheDir === undefined) return fresh(await loadInventory(dir, load));
  const key = options.key ?? (await inventoryKey(dir, options));
  const files = snapshotFiles(options.cacheDir, key);
  try {
    // Bytes, then one decode: readFile's "utf8" decodes chunk by chunk, twice as slow on 26 MB of mostly Persian text.
    const snap = JSON.parse((await readFile(files.head)).toString("utf8")) as SnapshotHead;
    if (snap.version === SNAPSHOT_VERSION && snap.key === key) return fromSnapshot(snap, files.body, () => loadInventory(dir, load));
  } catch {
    // No snapshot, or a damaged one: validate afresh.
  }
  const loaded = await loadInventory(dir, load);
  const result = fresh(loaded, key);
  if (loaded.inventory !== undefined) await save(options.cacheDir, files, key, loaded.inventory, result);
  return result;
}

const snapshotFiles = (cacheDir: string, key: string) => {
  const stem = join(cacheDir, `inventory-${key.slice(0, 32)}`);
  return { stem, head: `${stem}.head.json`, body: `${stem}.json` };
};

const headOf = (inv: Inventory): InventoryHead => ({
  election: inv.election,
  waivers: inv.waivers,
  committee: inv.committee,
  counts: { stations: inv.stations.length, links: inv.linksById.size, servers: inv.servers.length },
});

function fresh(loaded: Awaited<ReturnType<typeof loadInventory>>, key?: string): GateInventory {
  const errors = loaded.findings.filter((f) => f.severity === "error" && f.waived === undefined);
  const hard = errors.filter((f) => !RULES[f.rule].waivable);
  const inv = loaded.inventory;
  return {
    ...(inv === undefined ? {} : { head: headOf(inv) }),
    full: () => (inv === undefined ? Promise.reject(new Error("the inventory does not load")) : Promise.resolve(inv)),
    ...(key === undefined ? {} : { key }),
    errors,
    errorCount: errors.length,
    hardErrors: hard,
    hardErrorCount: hard.length,
    locate: (origin, ...path) => {
      const l = loaded.sources.locate(origin, ...path);
      return `${l.file}:${l.line}:${l.col}`;
    },
    fromSnapshot: false,
  };
}

async function save(cacheDir: string, files: ReturnType<typeof snapshotFiles>, key: string, inv: Inventory, result: GateInventory): Promise<void> {
  const locations: Record<string, string> = { [locationKey(inv.election.origin, [])]: result.locate(inv.election.origin) };
  for (const m of inv.election.milestones) {
    locations[locationKey(m.origin, [])] = result.locate(m.origin);
    locations[locationKey(m.origin, ["criteria"])] = result.locate(m.origin, "criteria");
  }
  const stations = encodeStations(inv.stations);
  // A station with a field the codec does not know (a newer schema): no snapshot rather than a lossy one.
  if (stations === undefined) return;
  // The lookup maps are rebuilt on reading; counties' stations are the flat list, grouped again.
  const body: SnapshotBody = {
    version: SNAPSHOT_VERSION,
    key,
    inventory: {
      operators: inv.operators,
      pops: inv.pops,
      sites: inv.sites,
      servers: inv.servers,
      districts: inv.districts.map((d) => ({
        id: d.id,
        name: d.name,
        province: d.province,
        counties: d.counties.map((c) => ({ id: c.id, name: c.name, file: c.file, technicians: c.technicians, declared: c.declared, origin: c.origin })),
      })),
    },
    stations,
  };
  const head: SnapshotHead = {
    version: SNAPSHOT_VERSION,
    key,
    head: headOf(inv),
    today: inv.today,
    errors: result.errors.slice(0, KEEP),
    errorCount: result.errorCount,
    hardErrors: result.hardErrors.slice(0, KEEP),
    hardErrorCount: result.hardErrorCount,
    locations,
  };
  try {
    // Keep one snapshot: the inventory of the last run.
    const mine = files.stem.slice(cacheDir.length + 1);
    for (const name of await readdir(cacheDir).catch(() => [] as string[])) {
      if (name.startsWith("inventory-") && name.endsWith(".json") && !name.startsWith(`${mine}.`)) await rm(join(cacheDir, name), { force: true });
    }
    // The body first: a head is written only beside its body.
    await writeFileAtomic(files.body, JSON.stringify(body));
    await writeFileAtomic(files.head, JSON.stringify(head));
  } catch {
    // A cache that cannot be written costs time, never the verdict.
  }
}

function fromSnapshot(snap: SnapshotHead, bodyFile: string, validate: () => ReturnType<typeof loadInventory>): GateInventory {
  let full: Promise<Inventory> | undefined;
  return {
    head: snap.head,
    full: () =>
      (full ??= readBody(snap, bodyFile).then(
        (inv) =>
          inv ??
          // A body gone or damaged since its head was written: validate afresh (the same files, by the key).
          validate().then((loaded) => {
            if (loaded.inventory === undefined) throw new Error("the inventory does not load");
            return loaded.inventory;
          }),
      )),
    key: snap.key,
    errors: snap.errors,
    errorCount: snap.errorCount,
    hardErrors: snap.hardErrors,
    hardErrorCount: snap.hardErrorCount,
    locate: (origin, ...path) => snap.locations[locationKey(origin, path)] ?? origin.file,
    fromSnapshot: true,
  };
}

async function readBody(head: SnapshotHead, file: string): Promise<Inventory | undefined> {
  let body: SnapshotBody;
  try {
    body = JSON.parse((await readFile(file)).toString("utf8")) as SnapshotBody;
    if (body.version !== SNAPSHOT_VERSION || body.key !== head.key) return undefined;
  } catch {
    return undefined;
  }
  const files = new Map<string, string>();
  for (const d of body.inventory.districts) for (const c of d.counties) files.set(`${d.id}\u0000${c.id}`, c.file);
  const stations = decodeStations(body.stations, files);
  const byCounty = new Map<string, Station[]>();
  for (const station of stations) {
    const k = `${station.district}\u0000${station.county}`;
    const list = byCounty.get(k);
    if (list === undefined) byCounty.set(k, [station]);
    else list.push(station);
  }
  const s = body.inventory;
  const districts = s.districts.map((d) => ({ ...d, counties: d.counties.map((c) => ({ ...c, stations: byCounty.get(`${d.id}\u0000${c.id}`) ?? [] })) }));
  const linksById = new Map<string, { link: Station["links"][number]; station: Station }>();
  for (const station of stations) for (const link of station.links) linksById.set(link.id, { link, station });
  const { election, waivers, committee } = head.head;
  return {
    election,
    operators: s.operators,
    pops: s.pops,
    sites: s.sites,
    servers: s.servers,
    districts,
    stations,
    waivers,
    committee,
    operatorsById: new Map(s.operators.map((o) => [o.id, o])),
    popsById: new Map(s.pops.map((p) => [p.id, p])),
    sitesById: new Map(s.sites.map((x) => [x.id, x])),
    serversById: new Map(s.servers.map((x) => [x.id, x])),
    districtsById: new Map(districts.map((d) => [d.id, d])),
    stationsById: new Map(stations.map((x) => [x.id, x])),
    linksById,
    membersById: new Map(committee.map((m) => [m.id, m])),
    today: head.today,
  };
}

/**
 * The snapshot's key: what the validated inventory depends on, by content or by stat. The gate
 * computes it once and passes it on (GateLoadOptions.key); the measures cache (ADR 0016) is keyed by it too.
 */
export async function inventoryKey(dir: string, options: Pick<GateLoadOptions, "today" | "committeeFile"> = {}): Promise<string> {
  const committeeFile = options.committeeFile ?? join(dir, "..", "governance", "committee.yaml");
  const today = options.today;
  const hash = createHash("sha256");
  hash.update(`amadegi-inventory-snapshot ${SNAPSHOT_VERSION}\n${dir}\n${committeeFile}\n${today ?? "today"}\n`);
  // Without --date, "today" moves: key on the day itself, computed the way the loader does.
  if (today === undefined) hash.update(new Date().toISOString().slice(0, 10));
  // The model's code by content (a few small files); the inventory by size and modification time in
  // nanoseconds (what an edit, a checkout or a copy changes), which costs a stat, not a read of 60 MB.
  for (const file of await list(MODEL_DIR)) hash.update(`${file}\n`).update(await readFile(file));
  const files = [...(await list(dir)), committeeFile];
  const stats = await Promise.all(files.map((f) => stat(f, { bigint: true }).catch(() => undefined)));
  files.forEach((file, i) => {
    const st = stats[i];
    hash.update(`${file} ${st === undefined ? "missing" : `${st.size} ${st.mtimeNs} ${st.ino}`}\n`);
  });
  return hash.digest("hex");
}

/** Every file under a directory, sorted (recursive: the inventory's districts, the model's schema). */
async function list(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true, recursive: true });
    return entries
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name))
      .sort();
  } catch {
    return [];
  }
}

// ------------------------------------------------------------------------------------------
// Stations, column-coded: at national size the stations are 95% of the inventory, and as
// plain JSON objects (keys repeated 190,000 times, each origin naming its file) they take
// longer to parse than the gate's whole budget. As rows of values with repeated strings
// (kinds, operators, pops, owners, dates, districts) interned, they parse several times
// faster. The codec knows every field; a station with any other field is not encoded.

export interface EncodedStations {
  readonly strings: readonly string[];
  readonly rows: readonly StationRow[];
}

type LinkRow = [
  id: string,
  medium: number,
  operator: number,
  pop: number,
  circuit: string | null,
  address: string | null,
  signal: number | null,
  surveyed: number,
  state: number,
  committed: number,
  owner: number,
  node: number,
];
type StationRow = [
  id: string,
  name: string,
  kind: number,
  setting: number,
  lat: number,
  lon: number,
  siteOwner: number,
  primary: number,
  secondary: number,
  serial: string,
  fingerprint: string,
  spares: number,
  ups: number,
  node: number,
  district: number,
  county: number,
  links: LinkRow[],
];

const KNOWN = {
  station: ["id", "name", "kind", "setting", "location", "siteOwner", "gateways", "device", "links", "origin", "district", "county"],
  location: ["lat", "lon"],
  gateways: ["primary", "secondary"],
  device: ["serial", "fingerprint", "spares", "ups"],
  link: ["id", "medium", "operator", "pop", "circuit", "address", "survey", "lifecycle", "origin"],
  survey: ["signalDbm", "date"],
  lifecycle: ["state", "committed", "owner"],
  origin: ["file", "node"],
} as const;

function only(value: object, keys: readonly string[]): boolean {
  for (const k of Object.keys(value)) if (!keys.includes(k)) return false;
  return true;
}

export function encodeStations(stations: readonly Station[]): EncodedStations | undefined {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const k = (text: string): number => {
    let i = index.get(text);
    if (i === undefined) {
      i = strings.length;
      strings.push(text);
      index.set(text, i);
    }
    return i;
  };
  const rows: StationRow[] = [];
  for (const st of stations) {
    if (
      !only(st, KNOWN.station) ||
      !only(st.location, KNOWN.location) ||
      !only(st.gateways, KNOWN.gateways) ||
      !only(st.device, KNOWN.device) ||
      !only(st.origin, KNOWN.origin)
    )
      return undefined;
    const links: LinkRow[] = [];
    for (const l of st.links) {
      if (
        !only(l, KNOWN.link) ||
        !only(l.lifecycle, KNOWN.lifecycle) ||
        !only(l.origin, KNOWN.origin) ||
        (l.survey !== undefined && !only(l.survey, KNOWN.survey))
      )
        return undefined;
      const c = l.lifecycle.committed;
      const surveyed = l.survey?.date;
      links.push([
        l.id,
        k(l.medium),
        k(l.operator),
        k(l.pop),
        l.circuit ?? null,
        l.address ?? null,
        l.survey?.signalDbm ?? null,
        surveyed === undefined ? -1 : k(surveyed),
        k(l.lifecycle.state),
        c === undefined ? -1 : k(c),
        k(l.lifecycle.owner),
        l.origin.node,
      ]);
    }
    const d = st.device;
    rows.push([
      st.id,
      st.name,
      k(st.kind),
      k(st.setting),
      st.location.lat,
      st.location.lon,
      k(st.siteOwner),
      k(st.gateways.primary),
      k(st.gateways.secondary),
      d.serial,
      d.fingerprint,
      d.spares,
      d.ups ? 1 : 0,
      st.origin.node,
      k(st.district),
      k(st.county),
      links,
    ]);
  }
  return { strings, rows };
}

/** Rebuild the stations; `files` gives each county's file (by district and county id) for the origins. */
export function decodeStations(encoded: EncodedStations, files: ReadonlyMap<string, string>): Station[] {
  const s = encoded.strings;
  const str = (i: number): string => s[i] ?? "";
  return encoded.rows.map(
    ([id, name, kind, setting, lat, lon, siteOwner, primary, secondary, serial, fingerprint, spares, ups, node, district, county, links]) => {
      const file = files.get(`${str(district)}\u0000${str(county)}`) ?? "";
      return {
        id,
        name,
        kind: str(kind),
        setting: str(setting),
        location: { lat, lon },
        siteOwner: str(siteOwner),
        gateways: { primary: str(primary), secondary: str(secondary) },
        device: { serial, fingerprint, spares, ups: ups === 1 },
        // Properties set in place, in the loader's order: a spread per optional field allocated a
        // throwaway object for each of a national inventory's 133,000 links (GC was a sixth of the gate).
        links: links.map(([lid, medium, operator, pop, circuit, address, signal, surveyed, state, committed, owner, lnode]) => {
          const link: Record<string, unknown> = { id: lid, medium: str(medium), operator: str(operator), pop: str(pop) };
          if (circuit !== null) link.circuit = circuit;
          if (address !== null) link.address = address;
          if (signal !== null) link.survey = surveyed === -1 ? { signalDbm: signal } : { signalDbm: signal, date: str(surveyed) };
          link.lifecycle = committed === -1 ? { state: str(state), owner: str(owner) } : { state: str(state), committed: str(committed), owner: str(owner) };
          link.origin = { file, node: lnode };
          return link;
        }),
        origin: { file, node },
        district: str(district),
        county: str(county),
      } as Station;
    },
  );
}
