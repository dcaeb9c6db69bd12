import { addDays, formatBoth, type Inventory, type IsoDate, silencesOf, waiverLookup } from "../../model/index.ts";
import { type Listen, type ProvisionedServer, type ProvisionedState, type RoleRender, type ServerFacts, TLS_FILES } from "../../model/render/index.ts";
import { listensOn } from "../../probe/facts.ts";
import type { Evidence } from "../evidence.ts";
import { OUR_TEAM } from "../owners.ts";
import { declaredServer } from "./declared.ts";
import { DRIFT_KINDS, DRIFT_RULES, type DriftItem, type DriftKind, type DriftReport, type DriftVerdict, emptyCounts } from "./types.ts";

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

/** A hash for a person: its first 12 hex digits. */
const short = (hash: string | null | undefined): string => (hash === undefined ? "none" : hash === null ? "missing" : hash.slice(0, 12));

/** Files the PKI writes on a server: provisioned, never rendered from the inventory. */
const ISSUED: ReadonlySet<string> = new Set(Object.values(TLS_FILES));

const listenText = (l: Listen): string => `${l.proto} ${l.address}:${l.port}`;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
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
  if (changed.length > 0)
    out.push(`${plural(changed.length, "file")}: ${changed.slice(0, 5).join(", ")}${changed.length > 5 ? `, … ${changed.length - 5} more` : ""}`);
  if (declared.stationsHash !== provisioned.stationsHash)
    out.push(`stations ${provisioned.stations} → ${declared.stations}${declared.stations === provisioned.stations ? " (other stations)" : ""}`);
  const dServices = declared.services.map(serviceKey).sort().join(" ");
  const pServices = provisioned.services.map(serviceKey).sort().join(" ");
  if (dServices !== pServices)
    out.push(
      `services ${provisioned.services.map((s) => s.name).join(",") || "none"} → ${declared.services.map((s) => s.name).join(",") || "none"}` +
        `${dServices.replace(/=[^ ]*/g, "") === pServices.replace(/=[^ ]*/g, "") ? " (listens differ)" : ""}`,
    );
  return out;
}

type Draft = Omit<DriftItem, "key" | "rule" | "waivedBy" | "waiverExpired">;

/**
 * Why the devices' CRL the stack made lapses too early, if it does: its nextUpdate is before the
 * end of the day the certificates must last to (election day plus the policy's margin), or has
 * passed. A gateway whose CRL has lapsed refuses every device (nginx checks nextUpdate).
 */
function crlLapse(input: DriftInput): string | undefined {
  const next = input.provisioned?.crlNextUpdate;
  if (next === undefined) return undefined;
  const { day, policy } = input.inventory.election;
  const last = addDays(day, policy.certMarginDays);
  const fix = "run amadegi up (or amadegi devices publish) to publish a CRL valid past it";
  if (Date.parse(next) <= Date.parse(input.at)) return `the devices' CRL lapsed at ${next}: nginx refuses every device's certificate; ${fix}`;
  if (Date.parse(next) < Date.parse(`${last}T23:59:59Z`))
    return (
      `the devices' CRL lapses at ${next}, before ${formatBoth(last)} (election day plus the ${policy.certMarginDays}-day margin): ` +
      `nginx will then refuse every device; ${fix}`
    );
  return undefined;
}

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
  const lapse = crlLapse(input);

  for (const s of inv.servers) {
    const renders = input.declared.get(s.id);
    if (renders === undefined) throw new Error(`computeDrift: no declared renders for server ${s.id} (render every server of the inventory)`);
    const declared = declaredServer(s.address, renders);
    const p = Object.hasOwn(provisioned, s.id) ? provisioned[s.id] : undefined;

    // Declared ↔ provisioned: has `up` run since the inventory changed?
    checked++;
    if (p === undefined) {
      server(
        "not-provisioned",
        s.id,
        `declared (${s.roles.join(", ")} at ${s.address}, ${plural(Object.keys(declared.files).length, "file")}), not in the stack's outputs`,
        { declared: `${Object.keys(declared.files).length} files, ${declared.stations} stations` },
      );
    } else {
      const differences = provisionDifferences(declared, p);
      if (differences.length > 0)
        server("not-provisioned", s.id, `the inventory changed since the stack provisioned it: ${differences.join("; ")}`, {
          declared: `stations ${short(declared.stationsHash)}`,
          provisioned: `stations ${short(p.stationsHash)}`,
        });
    }

    // The CRL the gateway serves must outlast the election (ADR 0008): nginx refuses every device once it lapses.
    if (p !== undefined && Object.hasOwn(p.files, TLS_FILES.devicesCrl) && input.provisioned?.crlNextUpdate !== undefined) {
      checked++;
      if (lapse !== undefined)
        server("not-provisioned", s.id, lapse, { subject: TLS_FILES.devicesCrl, provisioned: `nextUpdate ${input.provisioned.crlNextUpdate}` });
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
      server(
        "changed-on-server",
        s.id,
        seen === null
          ? `${path} is missing on the server (the stack wrote ${short(hash)})`
          : `${path} changed on the server: the stack wrote ${short(hash)}, the server has ${short(seen)}`,
        { subject: path, ...values },
      );
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

  // A monitor's silences: one per waiver that accepts a station's or link's weakness (silencesOf), none besides.
  const silences = silencesOf(inv);
  for (const f of input.facts) {
    if (f.silences === undefined || !inv.serversById.has(f.server)) continue;
    checked++;
    const subject = "alertmanager silences";
    if ("error" in f.silences) {
      server("changed-on-server", f.server, `${f.silences.error}: the waivers' silences could not be read back`, { subject });
      continue;
    }
    const have = new Set(f.silences.tags);
    const want = new Set(silences.map((x) => x.tag));
    const missing = silences.filter((x) => !have.has(x.tag)).map((x) => x.waiver);
    const extra = f.silences.tags.filter((t) => !want.has(t));
    if (missing.length === 0 && extra.length === 0) continue;
    const said = [
      ...(missing.length === 0 ? [] : [`no silence for waiver${missing.length === 1 ? "" : "s"} ${missing.join(", ")}`]),
      ...(extra.length === 0 ? [] : [`${plural(extra.length, "silence")} no current waiver declares (${extra.slice(0, 3).join(", ")})`]),
    ];
    server("changed-on-server", f.server, `Alertmanager's silences differ from the waivers': ${said.join("; ")}; amadegi up makes them again`, {
      subject,
      declared: plural(want.size, "silence"),
      observed: plural(have.size, "silence"),
    });
  }

  // Provisioned, no longer declared.
  for (const [id, p] of Object.entries(provisioned).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (inv.serversById.has(id)) continue;
    checked++;
    server(
      "not-declared",
      id,
      `provisioned (${p.roles.join(", ") || "no roles"} at ${p.address}, ${plural(Object.keys(p.files).length, "file")}), ` +
        `no longer in the inventory: amadegi up removes it`,
      { provisioned: `${Object.keys(p.files).length} files` },
    );
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
      if (!observed)
        server(
          "never-observed",
          s.id,
          `${s.id} (${s.address}) has ${seen === undefined ? "no result" : "only unknown results"} in campaign ${ev.header?.id ?? ev.file}`,
        );
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
          detail:
            `${link.lifecycle.state} ${link.medium} ${link.operator} link: ` + `no probe result and no device check-in in campaign ${ev.header?.id ?? ev.file}`,
          declared: link.lifecycle.state,
        });
      }
    }
  }

  const counts = emptyCounts();
  const waived = emptyCounts();
  const waiverOf = waiverLookup(inv.waivers);
  const items: DriftItem[] = drafts.map((d) => {
    const rule = DRIFT_RULES[d.kind];
    const { live, expired } = waiverOf(rule === undefined ? [] : [rule], [d.object], input.date);
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
    ...(ev === undefined
      ? {}
      : {
          results: {
            file: ev.file,
            ...(ev.header === undefined ? {} : { campaign: ev.header.id }),
            ...(ev.footer === undefined ? {} : { finishedAt: ev.footer.finishedAt }),
          },
        }),
    notJudged,
    checked,
    counts,
    waived,
    verdict,
    exitCode: verdict === "clean" ? 0 : verdict === "drift" ? 1 : 2,
    items,
    facts: input.facts.map((f) => ({
      server: f.server,
      reachable: f.reachable,
      ...(f.error === undefined ? {} : { error: f.error }),
      at: f.at,
      files: Object.keys(f.files).length,
      listening: f.listening.length,
      versions: f.versions,
    })),
  };
}
