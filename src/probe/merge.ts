import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { temporarySibling } from "../lib/fs.ts";
import { ProbeError } from "../lib/errors.ts";
import type { Inventory } from "../model/index.ts";
import type { CampaignFooter, CampaignHeader, ShardInfo } from "./results.ts";
import { emptyCounts } from "./summary.ts";
import { matchesTerms, parseSelectTerms, provincesOf, type SelectTerm } from "./targets.ts";
import { STATUSES, type Status } from "./types.ts";

/**
 * `amadegi merge`: shard results (one `amadegi check --select …` per province
 * or district, each on a runner inside that region) → one campaign file in the
 * same format, which the gate, drift and reports read as if one prober had
 * run it.
 *
 * How a shard declares what it covers: the `select` field of its header (the
 * `--select` expression the campaign ran with; absent = everything). Results
 * header version 1 gains two optional fields, ignored by older readers:
 * `select` on a shard, `shards` on a merged file. A shard's selection may use
 * only the keys that partition the inventory's objects: `province`,
 * `district`, `station` (stations) and `server` (`server=*`: the central
 * servers); a selection by check, operator or link would cover parts of
 * stations, which no merge can prove complete.
 *
 * Refused (nothing written, exit 2), every problem at once: a file that is not
 * a campaign, the same campaign twice, shards of different stacks, two shards
 * covering one station or server, a station or server no shard covers, and a
 * shard holding a result outside its own selection. Kept: each shard's
 * validity; one invalid, interrupted or damaged shard makes the merge invalid.
 * Streams: only the headers, the ownership of each station and the result
 * keys are held in memory.
 */

export interface MergeReport {
  readonly id: string;
  readonly file: string;
  readonly stack: string;
  readonly shards: readonly { readonly file: string; readonly results: number; readonly valid: boolean }[];
  readonly results: number;
  readonly counts: Readonly<Record<Status, number>>;
  readonly valid: boolean;
  readonly invalid: readonly string[];
  readonly interrupted: boolean;
  readonly stations: number;
  readonly servers: number;
}

export interface MergeOptions {
  readonly shards: readonly string[];
  readonly out: string;
  readonly inventory: Inventory;
}

/** Keys a shard may select by: they split the inventory's objects, never a station's targets. */
const SHARD_KEYS: ReadonlySet<string> = new Set(["province", "district", "station", "server"]);
/** How many ids a message lists before "… and N more". */
const LIST = 5;

interface Shard {
  readonly file: string;
  readonly header: CampaignHeader;
  readonly terms?: readonly SelectTerm[];
}

export async function mergeResults(options: MergeOptions): Promise<MergeReport> {
  const { inventory } = options;
  if (options.shards.length === 0)
    throw new ProbeError("no shard results to merge", { hint: "name the shards' results files: amadegi merge a.jsonl b.jsonl --out merged.jsonl" });
  const problems: string[] = [];
  const shards: Shard[] = [];
  const byId = new Map<string, string>();
  for (const file of options.shards) {
    const header = await readHeader(file);
    if (header === undefined) {
      problems.push(`${file} has no campaign header: not a results file of \`amadegi check\``);
      continue;
    }
    const twin = byId.get(header.id);
    if (twin !== undefined) {
      problems.push(twin === file ? `duplicated shard: ${file} is named twice` : `duplicated shard: ${file} is campaign ${header.id}, the same as ${twin}`);
      continue;
    }
    byId.set(header.id, file);
    if (header.shards !== undefined) {
      problems.push(`${file} is already a merge of ${header.shards.length} shards: merge the shards themselves`);
      continue;
    }
    let terms: SelectTerm[] | undefined;
    if (header.select !== undefined) {
      try {
        terms = parseSelectTerms(header.select);
      } catch (error) {
        problems.push(`${file}: its selection "${header.select}" does not parse: ${(error as Error).message}`);
        continue;
      }
      const partial = terms.filter((t) => !SHARD_KEYS.has(t.key)).map((t) => t.key);
      if (partial.length > 0) {
        problems.push(
          `${file} was selected by ${header.select}: ${[...new Set(partial)].join(", ")} covers parts of stations; ` +
            `a shard selects whole stations by province, district or station, or the central servers by server=*`,
        );
        continue;
      }
    }
    shards.push({ file, header, ...(terms === undefined ? {} : { terms }) });
  }
  const stacks = new Set(shards.map((s) => s.header.stack));
  if (stacks.size > 1) problems.push(`the shards come from different stacks: ${shards.map((s) => `${s.file} (${s.header.stack})`).join(", ")}`);
  if (problems.length > 0) throw refusal(problems);

  // Which shard covers each station and server, by its declared selection.
  const provinces = provincesOf(inventory);
  const stationOwner = new Map<string, number>();
  const serverOwner = new Map<string, number>();
  const overlaps = new Map<string, { a: number; b: number; stations: Map<string, string[]>; servers: string[] }>();
  const overlap = (a: number, b: number) => {
    const key = `${a} ${b}`;
    let o = overlaps.get(key);
    if (o === undefined) {
      o = { a, b, stations: new Map(), servers: [] };
      overlaps.set(key, o);
    }
    return o;
  };
  shards.forEach((shard, i) => {
    for (const station of inventory.stations) {
      if (shard.terms !== undefined && !matchesTerms(shard.terms, { station: station.id, district: station.district }, provinces)) continue;
      const prior = stationOwner.get(station.id);
      if (prior === undefined) stationOwner.set(station.id, i);
      else push(overlap(prior, i).stations, station.district, station.id);
    }
    for (const server of inventory.servers) {
      if (shard.terms !== undefined && !matchesTerms(shard.terms, { server: server.id }, provinces)) continue;
      const prior = serverOwner.get(server.id);
      if (prior === undefined) serverOwner.set(server.id, i);
      else overlap(prior, i).servers.push(server.id);
    }
  });
  for (const o of overlaps.values()) {
    const [a, b] = [shards[o.a], shards[o.b]];
    if (a === undefined || b === undefined) continue;
    const pair = `shards ${describe(a)} and ${describe(b)} overlap`;
    for (const what of grouped(o.stations, inventory)) problems.push(`${pair}: both cover ${what}`);
    if (o.servers.length > 0)
      problems.push(`${pair}: both cover ${o.servers.length === 1 ? "the central server" : `${o.servers.length} central servers`} ${list(o.servers)}`);
  }
  const missing = new Map<string, string[]>();
  for (const station of inventory.stations) if (!stationOwner.has(station.id)) push(missing, station.district, station.id);
  for (const what of grouped(missing, inventory)) problems.push(`missing shard: no shard covers ${what}`);
  const uncovered = inventory.servers.filter((s) => !serverOwner.has(s.id)).map((s) => s.id);
  if (uncovered.length > 0)
    problems.push(
      `missing shard: no shard covers ${uncovered.length === 1 ? "the central server" : `${uncovered.length} central servers`} ` +
        `${list(uncovered)} (the central shard runs with --select server=*)`,
    );
  if (problems.length > 0) throw refusal(problems);

  // Stream every shard into one file, each result checked against its shard's selection.
  const ids = shards.map((s) => s.header.id).sort();
  const id = uuidFrom(createHash("sha256").update(ids.join("\n")).digest("hex"));
  const header: CampaignHeader = {
    type: "campaign",
    version: shards[0]?.header.version ?? 1,
    id,
    stack: shards[0]?.header.stack ?? "",
    from: [...new Set(shards.map((s) => s.header.from))].join(", "),
    startedAt: shards.map((s) => s.header.startedAt).sort()[0] ?? new Date().toISOString(),
    deadlineMs: Math.max(...shards.map((s) => s.header.deadlineMs)),
    targets: shards.reduce((n, s) => n + s.header.targets, 0),
  };
  const infos: ShardInfo[] = shards.map((s) => ({
    file: s.file,
    id: s.header.id,
    from: s.header.from,
    ...(s.header.select === undefined ? {} : { select: s.header.select }),
  }));
  const counts = emptyCounts();
  const invalid: string[] = [];
  const perShard: { file: string; results: number; valid: boolean }[] = [];
  const keys = new Set<string>();
  let interrupted = false;
  let finishedAt = header.startedAt;
  await mkdir(dirname(options.out), { recursive: true });
  const tmp = temporarySibling(options.out);
  const out = new Output(tmp);
  try {
    out.write(`${JSON.stringify({ ...header, shards: infos })}\n`);
    for (const [i, shard] of shards.entries()) {
      const r = await copyShard(shard, i, out, { stationOwner, serverOwner, keys, counts, inventory, shards });
      problems.push(...r.problems);
      interrupted ||= r.footer === undefined || r.footer.interrupted;
      if (r.footer === undefined) invalid.push(`shard ${describe(shard)}: no end record: the campaign was interrupted or its prober died`);
      else {
        if (!r.footer.valid)
          invalid.push(...(r.footer.invalid.length === 0 ? ["marked invalid"] : r.footer.invalid).map((why) => `shard ${describe(shard)}: ${why}`));
        if (r.footer.finishedAt > finishedAt) finishedAt = r.footer.finishedAt;
      }
      if (r.damaged.length > 0) invalid.push(`shard ${describe(shard)}: ${r.damaged.length} damaged line(s), first at line ${r.damaged[0] ?? 0}`);
      if (r.footer !== undefined && r.results !== shard.header.targets)
        invalid.push(`shard ${describe(shard)}: its header announces ${shard.header.targets} targets, it holds ${r.results} results`);
      perShard.push({ file: shard.file, results: r.results, valid: r.footer?.valid === true && r.damaged.length === 0 });
    }
    if (problems.length > 0) throw refusal(problems);
    const valid = invalid.length === 0;
    const footer: CampaignFooter = { type: "end", id, finishedAt, valid, invalid, interrupted, counts };
    out.write(`${JSON.stringify(footer)}\n`);
    await out.close();
    await rename(tmp, options.out);
    return {
      id,
      file: options.out,
      stack: header.stack,
      shards: perShard,
      results: keys.size,
      counts,
      valid,
      invalid,
      interrupted,
      stations: stationOwner.size,
      servers: serverOwner.size,
    };
  } catch (error) {
    await out.close().catch(() => {});
    await rm(tmp, { force: true });
    throw error;
  }
}

interface CopyContext {
  readonly stationOwner: ReadonlyMap<string, number>;
  readonly serverOwner: ReadonlyMap<string, number>;
  readonly keys: Set<string>;
  readonly counts: Record<Status, number>;
  readonly inventory: Inventory;
  readonly shards: readonly Shard[];
}

const STATUS_SET: ReadonlySet<string> = new Set(STATUSES);

async function copyShard(shard: Shard, index: number, out: Output, c: CopyContext) {
  const problems: string[] = [];
  const outside = new Map<string, string[]>();
  const strangers: string[] = [];
  const repeated: string[] = [];
  const damaged: number[] = [];
  let footer: CampaignFooter | undefined;
  let results = 0;
  let n = 0;
  const lines = createInterface({ input: createReadStream(shard.file, { encoding: "utf8" }), crlfDelay: Infinity });
  for await (const line of lines) {
    n++;
    if (line.trim() === "") continue;
    let record: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed !== "object" || parsed === null) throw new Error("not an object");
      record = parsed as Record<string, unknown>;
    } catch {
      damaged.push(n);
      continue;
    }
    if (record.type === "campaign") continue;
    if (record.type === "end") {
      if (typeof record.valid === "boolean" && typeof record.finishedAt === "string") footer = record as unknown as CampaignFooter;
      else damaged.push(n);
      continue;
    }
    const { key, status, station, server } = record;
    if (record.type !== "result" || typeof key !== "string" || typeof status !== "string" || !STATUS_SET.has(status)) {
      damaged.push(n);
      continue;
    }
    // A result outside the shard's own selection is refused here, not counted twice later.
    if (typeof station === "string") {
      const owner = c.stationOwner.get(station);
      if (owner !== index) {
        if (owner === undefined) strangers.push(`station ${station}`);
        else push(outside, c.inventory.stationsById.get(station)?.district ?? "?", station);
        continue;
      }
    } else if (typeof server === "string") {
      const owner = c.serverOwner.get(server);
      if (owner !== index) {
        if (owner === undefined) strangers.push(`server ${server}`);
        else push(outside, "", server);
        continue;
      }
    }
    if (c.keys.has(key)) {
      repeated.push(key);
      continue;
    }
    c.keys.add(key);
    c.counts[status as Status]++;
    results++;
    out.write(`${line}\n`);
    if (out.full) await out.drain();
  }
  const sel = shard.header.select ?? "everything";
  for (const [district, ids] of outside) {
    const unique = [...new Set(ids)];
    problems.push(
      district === ""
        ? `shard ${shard.file} holds results outside its selection ${sel}: server(s) ${list(unique)}, covered by ${owners(
            unique.map((id) => c.serverOwner.get(id)),
            c.shards,
          )}`
        : `shard ${shard.file} holds results outside its selection ${sel}: ${stationsOf(unique, district, c.inventory)}, covered by ${owners(
            unique.map((id) => c.stationOwner.get(id)),
            c.shards,
          )}`,
    );
  }
  if (strangers.length > 0)
    problems.push(
      `shard ${shard.file} holds results for ${[...new Set(strangers)].length} object(s) not in the inventory: ` +
        `${list([...new Set(strangers)])} (merge with the inventory the shards ran on: --inventory DIR)`,
    );
  if (repeated.length > 0) problems.push(`shard ${shard.file} repeats ${repeated.length} result key(s) already merged: ${list(repeated)}`);
  return { problems, footer, results, damaged };
}

function owners(indexes: readonly (number | undefined)[], shards: readonly Shard[]): string {
  return [...new Set(indexes)].map((i) => (i === undefined ? "no shard" : describe(shards[i]))).join(", ");
}

function refusal(problems: readonly string[]): ProbeError {
  return new ProbeError(`cannot merge: ${problems.length} problem(s), nothing written:`, {
    details: problems,
    hint:
      "run one `amadegi check --select province=…` (or district=…) per region " +
      "and one with --select server=*, " +
      "then merge all of their results once each",
  });
}

function describe(shard: Shard | undefined): string {
  if (shard === undefined) return "?";
  return `${shard.file} (${shard.header.select ?? "everything"})`;
}

/**
 * Stations by district → one phrase per whole province (every station of it
 * listed), else per district: a missing province shard is one line, not forty.
 */
function grouped(byDistrict: ReadonlyMap<string, readonly string[]>, inventory: Inventory): string[] {
  const out: string[] = [];
  const done = new Set<string>();
  for (const district of byDistrict.keys()) {
    const province = inventory.districtsById.get(district)?.province;
    if (province === undefined || done.has(province)) continue;
    const districts = inventory.districts.filter((d) => d.province === province);
    const whole = districts.every((d) => byDistrict.get(d.id)?.length === stationCount(d.id, inventory));
    if (!whole) continue;
    done.add(province);
    const stations = districts.reduce((n, d) => n + (byDistrict.get(d.id)?.length ?? 0), 0);
    const names = districts.length === 1 ? `district ${districts[0]?.id ?? ""}` : `${districts.length} districts: ${list(districts.map((d) => d.id))}`;
    out.push(`province ${province} (${names}; ${stations === 1 ? "1 station" : `${stations} stations`})`);
  }
  for (const [district, ids] of byDistrict) {
    const province = inventory.districtsById.get(district)?.province;
    if (province !== undefined && done.has(province)) continue;
    out.push(stationsOf(ids, district, inventory));
  }
  return out;
}

function stationCount(district: string, inventory: Inventory): number {
  return inventory.districtsById.get(district)?.counties.reduce((n, c) => n + c.stations.length, 0) ?? 0;
}

/** `district rey (all 4 stations: REY-0001, …)` or `2 of 15 stations of district pakdasht: PKD-0003, PKD-0004`. */
function stationsOf(ids: readonly string[], district: string, inventory: Inventory): string {
  const total = stationCount(district, inventory);
  if (ids.length === total) return `district ${district} (${total === 1 ? "its station" : `all ${total} stations`}: ${list(ids)})`;
  return `${ids.length} of ${total} stations of district ${district}: ${list(ids)}`;
}

function list(ids: readonly string[]): string {
  return ids.length <= LIST ? ids.join(", ") : `${ids.slice(0, LIST).join(", ")} … and ${ids.length - LIST} more`;
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const values = map.get(key);
  if (values === undefined) map.set(key, [value]);
  else values.push(value);
}

function uuidFrom(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** The first record of a results file, when it is a campaign header. */
async function readHeader(file: string): Promise<CampaignHeader | undefined> {
  const input = createReadStream(file, { encoding: "utf8" });
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (line.trim() === "") continue;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        return undefined;
      }
      return isHeader(record) ? record : undefined;
    }
    return undefined;
  } catch (error) {
    throw new ProbeError(`cannot read results ${file}: ${(error as Error).message}`, {
      file,
      hint: "name the shards' results files (JSON lines from `amadegi check`)",
      cause: error,
    });
  } finally {
    lines.close();
    input.destroy();
  }
}

function isHeader(v: unknown): v is CampaignHeader {
  if (typeof v !== "object" || v === null) return false;
  const h = v as Record<string, unknown>;
  return (
    h.type === "campaign" &&
    typeof h.id === "string" &&
    typeof h.stack === "string" &&
    typeof h.startedAt === "string" &&
    typeof h.targets === "number" &&
    typeof h.deadlineMs === "number" &&
    typeof h.from === "string" &&
    (h.select === undefined || typeof h.select === "string")
  );
}

/** A buffered file writer that honours back-pressure. */
class Output {
  private readonly stream: WriteStream;
  private buffer: string[] = [];
  private bytes = 0;
  private failed: Error | undefined;

  constructor(path: string) {
    this.stream = createWriteStream(path, { mode: 0o644, flush: true });
    this.stream.on("error", (error) => {
      this.failed = error;
    });
  }

  get full(): boolean {
    return this.bytes >= 256 * 1024;
  }

  write(text: string): void {
    this.buffer.push(text);
    this.bytes += text.length;
  }

  async drain(): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    const text = this.buffer.join("");
    this.buffer = [];
    this.bytes = 0;
    if (!this.stream.write(text)) await once(this.stream, "drain");
  }

  async close(): Promise<void> {
    await this.drain();
    if (this.stream.closed) return;
    this.stream.end();
    await once(this.stream, "finish");
    if (this.failed !== undefined) throw this.failed;
  }
}
