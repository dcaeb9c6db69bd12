import { join } from "node:path";
import { writeFileAtomic } from "../../lib/fs.ts";
import { toJalali } from "../dates.ts";
import { type DistrictOut, emitDistrict, type LinkOut, q, type StationOut } from "./emit.ts";
import { FIRST_NAMES, LAST_NAMES, OTHER_SITES, PATRONS, PLACE_STEMS, PLACES, PROVINCES as ALL_PROVINCES, SCHOOL_KINDS } from "./names.ts";
import { address, fakeEd25519, fakeFingerprint, Random } from "./random.ts";

/**
 * A synthetic national inventory, deterministic for a seed: 31 provinces,
 * about 1,200 districts (one file each), two or three links per station,
 * a few hundred servers. It passes `validate` but for a realistic sprinkling
 * of warnings (blind spots, late links, unsurveyed and single-operator mobile
 * stations). Returns file contents by path relative to the output directory:
 * `inventory/...` and `governance/committee.yaml`.
 */
export interface NationalOptions {
  readonly stations: number;
  readonly seed: number;
  /** Districts, default about one per 49 stations (1,200 for 58,640). */
  readonly districts?: number;
  /**
   * Only the first N provinces (default all 31): the stations, districts and gateways of a smaller
   * country, for a rehearsal step that grows stations and links without the 31 provinces' gateways.
   */
  readonly provinces?: number;
  /** Only the first N data centres (2 to 6, default 6): each has one server of every central role. */
  readonly sites?: number;
}

const ELECTION_DAY = "2027-02-25"; // 1405-12-06
const MOBILE = ["mci", "irancell", "rightel"] as const;
const STATIONS_PER_GATEWAY = 250;
const GATEWAY_CAPACITY = 600;
const ALL_SITES = [
  { id: "DC-TEH-1", name: "مرکز داده تهران ۱", city: "تهران" },
  { id: "DC-TEH-2", name: "مرکز داده تهران ۲", city: "تهران" },
  { id: "DC-ISF-1", name: "مرکز داده اصفهان", city: "اصفهان" },
  { id: "DC-MHD-1", name: "مرکز داده مشهد", city: "مشهد" },
  { id: "DC-TBZ-1", name: "مرکز داده تبریز", city: "تبریز" },
  { id: "DC-SHZ-1", name: "مرکز داده شیراز", city: "شیراز" },
] as const;

export function generateNational(options: NationalOptions): Map<string, string> {
  const rnd = new Random(options.seed);
  const total = options.stations;
  const provinces = ALL_PROVINCES.slice(0, options.provinces ?? ALL_PROVINCES.length);
  const centres = ALL_SITES.slice(0, Math.max(2, options.sites ?? ALL_SITES.length));
  const districtCount = Math.max(provinces.length, options.districts ?? Math.round(total / 49));
  const weightSum = provinces.reduce((s, p) => s + p.weight, 0);
  const files = new Map<string, string>();

  // Split stations and districts over provinces by weight, exactly.
  const stationsOf = apportion(
    total,
    provinces.map((p) => p.weight / weightSum),
  );
  const districtsOf = apportion(
    districtCount - provinces.length,
    provinces.map((p) => p.weight / weightSum),
  ).map((n) => n + 1);

  const servers: string[] = [];
  const pops: Record<string, string[]> = { tci: [], mci: [], irancell: [], rightel: [] };
  let linkNo = 0;
  let serverNo = 0;
  const serverAddress = () => address(0, serverNo++);

  provinces.forEach((province, p) => {
    const usedNames = new Set<string>();
    const count = stationsOf[p] ?? 0;
    const siteA = centres[p % centres.length]?.id ?? "DC-TEH-1";
    const siteB = centres[(p + 1) % centres.length]?.id ?? "DC-TEH-2";
    const pairs = Math.max(1, Math.ceil(count / (2 * STATIONS_PER_GATEWAY)));
    const gwA: string[] = [];
    const gwB: string[] = [];
    for (let g = 1; g <= pairs; g++) {
      for (const [list, site, tag] of [
        [gwA, siteA, "a"],
        [gwB, siteB, "b"],
      ] as const) {
        const id = `gw-${province.id}-${tag}${String(g).padStart(2, "0")}`;
        list.push(id);
        servers.push(serverEntry(id, ["gateway"], serverAddress(), site, `{ stations: ${GATEWAY_CAPACITY}, handshakesPerSecond: 400 }`));
      }
    }
    for (const op of MOBILE) pops[op]?.push(`  - { id: AG-${op.toUpperCase()}-${p + 1}, name: ${q(`مرکز تجمیع ${province.name}`)}, kind: exchange }`);

    const perDistrict = apportion(
      count,
      Array.from({ length: districtsOf[p] ?? 1 }, () => 1 / (districtsOf[p] ?? 1)),
    );
    let stationInProvince = 0;
    perDistrict.forEach((n, d) => {
      if (n === 0) return;
      const did = `${province.id}-${String(d + 1).padStart(3, "0")}`;
      const code = `P${String(p + 1).padStart(2, "0")}D${String(d + 1).padStart(3, "0")}`;
      const exchanges = [`EX-${code}-1`, `EX-${code}-2`];
      for (const ex of exchanges) pops.tci?.push(`  - { id: ${ex}, kind: exchange }`);
      const towers: Record<string, string[]> = {};
      for (const op of MOBILE) {
        towers[op] = [1, 2, 3].map((t) => `TW-${op.toUpperCase()}-${code}-${t}`);
        for (const tw of towers[op] ?? []) pops[op]?.push(`  - { id: ${tw}, kind: tower, backhaul: AG-${op.toUpperCase()}-${p + 1} }`);
      }
      let countyName = `${rnd.pick(PLACE_STEMS)}${rnd.pick(PLACES)}`;
      // District names must differ once normalized; real gazetteers repeat, so number the repeats.
      if (usedNames.has(countyName)) countyName = `${countyName} ${d + 1}`;
      usedNames.add(countyName);
      const lat0 = province.lat + rnd.next() * 1.2 - 0.6;
      const lon0 = province.lon + rnd.next() * 1.2 - 0.6;
      const stations: StationOut[] = [];
      for (let s = 0; s < n; s++) {
        const id = `${code}-${String(s + 1).padStart(4, "0")}`;
        const mobile = rnd.chance(0.26);
        const rural = rnd.chance(0.41);
        const alt = stationInProvince++ % 2 === 0;
        const gi = Math.floor(stationInProvince / 2) % pairs;
        const primary = (alt ? gwA : gwB)[gi] ?? "";
        const secondary = (alt ? gwB : gwA)[(gi + 1) % pairs] ?? "";
        const links: LinkOut[] = [];
        const ops = shuffle(rnd, [...MOBILE]);
        const mobileLink = (op: string, suffix: string): LinkOut => {
          const signal = rnd.chance(0.01) ? -rnd.int(112, 125) : -rnd.int(65, 104);
          const surveyed = !rnd.chance(0.005);
          return {
            id: `${id}-${suffix}`,
            medium: "mobile",
            operator: op,
            pop: rnd.pick(towers[op] ?? []),
            address: address(64, linkNo++),
            ...(surveyed ? { survey: { signalDbm: signal, date: "1405-08-20" } } : {}),
            lifecycle: { state: "live", owner: op },
          };
        };
        if (!mobile) {
          const late = rnd.chance(0.004);
          links.push({
            id: `${id}-F`,
            medium: "fiber",
            operator: "tci",
            pop: rnd.pick(exchanges),
            circuit: `TCI-${code}-${String(s + 1).padStart(5, "0")}`,
            address: address(16, linkNo++),
            lifecycle: late ? { state: "ordered", committed: "1405-08-15", owner: "tci" } : { state: "live", committed: "1405-07-01", owner: "tci" },
          });
          links.push(mobileLink(ops[0] ?? "mci", "M"));
          if (rnd.chance(0.3)) links.push(mobileLink(ops[1] ?? "irancell", "M2"));
        } else {
          links.push(mobileLink(ops[0] ?? "mci", "M"));
          if (!rnd.chance(0.01)) links.push(mobileLink(ops[1] ?? "irancell", "M2"));
          if (rnd.chance(0.2)) links.push(mobileLink(ops[2] ?? "rightel", "M3"));
        }
        // Blind spots must not break the sample's exit code: keep one good link of each kind.
        repairBlindSpots(links, mobile);
        const school = rnd.chance(0.8);
        const other = rnd.pick(OTHER_SITES);
        stations.push({
          id,
          name: `${school ? rnd.pick(SCHOOL_KINDS) : other.prefix} ${rnd.pick(PATRONS)} ${s + 1}`,
          kind: mobile ? "mobile" : "fixed",
          setting: rural ? "rural" : "urban",
          lat: round4(clamp(lat0 + rnd.next() * 0.3 - 0.15, 24.1, 39.9)),
          lon: round4(clamp(lon0 + rnd.next() * 0.3 - 0.15, 44.1, 63.9)),
          siteOwner: school ? "education" : other.owner,
          primary,
          secondary,
          serial: `AHV-${code}-${String(s + 1).padStart(4, "0")}`,
          fingerprint: fakeFingerprint(id),
          spares: rnd.chance(0.2) ? 1 : 0,
          ups: !rnd.chance(0.1),
          links,
        });
      }
      const district: DistrictOut = {
        id: did,
        name: `حوزه ${countyName} (${province.name})`,
        province: province.id,
        county: { id: did, name: countyName },
        technicians: [{ name: `${rnd.pick(FIRST_NAMES)} ${rnd.pick(LAST_NAMES)}`, phone: `09${String(rnd.int(100000000, 999999999))}`, role: "network" }],
        stations,
        header: `Synthetic district ${did} (seed ${options.seed}): fictional, generated by amadegi generate.`,
      };
      files.set(`inventory/districts/${did}.yaml`, emitDistrict(district));
    });
  });

  const central: [string, string[]][] = [
    ["dns", ["dns"]],
    ["ntp", ["ntp"]],
    ["mon", ["monitor"]],
    ["pki", ["pki"]],
    ["auth", ["auth"]],
    ["tally", ["tally"]],
    ["reg", ["registry"]],
    ["bastion", ["bastion"]],
  ];
  for (const site of centres) {
    for (const [name, roles] of central) {
      const id = `${name}-${site.id.toLowerCase().replace("dc-", "")}`;
      servers.push(serverEntry(id, roles, serverAddress(), site.id));
    }
  }
  files.set("inventory/servers.yaml", serversYaml(servers));
  files.set("inventory/operators.yaml", operatorsYaml(pops));
  files.set("inventory/election.yaml", electionYaml());
  files.set("inventory/waivers.yaml", "# No accepted deficiencies in the synthetic inventory.\nwaivers: []\n");
  files.set("governance/committee.yaml", committeeYaml());
  return files;
}

function repairBlindSpots(links: LinkOut[], mobileStation: boolean): void {
  const usable = links.filter((l) => l.medium !== "mobile" || (l.survey?.signalDbm ?? 0) >= -110);
  const operators = new Set(usable.map((l) => l.operator));
  const needed = mobileStation ? 1 : 2;
  if (operators.size >= needed) return;
  for (const l of links) if (l.survey !== undefined && l.survey.signalDbm < -110) l.survey.signalDbm = -95;
}

function shuffle<T>(rnd: Random, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rnd.int(0, i);
    const a = items[i] as T;
    items[i] = items[j] as T;
    items[j] = a;
  }
  return items;
}

/** Split n into integer parts proportional to shares, summing to n. */
function apportion(n: number, shares: readonly number[]): number[] {
  const raw = shares.map((s) => s * n);
  const out = raw.map(Math.floor);
  let rest = n - out.reduce((a, b) => a + b, 0);
  const order = raw.map((r, i) => [r - Math.floor(r), i] as const).sort((a, b) => b[0] - a[0]);
  for (const [, i] of order) {
    if (rest-- <= 0) break;
    out[i] = (out[i] ?? 0) + 1;
  }
  return out;
}

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

function serverEntry(id: string, roles: string[], addr: string, site: string, capacity?: string): string {
  const lines = [
    `  - id: ${id}`,
    `    roles: [${roles.join(", ")}]`,
    `    address: ${addr}`,
    `    site: ${site}`,
    `    ssh: { user: amadegi, port: 22, hostKey: ${q(fakeEd25519(`host:${id}`))} }`,
  ];
  if (capacity !== undefined) lines.push(`    capacity: ${capacity}`);
  return lines.join("\n");
}

function serversYaml(servers: string[]): string {
  const sites = ALL_SITES.map((s) => `  - { id: ${s.id}, name: ${q(s.name)}, city: ${q(s.city)} }`);
  return ["# Central sites and servers (synthetic).", "sites:", ...sites, "", "servers:", servers.join("\n"), ""].join("\n");
}

function operatorsYaml(pops: Record<string, string[]>): string {
  const op = (id: string, name: string, kind: string, extra: string[]) =>
    [
      `  - id: ${id}`,
      `    name: ${q(name)}`,
      `    kind: ${kind}`,
      ...extra,
      "    interconnects:",
      "      - { site: DC-TEH-1, kind: direct, capacityMbps: 10000 }",
      "      - { site: DC-TEH-2, kind: direct, capacityMbps: 10000 }",
      "    pops:",
      ...(pops[id] ?? []).map((l) => `  ${l}`),
    ].join("\n");
  return [
    "# Operators and the points of presence their links depend on (synthetic).",
    "operators:",
    op("tci", "شرکت مخابرات ایران", "fixed", []),
    op("mci", "همراه اول", "mobile", ["    apn: election.mci", "    egress: [198.51.100.0/25]"]),
    op("irancell", "ایرانسل", "mobile", ["    apn: election.mtn", "    egress: [198.51.100.128/25]"]),
    op("rightel", "رایتل", "mobile", ["    apn: election.rtl", "    egress: [203.0.113.0/24]"]),
    "",
  ].join("\n");
}

function electionYaml(): string {
  return [
    "election:",
    "  id: synthetic-1405",
    "  name: انتخابات آزمایشی سراسری",
    `  day: ${toJalali(ELECTION_DAY)}`,
    "  timeZone: Asia/Tehran",
    "  changeFreeze: 1405-11-20",
    "policy:",
    "  blindSpotDbm: -110",
    "  serviceRanges: [10.0.0.0/8, 198.51.100.0/24, 203.0.113.0/24]",
    "milestones:",
    "  - { id: T-30, due: 1405-11-06, criteria: [links-declared] }",
    "  - { id: T-7, due: 1405-11-29, criteria: [links-live, gateways-up] }",
    "  - { id: T-1, due: 1405-12-05, criteria: [devices-checked-in] }",
    "",
  ].join("\n");
}

function committeeYaml(): string {
  const members = ["chair", "secretary", "member"].map((role, i) =>
    [
      `  - id: synthetic-${i + 1}`,
      `    name: ${q(`عضو آزمایشی ${i + 1}`)}`,
      `    role: ${role}`,
      "    level: national",
      `    sshKey: ${q(fakeEd25519(`member:${i}`))}`,
    ].join("\n"),
  );
  return ["committee:", ...members, ""].join("\n");
}

/**
 * Write a generated national inventory under `dir` (`dir/inventory/**`,
 * `dir/governance/committee.yaml`), each file atomically: `amadegi generate`
 * and the benchmarks write it the same way. Returns the paths written, relative to `dir`.
 */
export async function writeNational(dir: string, options: NationalOptions): Promise<string[]> {
  const files = generateNational(options);
  for (const [path, text] of files) await writeFileAtomic(join(dir, path), text);
  return [...files.keys()];
}
