import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { ProbeError } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/fs.ts";
import { type Finding, formatBoth, hasErrors, type Inventory, type IsoDate, loadInventory, parseInstant, type RuleId, todayIn, type Waiver } from "../model/index.ts";
import { readPins, type ServerPin } from "../model/pins.ts";
import { renderServer, TLS_FILES } from "../model/render/index.ts";
import type { Listen, ProvisionedServer, ProvisionedState, RoleRender, ServerFacts, ServerTarget } from "../model/render/types.ts";
import { object, optional, text } from "../model/schema/core.ts";
import { readStackKey } from "../model/stackfile.ts";
import { parseAllow } from "../probe/allow.ts";
import { collectAllFacts, type FactsExpectation, type FactsServer, listensOn } from "../probe/facts.ts";
import { pinsPath, readStackSettings } from "../probe/stackconfig.ts";
import { inNetns } from "../toolchain/netns.ts";
import { OUR_TEAM } from "./criteria.ts";
import { type Evidence, readEvidence } from "./evidence.ts";
import { History } from "./history.ts";
import { dataRecord } from "../lib/records.ts";

/**
 * Drift: per object, what the inventory declares (the renderers' output on
 * today's inventory) against what the stack provisioned (its `servers`
 * output: file hashes as the servers read them back, services, stations)
 * against what is observed (facts collected over SSH, and the latest
 * campaign's results and check-ins). The command provider cannot read back
 * what a command did and `pulumi refresh` does not see a file edited by hand:
 * this is where such changes are found (ADR 0006).
 *
 * Pure: the caller renders, reads the outputs, collects facts and reads the
 * evidence; computeDrift only compares. Every comparison made is counted
 * (`checked`), every one that fails is one item, with its owner and the
 * waiver that accepts it, if any.
 */

export const DRIFT_KINDS = ["not-provisioned", "not-declared", "changed-on-server", "never-observed", "unreachable"] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

/** For people: what each kind means. */
export const DRIFT_TITLES: Readonly<Record<DriftKind, string>> = {
  "not-provisioned": "declared, not provisioned yet (run amadegi up)",
  "not-declared": "provisioned, no longer declared",
  "changed-on-server": "changed on the server",
  "never-observed": "declared, never observed",
  unreachable: "facts could not be collected",
};

/**
 * The waiver rule of each kind (src/model/rules.ts). A server no longer
 * declared is not an item of the inventory, so no waiver can name it; an
 * unreachable server is not a known deficiency but missing knowledge.
 */
export const DRIFT_RULES: Readonly<Partial<Record<DriftKind, RuleId>>> = {
  "not-provisioned": "drift.not-provisioned",
  "changed-on-server": "drift.changed-on-server",
  "never-observed": "drift.never-observed",
};

export interface DriftItem {
  /** Stable across runs (history compares runs by it): `<kind> <object>[ <subject>]`. */
  readonly key: string;
  readonly kind: DriftKind;
  /** What a waiver names: a server id, or a link id (never-observed links). */
  readonly object: string;
  readonly objectKind: "server" | "link";
  /** Within the object: a file path, or `service <name>`. */
  readonly subject?: string;
  readonly station?: string;
  readonly district?: string;
  /** Who acts: it-committee for servers; a link's owner for links. */
  readonly owner: string;
  /** One line for a person, with the values compared. */
  readonly detail: string;
  readonly declared?: string;
  readonly provisioned?: string;
  readonly observed?: string;
  /** The waiver rule of its kind (none: no waiver can accept it). */
  readonly rule?: RuleId;
  /** The live waiver that accepts it. */
  readonly waivedBy?: string;
  /** A waiver that named it and has expired (the item stands). */
  readonly waiverExpired?: string;
}

export type DriftCounts = Record<DriftKind, number>;

export interface FactsSummary {
  readonly server: string;
  readonly reachable: boolean;
  readonly error?: string;
  readonly at: string;
  readonly files: number;
  readonly listening: number;
  readonly versions: Readonly<Record<string, string | null>>;
}

export type DriftVerdict = "clean" | "drift" | "cannot-judge";

export interface DriftReport {
  readonly version: 1;
  readonly id: string;
  readonly stack: string;
  readonly at: string;
  /** The day waivers were judged on. */
  readonly date: IsoDate;
  readonly inventory: { readonly dir: string; readonly servers: number; readonly links: number };
  /** `stack outputs`, or the file the provisioned state was read from. */
  readonly provisionedFrom: string;
  /** Servers the provisioned state lists (absent: the stack has no outputs yet). */
  readonly provisionedServers?: number;
  readonly results?: { readonly file: string; readonly campaign?: string; readonly finishedAt?: string };
  /** What could not be compared, and why (no usable results: never-observed not judged). */
  readonly notJudged: readonly string[];
  /** Comparisons made; each item is one that failed. */
  readonly checked: number;
  /** Unwaived items per kind. */
  readonly counts: DriftCounts;
  /** Waived items per kind. */
  readonly waived: DriftCounts;
  readonly verdict: DriftVerdict;
  readonly exitCode: 0 | 1 | 2;
  readonly items: readonly DriftItem[];
  readonly facts: readonly FactsSummary[];
  /** What changed since the stack's previous drift report (history); set by the command. */
  readonly changes?: DriftChanges;
}

export interface DriftChanges {
  readonly previous?: { readonly id: string; readonly at: string };
  readonly appeared: readonly string[];
  readonly resolved: readonly string[];
}

export interface DriftInput {
  readonly id: string;
  readonly stack: string;
  readonly at: string;
  readonly date: IsoDate;
  readonly inventory: Inventory;
  readonly inventoryDir: string;
  /** Every declared server's renders (renderServer), by server id. */
  readonly declared: ReadonlyMap<string, readonly RoleRender[]>;
  /** undefined: the stack has provisioned nothing yet. */
  readonly provisioned: ProvisionedState | undefined;
  readonly provisionedFrom: string;
  readonly facts: readonly ServerFacts[];
  /** The latest campaign of the stack, fit to judge (absent: never-observed is not judged). */
  readonly evidence?: Evidence;
  /** Why there is no evidence (named in notJudged). */
  readonly evidenceProblem?: string;
}

export const emptyCounts = (): DriftCounts => ({ "not-provisioned": 0, "not-declared": 0, "changed-on-server": 0, "never-observed": 0, unreachable: 0 });

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** A hash for a person: its first 12 hex digits. */
const short = (hash: string | null | undefined): string => (hash === undefined ? "none" : hash === null ? "missing" : hash.slice(0, 12));

/** Files the PKI writes on a server: provisioned, never rendered from the inventory. */
const ISSUED: ReadonlySet<string> = new Set(Object.values(TLS_FILES));

const listenText = (l: Listen): string => `${l.proto} ${l.address}:${l.port}`;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** What the declared renders of one server come to, in the provisioned state's terms. */
export function declaredServer(address: string, renders: readonly RoleRender[]): ProvisionedServer {
  const stations = [...new Set(renders.flatMap((r) => r.stations))].sort();
  return {
    address,
    roles: renders.map((r) => r.role),
    files: Object.fromEntries(renders.flatMap((r) => r.files.map((f) => [f.path, sha256(f.content)] as const))),
    services: renders.flatMap((r) => r.services.map((s) => ({ name: s.name, listens: s.listens }))),
    stationsHash: sha256(stations.join("\n")),
    stations: stations.length,
  };
}

/** What to ask a server for: every file declared or provisioned, and its declared services' version commands. */
export function factsExpectation(renders: readonly RoleRender[] | undefined, provisioned: ProvisionedServer | undefined): FactsExpectation {
  const files = new Set<string>([...(renders ?? []).flatMap((r) => r.files.map((f) => f.path)), ...Object.keys(provisioned?.files ?? {})]);
  const services = (renders ?? []).flatMap((r) => r.services.map((s) => ({ name: s.name, version: s.version })));
  return { files: [...files].sort(), services };
}

const serviceKey = (s: ProvisionedServer["services"][number]): string => `${s.name}=${s.listens.map(listenText).sort().join(",")}`;

/** Why a provisioned server is not what the inventory declares now: each difference, for a person. */
function provisionDifferences(declared: ProvisionedServer, provisioned: ProvisionedServer): string[] {
  const out: string[] = [];
  if (declared.address !== provisioned.address) out.push(`address ${provisioned.address} → ${declared.address}`);
  const dRoles = [...declared.roles].sort().join(",");
  const pRoles = [...provisioned.roles].sort().join(",");
  if (dRoles !== pRoles) out.push(`roles ${pRoles || "none"} → ${dRoles || "none"}`);
  const changed: string[] = [];
  for (const [path, hash] of Object.entries(declared.files)) {
    const was = provisioned.files[path];
    if (was === undefined) changed.push(`${path} (new)`);
    else if (was !== hash) changed.push(`${path} (${short(was)} → ${short(hash)})`);
  }
  for (const path of Object.keys(provisioned.files)) {
    if (declared.files[path] === undefined && !ISSUED.has(path)) changed.push(`${path} (no longer declared)`);
  }
  if (changed.length > 0) out.push(`${plural(changed.length, "file")}: ${changed.slice(0, 5).join(", ")}${changed.length > 5 ? `, … ${changed.length - 5} more` : ""}`);
  if (declared.stationsHash !== provisioned.stationsHash) out.push(`stations ${provisioned.stations} → ${declared.stations}${declared.stations === provisioned.stations ? " (other stations)" : ""}`);
  const dServices = declared.services.map(serviceKey).sort().join(" ");
  const pServices = provisioned.services.map(serviceKey).sort().join(" ");
  if (dServices !== pServices) out.push(`services ${provisioned.services.map((s) => s.name).join(",") || "none"} → ${declared.services.map((s) => s.name).join(",") || "none"}${dServices.replace(/=[^ ]*/g, "") === pServices.replace(/=[^ ]*/g, "") ? " (listens differ)" : ""}`);
  return out;
}

/** A live waiver of `rule` naming `object` on `date`, else the first expired one. */
export function findWaiver(waivers: readonly Waiver[], rule: RuleId | undefined, object: string, date: IsoDate): { live?: Waiver; expired?: Waiver } {
  if (rule === undefined) return {};
  const named = waivers.filter((w) => w.rule === rule && w.item === object);
  const live = named.find((w) => w.until >= date);
  if (live !== undefined) return { live };
  const expired = named[0];
  return expired === undefined ? {} : { expired };
}

type Draft = Omit<DriftItem, "key" | "rule" | "waivedBy" | "waiverExpired">;

export function computeDrift(input: DriftInput): DriftReport {
  const inv = input.inventory;
  const drafts: Draft[] = [];
  const notJudged: string[] = [];
  let checked = 0;
  const server = (kind: DriftKind, object: string, detail: string, extra: Partial<Draft> = {}): void => {
    drafts.push({ kind, object, objectKind: "server", owner: OUR_TEAM, detail, ...extra });
  };
  const provisioned = input.provisioned?.servers ?? {};
  const factsById = new Map(input.facts.map((f) => [f.server, f]));

  for (const s of inv.servers) {
    const renders = input.declared.get(s.id);
    if (renders === undefined) throw new Error(`computeDrift: no declared renders for server ${s.id} (render every server of the inventory)`);
    const declared = declaredServer(s.address, renders);
    const p = Object.hasOwn(provisioned, s.id) ? provisioned[s.id] : undefined;

    // Declared ↔ provisioned: has `up` run since the inventory changed?
    checked++;
    if (p === undefined) {
      server("not-provisioned", s.id, `declared (${s.roles.join(", ")} at ${s.address}, ${plural(Object.keys(declared.files).length, "file")}), not in the stack's outputs`, { declared: `${Object.keys(declared.files).length} files, ${declared.stations} stations` });
    } else {
      const differences = provisionDifferences(declared, p);
      if (differences.length > 0) server("not-provisioned", s.id, `the inventory changed since the stack provisioned it: ${differences.join("; ")}`, { declared: `stations ${short(declared.stationsHash)}`, provisioned: `stations ${short(p.stationsHash)}` });
    }

    // Provisioned ↔ observed: what the server shows now, file by file and service by service.
    const f = factsById.get(s.id);
    if (f === undefined || !f.reachable) {
      checked++;
      server("unreachable", s.id, f?.error ?? `no facts were collected from ${s.id}`);
      continue;
    }
    if (p === undefined) continue;
    for (const [path, hash] of Object.entries(p.files).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      checked++;
      if (!Object.hasOwn(f.files, path)) throw new Error(`computeDrift: the facts of ${s.id} do not answer for ${path} (ask for factsExpectation's files)`);
      const seen = f.files[path];
      if (seen === hash) continue;
      const declaredHash = declared.files[path];
      const values = { provisioned: short(hash), observed: short(seen), ...(declaredHash === undefined ? {} : { declared: short(declaredHash) }) };
      server("changed-on-server", s.id, seen === null ? `${path} is missing on the server (the stack wrote ${short(hash)})` : `${path} changed on the server: the stack wrote ${short(hash)}, the server has ${short(seen)}`, { subject: path, ...values });
    }
    for (const service of p.services) {
      checked++;
      const missing = service.listens.filter((l) => !f.listening.some((o) => listensOn(o, l)));
      if (missing.length === 0) continue;
      const version = f.versions[service.name];
      const ran = version === undefined ? "" : version === null ? "; its version command failed" : `; version: ${version}`;
      server("changed-on-server", s.id, `service ${service.name} is not listening on ${missing.map(listenText).join(", ")}${ran}`, {
        subject: `service ${service.name}`,
        provisioned: service.listens.map(listenText).join(", "),
        observed: `${f.listening.length} listeners, none of ${missing.map(listenText).join(", ")}`,
      });
    }
  }

  // Provisioned, no longer declared.
  for (const [id, p] of Object.entries(provisioned).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (inv.serversById.has(id)) continue;
    checked++;
    server("not-declared", id, `provisioned (${p.roles.join(", ") || "no roles"} at ${p.address}, ${plural(Object.keys(p.files).length, "file")}), no longer in the inventory: amadegi up removes it`, { provisioned: `${Object.keys(p.files).length} files` });
  }

  // Declared, never observed by the latest campaign.
  const ev = input.evidence;
  if (ev === undefined) {
    notJudged.push(`never-observed: ${input.evidenceProblem ?? "no results of the stack's latest campaign"}`);
  } else {
    for (const s of inv.servers) {
      checked++;
      const seen = ev.servers.get(s.id);
      const observed = seen !== undefined && [...seen.byKind.values()].some((o) => o.status !== "unknown");
      if (!observed) server("never-observed", s.id, `${s.id} (${s.address}) has ${seen === undefined ? "no result" : "only unknown results"} in campaign ${ev.header?.id ?? ev.file}`);
    }
    for (const station of inv.stations) {
      for (const link of station.links) {
        if (link.lifecycle.state !== "installed" && link.lifecycle.state !== "live") continue;
        checked++;
        const probe = ev.links.get(link.id);
        const checkin = ev.checkins.get(link.id);
        if ((probe !== undefined && probe.status !== "unknown") || (checkin !== undefined && checkin.status !== "unknown")) continue;
        drafts.push({
          kind: "never-observed",
          object: link.id,
          objectKind: "link",
          station: station.id,
          district: station.district,
          owner: link.lifecycle.owner,
          detail: `${link.lifecycle.state} ${link.medium} ${link.operator} link: no probe result and no device check-in in campaign ${ev.header?.id ?? ev.file}`,
          declared: link.lifecycle.state,
        });
      }
    }
  }

  const counts = emptyCounts();
  const waived = emptyCounts();
  const items: DriftItem[] = drafts.map((d) => {
    const rule = DRIFT_RULES[d.kind];
    const { live, expired } = findWaiver(inv.waivers, rule, d.object, input.date);
    const base = { key: `${d.kind} ${d.object}${d.subject === undefined ? "" : ` ${d.subject}`}`, ...d, ...(rule === undefined ? {} : { rule }) };
    if (live !== undefined) {
      waived[d.kind]++;
      return { ...base, waivedBy: live.id };
    }
    counts[d.kind]++;
    if (expired === undefined) return base;
    return { ...base, detail: `${d.detail} [waiver ${expired.id} expired on ${formatBoth(expired.until)}]`, waiverExpired: expired.id };
  });
  const order = (k: DriftKind) => DRIFT_KINDS.indexOf(k);
  items.sort((a, b) => order(a.kind) - order(b.kind) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  const unwaivedDrift = counts["not-provisioned"] + counts["not-declared"] + counts["changed-on-server"] + counts["never-observed"];
  // Drift found is drift whatever else is unknown; a clean bill needs every server asked and the campaign read.
  const verdict: DriftVerdict = unwaivedDrift > 0 ? "drift" : counts.unreachable > 0 || notJudged.length > 0 ? "cannot-judge" : "clean";
  return {
    version: 1,
    id: input.id,
    stack: input.stack,
    at: input.at,
    date: input.date,
    inventory: { dir: input.inventoryDir, servers: inv.servers.length, links: inv.linksById.size },
    provisionedFrom: input.provisionedFrom,
    ...(input.provisioned === undefined ? {} : { provisionedServers: Object.keys(input.provisioned.servers).length }),
    ...(ev === undefined ? {} : { results: { file: ev.file, ...(ev.header === undefined ? {} : { campaign: ev.header.id }), ...(ev.footer === undefined ? {} : { finishedAt: ev.footer.finishedAt }) } }),
    notJudged,
    checked,
    counts,
    waived,
    verdict,
    exitCode: verdict === "clean" ? 0 : verdict === "drift" ? 1 : 2,
    items,
    facts: input.facts.map((f) => ({ server: f.server, reachable: f.reachable, ...(f.error === undefined ? {} : { error: f.error }), at: f.at, files: Object.keys(f.files).length, listening: f.listening.length, versions: f.versions })),
  };
}

// ------------------------------------------------------------------------------------------
// The provisioned state, read at the boundary: the stack's `servers` output or a JSON file.

const HEX64 = /^[0-9a-f]{64}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseListen(v: unknown, where: string, problems: string[]): Listen | undefined {
  if (!isRecord(v) || (v.proto !== "tcp" && v.proto !== "udp") || typeof v.address !== "string" || typeof v.port !== "number" || !Number.isInteger(v.port) || v.port < 1 || v.port > 65535) {
    problems.push(`${where}: expected { proto: tcp|udp, address, port 1–65535 }`);
    return undefined;
  }
  return { proto: v.proto, address: v.address, port: v.port };
}

function parseServer(id: string, v: unknown, problems: string[]): ProvisionedServer | undefined {
  const where = `servers.${id}`;
  const before = problems.length;
  if (!isRecord(v)) {
    problems.push(`${where}: expected an object`);
    return undefined;
  }
  if (typeof v.address !== "string") problems.push(`${where}.address: expected a string`);
  if (!Array.isArray(v.roles) || !v.roles.every((r) => typeof r === "string")) problems.push(`${where}.roles: expected a list of role names`);
  const files = dataRecord<string>();
  if (!isRecord(v.files)) problems.push(`${where}.files: expected { path: sha256 }`);
  else {
    for (const [path, hash] of Object.entries(v.files)) {
      if (!path.startsWith("/")) problems.push(`${where}.files: "${path}" is not an absolute path`);
      else if (typeof hash !== "string" || !HEX64.test(hash)) problems.push(`${where}.files["${path}"]: expected a sha256 (64 hex digits)`);
      else files[path] = hash;
    }
  }
  const services: { name: string; listens: Listen[] }[] = [];
  if (!Array.isArray(v.services)) problems.push(`${where}.services: expected a list`);
  else {
    for (const [i, s] of v.services.entries()) {
      if (!isRecord(s) || typeof s.name !== "string" || !Array.isArray(s.listens)) {
        problems.push(`${where}.services[${i}]: expected { name, listens: [] }`);
        continue;
      }
      const listens = s.listens.map((l, j) => parseListen(l, `${where}.services[${i}].listens[${j}]`, problems)).filter((l) => l !== undefined);
      services.push({ name: s.name, listens });
    }
  }
  if (typeof v.stationsHash !== "string" || !HEX64.test(v.stationsHash)) problems.push(`${where}.stationsHash: expected a sha256 (64 hex digits)`);
  if (typeof v.stations !== "number" || !Number.isInteger(v.stations) || v.stations < 0) problems.push(`${where}.stations: expected a count`);
  if (problems.length > before) return undefined;
  return { address: v.address as string, roles: v.roles as string[], files, services, stationsHash: v.stationsHash as string, stations: v.stations as number };
}

/**
 * A provisioned state from JSON: `{ stack, servers: { id: ProvisionedServer } }`
 * (a file written for review), or the `servers` output alone. Every problem is
 * reported at once; the caller names the file.
 */
export function parseProvisioned(value: unknown, stack: string): { state?: ProvisionedState; problems: string[] } {
  const problems: string[] = [];
  if (!isRecord(value)) return { problems: ["expected a JSON object: { stack, servers: { <id>: … } }"] };
  const wrapped = isRecord(value.servers);
  const servers = wrapped ? (value.servers as Record<string, unknown>) : value;
  if (wrapped && value.stack !== undefined && value.stack !== stack) problems.push(`stack: the state is stack "${String(value.stack)}"'s, not "${stack}"'s`);
  const out = dataRecord<ProvisionedServer>();
  for (const [id, v] of Object.entries(servers)) {
    const parsed = parseServer(id, v, problems);
    if (parsed !== undefined) out[id] = parsed;
  }
  return problems.length > 0 ? { problems } : { state: { stack, servers: out }, problems };
}

// ------------------------------------------------------------------------------------------
// The latest report of a stack, where the gate reads it.

/** `<state>/drift/<stack>.json`. */
export function driftFile(driftDir: string, stack: string): string {
  return join(driftDir, `${stack}.json`);
}

export async function writeLatestDrift(driftDir: string, report: DriftReport): Promise<string> {
  const file = driftFile(driftDir, report.stack);
  await writeFileAtomic(file, `${JSON.stringify(report, null, 1)}\n`);
  return file;
}

export type LatestDrift =
  | { readonly found: true; readonly file: string; readonly report: DriftReport; readonly ageHours: number }
  | { readonly found: false; readonly file: string; readonly reason: string };

/** The stack's latest drift report, with its age at `now`; never throws (the reason says what is wrong). */
export async function readLatestDrift(driftDir: string, stack: string, now: Date): Promise<LatestDrift> {
  const file = driftFile(driftDir, stack);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return { found: false, file, reason: `no drift report of stack ${stack} (${file}): run \`amadegi drift --stack ${stack}\`` };
  }
  let report: unknown;
  try {
    report = JSON.parse(text);
  } catch {
    return { found: false, file, reason: `${file} is not JSON: run \`amadegi drift --stack ${stack}\` again` };
  }
  if (!isRecord(report) || report.version !== 1 || report.stack !== stack || typeof report.at !== "string" || !Array.isArray(report.items) || !isRecord(report.counts) || typeof report.checked !== "number") {
    return { found: false, file, reason: `${file} is not a drift report of stack ${stack} (version 1): run \`amadegi drift --stack ${stack}\` again` };
  }
  if (parseInstant(report.at) === undefined) return { found: false, file, reason: `${file} is dated ${JSON.stringify(report.at.slice(0, 40))}, not a time: run \`amadegi drift --stack ${stack}\` again` };
  const ageHours = Math.round(((now.getTime() - Date.parse(report.at)) / 3_600_000) * 100) / 100;
  return { found: true, file, report: report as unknown as DriftReport, ageHours };
}

// ------------------------------------------------------------------------------------------
// The run: everything around computeDrift (reads, SSH, history, the latest file). Not pure.

export interface DriftRunOptions {
  readonly stack: string;
  /** Where the stack settings live (default `stacks`): `amadegi:probe` (allow, netns, pins) and `amadegi:ssh`. */
  readonly stacksDir?: string;
  readonly environment: ServerTarget["environment"];
  readonly inventory: string;
  /** The stack's provisioned state: its outputs, or a file (the caller knows which; `from` names it). */
  readonly provisioned: () => Promise<{ readonly state: ProvisionedState | undefined; readonly from: string }>;
  /** A results file; default: the newest `<stack>-*.jsonl` in resultsDir. */
  readonly results?: string;
  /** Default `.amadegi/results`. */
  readonly resultsDir?: string;
  /** The key to log in with; default: the pins overlay's control key, else `amadegi:ssh.identityFile`. */
  readonly identityFile?: string;
  /** Where the latest report of each stack is written (absent: not written). */
  readonly driftDir?: string;
  /** The history database (absent: not recorded, no changes shown). */
  readonly history?: string;
  readonly now?: Date;
  /** Per server (default 20 s). */
  readonly timeoutMs?: number;
  readonly concurrency?: number;
  /** argv prefix for ssh (default ["ssh"]). */
  readonly ssh?: readonly string[];
}

export type DriftOutcome = { readonly ran: false; readonly findings: readonly Finding[] } | { readonly ran: true; readonly report: DriftReport; readonly file?: string };

const sshKey = object({ identityFile: optional(text({ max: 500 }), "the private key provisioning and drift log in with (a path, never the key)") });

/** The newest results file of a stack: `<dir>/<stack>-*.jsonl` by modification time. */
export async function newestResults(dir: string, stack: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.startsWith(`${stack}-`) && n.endsWith(".jsonl"));
  } catch {
    return undefined;
  }
  const dated = await Promise.all(names.map(async (n) => ({ n, t: (await stat(join(dir, n))).mtimeMs })));
  const newest = dated.sort((a, b) => b.t - a.t || (a.n < b.n ? 1 : -1))[0];
  return newest === undefined ? undefined : join(dir, newest.n);
}

/** The latest campaign of the stack, if it is fit to say what was observed; else why not. */
async function campaignEvidence(o: DriftRunOptions): Promise<{ evidence?: Evidence; problem?: string }> {
  const dir = o.resultsDir ?? join(".amadegi", "results");
  const file = o.results ?? (await newestResults(dir, o.stack));
  if (file === undefined) return { problem: `no results of stack ${o.stack} in ${dir}: run \`amadegi check --stack ${o.stack}\`, or pass --results FILE` };
  const ev = await readEvidence(file);
  const problems: string[] = [];
  if (ev.header === undefined) problems.push("it has no campaign header");
  else if (ev.header.stack !== o.stack) problems.push(`it is a campaign of stack ${ev.header.stack}`);
  if (ev.footer === undefined) problems.push("it has no end record (the campaign was interrupted)");
  else if (!ev.footer.valid) problems.push(`campaign ${ev.footer.id} is marked invalid`);
  if (ev.damaged.length > 0) problems.push(`${ev.damaged.length} damaged line${ev.damaged.length === 1 ? "" : "s"}`);
  if (problems.length > 0) return { problem: `results ${file} cannot say what was observed: ${problems.join("; ")}` };
  return { evidence: ev };
}

export async function runDrift(o: DriftRunOptions): Promise<DriftOutcome> {
  const now = o.now ?? new Date();
  const stacksDir = o.stacksDir ?? "stacks";
  const settings = readStackSettings(o.stack, stacksDir);
  if (settings.probe === undefined) return { ran: false, findings: settings.findings };
  const probe = settings.probe;
  // The namespace guard (the CLI re-runs itself inside it first): never SSH to a stack's addresses from elsewhere.
  if (probe.netns !== undefined && !inNetns(probe.netns)) {
    throw new ProbeError(`stack ${o.stack} is reached from network namespace ${probe.netns} (${settings.file} amadegi:probe.netns), and this process is not inside it; nothing was sent`, { hint: `run \`amadegi drift --stack ${o.stack}\` (it re-runs itself inside ${probe.netns})` });
  }
  const allow = parseAllow(probe.allow, `${settings.file} amadegi:probe.allow`);
  const loaded = await loadInventory(o.inventory);
  if (loaded.inventory === undefined || hasErrors(loaded.findings)) return { ran: false, findings: loaded.findings.filter((f) => f.severity === "error" && f.waived === undefined) };
  const inv = loaded.inventory;

  let pins: ReadonlyMap<string, ServerPin> | undefined;
  let controlKey: string | undefined;
  if (probe.pins !== undefined) {
    const file = pinsPath(probe.pins, stacksDir);
    if (!existsSync(file)) throw new ProbeError(`the pins overlay ${file} (${settings.file} amadegi:probe.pins) does not exist`, { file, hint: "run `amadegi rehearsal up` first (it writes the overlay)" });
    const read = readPins(file, inv.servers, { stack: o.stack });
    if (read.pins === undefined) return { ran: false, findings: read.findings };
    pins = read.pins;
    controlKey = read.controlKey;
  }
  const ssh = readStackKey(settings.file, "amadegi:ssh", sshKey);
  if (ssh.findings.some((f) => f.severity === "error")) return { ran: false, findings: ssh.findings };
  const identityFile = o.identityFile ?? controlKey ?? ssh.value?.identityFile;

  const declared = new Map<string, RoleRender[]>();
  for (const s of inv.servers) declared.set(s.id, renderServer(inv, s.id, { root: pins?.get(s.id)?.root ?? "", environment: o.environment, address: s.address }));
  const provisioned = await o.provisioned();
  const requests = inv.servers.map((s) => {
    const pin = pins?.get(s.id);
    const server: FactsServer = { id: s.id, address: s.address, port: pin?.port ?? s.ssh.port, user: pin?.user ?? s.ssh.user, hostKey: pin?.hostKey ?? s.ssh.hostKey, root: pin?.root ?? "" };
    return { server, expected: factsExpectation(declared.get(s.id), provisioned.state?.servers[s.id]) };
  });
  const facts = await collectAllFacts(requests, {
    allow,
    ...(identityFile === undefined ? {} : { identityFile }),
    ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }),
    ...(o.concurrency === undefined ? {} : { concurrency: o.concurrency }),
    ...(o.ssh === undefined ? {} : { ssh: o.ssh }),
  });
  const { evidence, problem } = await campaignEvidence(o);
  const at = now.toISOString();
  let report = computeDrift({
    id: `drift-${o.stack}-${at.replace(/[:.]/g, "-")}-${randomBytes(3).toString("hex")}`,
    stack: o.stack,
    at,
    date: todayIn(inv.election.timeZone, now),
    inventory: inv,
    inventoryDir: o.inventory,
    declared,
    provisioned: provisioned.state,
    provisionedFrom: provisioned.from,
    facts,
    ...(evidence === undefined ? {} : { evidence }),
    ...(problem === undefined ? {} : { evidenceProblem: problem }),
  });
  if (o.history !== undefined) report = { ...report, changes: recordDrift(o.history, report) };
  const file = o.driftDir === undefined ? undefined : await writeLatestDrift(o.driftDir, report);
  return { ran: true, report, ...(file === undefined ? {} : { file }) };
}

function recordDrift(path: string, report: DriftReport): DriftChanges {
  const history = new History(path);
  try {
    const waived = Object.values(report.waived).reduce((a, n) => a + n, 0);
    history.recordDrift(
      { id: report.id, stack: report.stack, at: report.at, verdict: report.verdict, checked: report.checked, counts: report.counts, waived },
      report.items.map((i) => ({ key: i.key, kind: i.kind, object: i.object, owner: i.owner, ...(i.waivedBy === undefined ? {} : { waivedBy: i.waivedBy }) })),
    );
    const c = history.driftChangesSince(report.id);
    return { ...(c.previous === undefined ? {} : { previous: c.previous }), appeared: c.appeared.map((i) => i.key), resolved: c.resolved.map((i) => i.key) };
  } finally {
    history.close();
  }
}
