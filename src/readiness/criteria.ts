import {
  countingLinks,
  type CriterionId,
  daysBetween,
  formatBoth,
  type Inventory,
  isBlindSpot,
  type IsoDate,
  type Link,
  noDiversePair,
  parseInstant,
  popChain,
  type Role,
  type Server,
  type Station,
  waiverLookup,
} from "../model/index.ts";
import type { Criterion, CriterionContext, Measure, Offender } from "./criterion.ts";
import type { DriftItem } from "./drift/index.ts";
import { type Evidence, isHealthy, type Observed } from "./evidence.ts";
import { OUR_TEAM } from "./owners.ts";

/**
 * The readiness criteria, by id. Each measures, over the inventory and the
 * latest evidence, how many objects (stations, links, devices, servers, roles)
 * meet it and which do not, with the owner of each one that does not: the
 * operator, the municipality, the education department, the governorate, or
 * our own team (`it-committee`). The judge (judge.ts, for the gate) applies
 * thresholds and waivers to these measures; a criterion never decides pass or
 * fail itself. What a criterion is: criterion.ts.
 *
 * The model owns the list of ids (CRITERIA in src/model/schema/files.ts, so
 * `validate` catches a typo); this registry implements every one of them, and
 * a test keeps the two identical.
 */

// Severity bands: what the committee should chase first.
const SEVERITY = { overdue: 100, down: 50, unreachable: 40, notObserved: 30, unknown: 20, pending: 10 } as const;

function statusSeverity(status: string): number {
  return status === "down" ? SEVERITY.down : status === "unreachable" ? SEVERITY.unreachable : status === "unknown" ? SEVERITY.unknown : SEVERITY.notObserved;
}

/** What the evidence says of a link: its probes, or else its device's check-in over it. */
export function linkObserved(ev: Evidence, link: Link): Observed | undefined {
  return ev.links.get(link.id) ?? ev.checkins.get(link.id);
}

function describe(o: Observed | undefined): string {
  if (o === undefined) return "not observed in the results";
  return o.detail === undefined ? o.status : `${o.status}: ${o.detail}`;
}

function linkOffender(station: Station, link: Link, reason: string, severity: number): Offender {
  return { id: link.id, kind: "link", station: station.id, district: station.district, owner: link.lifecycle.owner, reason, severity };
}

function ratio(items: number, offenders: Offender[], note?: string): Measure {
  return { total: items, good: items - offenders.length, offenders, ...(note === undefined ? {} : { note }) };
}

function needsEvidence(ctx: CriterionContext): Evidence {
  if (ctx.evidence === undefined) throw new Error("a criterion that needs results ran without them");
  return ctx.evidence;
}

function lateness(link: Link, date: IsoDate): number {
  const committed = link.lifecycle.committed;
  return committed !== undefined && committed < date ? daysBetween(committed, date) : 0;
}

function notLive(station: Station, link: Link, date: IsoDate): Offender {
  const late = lateness(link, date);
  const committed = link.lifecycle.committed;
  const when =
    committed === undefined
      ? "no committed date"
      : late > 0
        ? `committed for ${formatBoth(committed)}, ${late} day${late === 1 ? "" : "s"} late`
        : `committed for ${formatBoth(committed)}`;
  return linkOffender(
    station,
    link,
    `${link.medium} ${link.operator} link is ${link.lifecycle.state} (${when})`,
    late > 0 ? SEVERITY.overdue + late : SEVERITY.pending,
  );
}

const linksDeclared: Criterion = {
  id: "links-declared",
  title: { en: "every station has the links it needs declared", fa: "لینک‌های لازم هر شعبه ثبت شده است" },
  needsResults: false,
  waivedBy: ["redundancy.fixed-diversity", "redundancy.mobile-none"],
  measure({ inventory }) {
    const offenders: Offender[] = [];
    for (const station of inventory.stations) {
      const need = station.kind === "fixed" ? 2 : 1;
      const declared = station.links.filter((l) => l.lifecycle.state !== "retired").length;
      if (declared < need) {
        offenders.push({
          id: station.id,
          kind: "station",
          station: station.id,
          district: station.district,
          owner: OUR_TEAM,
          reason: `${station.kind} station declares ${declared} link${declared === 1 ? "" : "s"}, needs ${need}`,
          severity: SEVERITY.pending + need - declared,
        });
      }
    }
    return ratio(inventory.stations.length, offenders);
  },
};

const linksOrdered: Criterion = {
  id: "links-ordered",
  title: { en: "every declared link is ordered from its owner", fa: "همه لینک‌های ثبت‌شده سفارش داده شده است" },
  needsResults: false,
  waivedBy: ["lifecycle.overdue"],
  measure({ inventory, date }) {
    let total = 0;
    const offenders: Offender[] = [];
    for (const station of inventory.stations) {
      for (const link of station.links) {
        if (link.lifecycle.state === "retired") continue;
        total++;
        if (link.lifecycle.state === "planned") offenders.push(notLive(station, link, date));
      }
    }
    return ratio(total, offenders);
  },
};

const linksLive: Criterion = {
  id: "links-live",
  title: { en: "every counting link is live and answers", fa: "همه لینک‌ها برقرار است و پاسخ می‌دهد" },
  needsResults: true,
  waivedBy: ["lifecycle.overdue"],
  measure(ctx) {
    const ev = needsEvidence(ctx);
    let total = 0;
    const offenders: Offender[] = [];
    for (const station of ctx.inventory.stations) {
      for (const link of countingLinks(ctx.inventory, station)) {
        total++;
        if (link.lifecycle.state !== "live") {
          offenders.push(notLive(station, link, ctx.date));
          continue;
        }
        const seen = linkObserved(ev, link);
        if (!isHealthy(seen?.status)) offenders.push(linkOffender(station, link, `live, but ${describe(seen)}`, statusSeverity(seen?.status ?? "")));
      }
    }
    return ratio(total, offenders);
  },
};

const linksLiveByCommitted: Criterion = {
  id: "links-live-by-committed",
  title: { en: "links are live by the date their owner committed to", fa: "لینک‌ها تا تاریخ تعهدشده برقرار شده است" },
  needsResults: false,
  waivedBy: ["lifecycle.overdue"],
  measure({ inventory, date }) {
    let total = 0;
    const offenders: Offender[] = [];
    for (const station of inventory.stations) {
      for (const link of station.links) {
        const committed = link.lifecycle.committed;
        if (link.lifecycle.state === "retired" || committed === undefined || committed > date) continue;
        total++;
        if (link.lifecycle.state !== "live") offenders.push(notLive(station, link, date));
      }
    }
    return ratio(total, offenders, "links whose committed date has come");
  },
};

const fixedDiversePaths: Criterion = {
  id: "fixed-diverse-paths",
  title: { en: "every fixed station has two healthy, diverse paths", fa: "هر شعبه ثابت دو مسیر سالم و مستقل دارد" },
  needsResults: true,
  waivedBy: ["redundancy.fixed-diversity"],
  measure(ctx) {
    const ev = needsEvidence(ctx);
    const inv = ctx.inventory;
    let total = 0;
    const offenders: Offender[] = [];
    for (const station of inv.stations) {
      if (station.kind !== "fixed") continue;
      total++;
      const links = countingLinks(inv, station);
      const healthy = links.filter((l) => l.lifecycle.state === "live" && isHealthy(linkObserved(ev, l)?.status));
      if (hasDiversePair(inv, healthy)) continue;
      const sick = links.filter((l) => !healthy.includes(l));
      const first = sick[0];
      const reason =
        sick.length > 0
          ? `${healthy.length} healthy path${healthy.length === 1 ? "" : "s"}; ` +
            `${sick.map((l) => `${l.id} ${l.lifecycle.state === "live" ? describe(linkObserved(ev, l)) : l.lifecycle.state}`).join("; ")}`
          : hasDiversePair(inv, links)
            ? "no two healthy paths"
            : `${links.length} counting link${links.length === 1 ? "" : "s"}, none diverse (same operator or shared exchange/tower)`;
      offenders.push({
        id: station.id,
        kind: "station",
        station: station.id,
        district: station.district,
        owner: first?.lifecycle.owner ?? OUR_TEAM,
        reason,
        severity: SEVERITY.down + (2 - Math.min(2, healthy.length)) * 10,
      });
    }
    return ratio(total, offenders);
  },
};

function hasDiversePair(inv: Inventory, links: readonly Link[]): boolean {
  return noDiversePair(links, (l) => popChain(inv, l)) === undefined;
}

function serverOffender(server: Server, reason: string, status: string): Offender {
  return { id: server.id, kind: "server", owner: OUR_TEAM, reason, severity: statusSeverity(status) };
}

/** Every server of a role healthy, judged over all its probes or over one kind. */
function roleHealthy(id: CriterionId, role: Role, kind: "dns" | "ntp" | undefined, title: Criterion["title"]): Criterion {
  return {
    id,
    title,
    needsResults: true,
    waivedBy: [],
    measure(ctx) {
      const ev = needsEvidence(ctx);
      const servers = ctx.inventory.servers.filter((s) => s.roles.includes(role));
      const offenders: Offender[] = [];
      for (const server of servers) {
        const seen = ev.servers.get(server.id);
        const observed = kind === undefined ? seen?.worst : seen?.byKind.get(kind);
        if (!isHealthy(observed?.status)) {
          const what = kind === undefined ? "" : `${kind} `;
          offenders.push(serverOffender(server, `${role} ${server.id} (${server.address}): ${what}${describe(observed)}`, observed?.status ?? ""));
        }
      }
      return ratio(servers.length, offenders, servers.length === 0 ? `no ${role} server in the inventory` : undefined);
    },
  };
}

const centralNPlusOne: Criterion = {
  id: "central-roles-n-plus-1",
  title: { en: "every central role is healthy with N+1 servers", fa: "هر نقش مرکزی با N+1 سرور سالم است" },
  needsResults: true,
  waivedBy: [],
  measure(ctx) {
    const ev = needsEvidence(ctx);
    const inv = ctx.inventory;
    const roles = [...new Set(inv.servers.flatMap((s) => s.roles))].sort();
    const offenders: Offender[] = [];
    for (const role of roles) {
      const servers = inv.servers.filter((s) => s.roles.includes(role));
      const healthy = servers.filter((s) => isHealthy(ev.servers.get(s.id)?.worst.status));
      const caps = healthy.map((s) => s.capacity?.stations);
      let reason: string | undefined;
      if (role === "gateway" && caps.length > 0 && caps.every((c) => c !== undefined)) {
        // N+1 by capacity: losing the largest healthy gateway still serves every station.
        const sum = caps.reduce<number>((a, c) => a + (c ?? 0), 0);
        const spare = sum - Math.max(...caps.map((c) => c ?? 0));
        if (healthy.length < 2 || spare < inv.stations.length)
          reason = `${healthy.length} of ${servers.length} gateways healthy; without the largest they serve ${spare} of ${inv.stations.length} stations`;
      } else if (healthy.length < 2) {
        reason = `${healthy.length} of ${servers.length} ${role} servers healthy; N+1 needs at least 2`;
      }
      if (reason !== undefined) {
        const down = servers.filter((s) => !healthy.includes(s)).map((s) => s.id);
        offenders.push({
          id: `role:${role}`,
          kind: "role",
          owner: OUR_TEAM,
          reason: down.length > 0 ? `${reason} (not healthy: ${down.join(", ")})` : reason,
          severity: SEVERITY.down + (2 - Math.min(2, healthy.length)) * 10,
        });
      }
    }
    return ratio(roles.length, offenders, "roles");
  },
};

/** The first instant that a certificate must still be valid at: the end of election day + margin. */
export function certificateLimit(inv: Inventory): string {
  const day = Date.parse(`${inv.election.day}T00:00:00Z`) + (inv.election.policy.certMarginDays + 1) * 86_400_000;
  return new Date(day).toISOString();
}

const certificatesValid: Criterion = {
  id: "certificates-valid",
  title: {
    en: "certificates stay valid past election day plus the margin",
    fa: "گواهی‌ها تا پس از روز انتخابات به‌اضافه حاشیه معتبر است",
  },
  needsResults: true,
  waivedBy: [],
  measure(ctx) {
    const ev = needsEvidence(ctx);
    const limit = certificateLimit(ctx.inventory);
    const servers = ctx.inventory.servers.filter(
      (s) => s.roles.includes("gateway") || s.roles.includes("auth") || ev.servers.get(s.id)?.certNotAfter !== undefined,
    );
    const offenders: Offender[] = [];
    for (const server of servers) {
      const notAfter = ev.servers.get(server.id)?.certNotAfter;
      if (notAfter === undefined) {
        offenders.push(serverOffender(server, `${server.id}: no certificate observed (no tls or https result)`, ""));
      } else if (parseInstant(notAfter) === undefined) {
        // A date the results file spells as no date is no evidence of validity (fail closed).
        offenders.push(serverOffender(server, `${server.id}: certificate expiry ${JSON.stringify(notAfter.slice(0, 40))} is not a time`, "down"));
      } else if (Date.parse(notAfter) < Date.parse(limit)) {
        const days = Math.floor((Date.parse(limit) - Date.parse(notAfter)) / 86_400_000);
        offenders.push({
          ...serverOffender(
            server,
            `${server.id}: certificate expires ${notAfter}, before ${limit} (election day + ${ctx.inventory.election.policy.certMarginDays} days)`,
            "down",
          ),
          severity: SEVERITY.down + days,
        });
      }
    }
    return ratio(servers.length, offenders, `valid through ${limit}`);
  },
};

const devicesCheckedIn: Criterion = {
  id: "devices-checked-in",
  title: { en: "every device checked in over each of its links", fa: "هر دستگاه از هر لینک خود اتصال گرفته است" },
  needsResults: true,
  waivedBy: [],
  measure(ctx) {
    const ev = needsEvidence(ctx);
    const since = Date.parse(ctx.checkinsSince);
    let total = 0;
    const offenders: Offender[] = [];
    for (const station of ctx.inventory.stations) {
      for (const link of countingLinks(ctx.inventory, station)) {
        total++;
        const c = ev.checkins.get(link.id);
        const device = station.device.serial;
        let reason: string | undefined;
        let severity: number = SEVERITY.notObserved;
        if (c === undefined || c.at === undefined) reason = `device ${device} has not checked in over ${link.id}`;
        else if (parseInstant(c.at) === undefined)
          reason = `device ${device} over ${link.id}: check-in time ${JSON.stringify(c.at.slice(0, 40))} is not a time`;
        else if (Date.parse(c.at) < since) reason = `device ${device} last checked in over ${link.id} at ${c.at}, before ${ctx.checkinsSince}`;
        else if (c.serial !== undefined && c.serial !== device) {
          reason = `device ${c.serial} checked in over ${link.id}, but the station's device is ${device}`;
          severity = SEVERITY.down;
        } else if (!isHealthy(c.status)) {
          reason = `device ${device} over ${link.id}: ${describe(c)}`;
          severity = statusSeverity(c.status);
        }
        if (reason === undefined) continue;
        // A check-in that fails because the link is down is the link owner's; otherwise the district's devices team.
        const probe = ev.links.get(link.id);
        const owner = probe !== undefined && !isHealthy(probe.status) ? link.lifecycle.owner : OUR_TEAM;
        offenders.push({ id: link.id, kind: "device", station: station.id, district: station.district, owner, reason, severity });
      }
    }
    return ratio(total, offenders, `check-ins since ${ctx.checkinsSince}`);
  },
};

const noBlindSpot: Criterion = {
  id: "no-blind-spot",
  title: { en: "no blind spot without an alternative path", fa: "هیچ نقطه کوری بدون مسیر جایگزین نیست" },
  needsResults: false,
  waivedBy: ["redundancy.blind-spot"],
  measure({ inventory }) {
    let total = 0;
    const offenders: Offender[] = [];
    for (const station of inventory.stations) {
      for (const link of station.links) {
        if (link.lifecycle.state === "retired" || !isBlindSpot(inventory, link)) continue;
        total++;
        if (countingLinks(inventory, station).length === 0) {
          offenders.push({
            ...linkOffender(station, link, `blind spot (${link.survey?.signalDbm} dBm) and the station has no other counting link`, SEVERITY.down),
            owner: link.operator,
          });
        }
      }
    }
    return ratio(total, offenders, "blind-spot links");
  },
};

// Drift's own waivers are applied here, kind by kind (a waiver of `drift.changed-on-server` for a
// server accepts its hand-changed files, not its never-observed probes), as of the day judged; the
// gate's own waiver step matches on rule and item only, so this criterion leaves it nothing to do.
const DRIFT_SEVERITY: Readonly<Record<DriftItem["kind"], number>> = {
  "changed-on-server": SEVERITY.down,
  "not-declared": SEVERITY.unreachable,
  "not-provisioned": SEVERITY.notObserved,
  "never-observed": SEVERITY.notObserved,
  unreachable: SEVERITY.unknown,
};

const noUnwaivedDrift: Criterion = {
  id: "no-unwaived-drift",
  title: {
    en: "no unwaived drift between declared, provisioned and observed",
    fa: "هیچ انحراف تأییدنشده‌ای میان اعلام‌شده، پیاده‌شده و مشاهده‌شده نیست",
  },
  needsResults: true,
  waivedBy: [],
  readsDrift: true,
  measure(ctx) {
    const latest = ctx.drift;
    if (latest === undefined)
      return {
        cannotJudge:
          "no drift report was read (the gate reads the results' stack's drift/<stack>.json in the state directory): run `amadegi drift --stack NAME`",
      };
    if (!latest.found) return { cannotJudge: latest.reason };
    const r = latest.report;
    const again = `run \`amadegi drift --stack ${r.stack}\` again`;
    if (latest.ageHours > ctx.milestone.maxAgeHours)
      return {
        cannotJudge:
          `the drift report ${latest.file} is ${latest.ageHours.toFixed(1)} h old, ` +
          `older than milestone ${ctx.milestone.id}'s maximum age of ${ctx.milestone.maxAgeHours} h: ${again}`,
      };
    if (latest.ageHours < -0.1) return { cannotJudge: `the drift report ${latest.file} is dated ${r.at}, in the future: check the clock, then ${again}` };
    const offenders: Offender[] = [];
    const waivers = new Set<string>();
    const waiverOf = waiverLookup(ctx.inventory.waivers);
    for (const item of r.items) {
      if (item.kind === "unreachable") continue;
      const { live, expired } = waiverOf(item.rule === undefined ? [] : [item.rule], [item.object], ctx.date);
      if (live !== undefined) {
        waivers.add(live.id);
        continue;
      }
      const what = item.subject === undefined ? item.detail : item.detail.includes(item.subject) ? item.detail : `${item.subject}: ${item.detail}`;
      offenders.push({
        id: item.object,
        kind: item.objectKind,
        ...(item.station === undefined ? {} : { station: item.station }),
        ...(item.district === undefined ? {} : { district: item.district }),
        owner: item.owner,
        reason:
          `${item.kind}: ${what}` +
          `${expired === undefined || what.includes(`[waiver ${expired.id}`) ? "" : ` [waiver ${expired.id} expired on ${formatBoth(expired.until)}]`}`,
        severity: DRIFT_SEVERITY[item.kind],
      });
    }
    const unreachable = r.items.filter((i) => i.kind === "unreachable");
    // Drift found fails; no drift found is a pass only if every server answered and the campaign was read.
    if (offenders.length === 0 && (unreachable.length > 0 || r.notJudged.length > 0)) {
      const why = [...unreachable.slice(0, 3).map((i) => `${i.object}: ${i.detail}`), ...r.notJudged];
      return {
        cannotJudge:
          `the drift report ${latest.file} is incomplete (${why.join("; ")}` +
          `${unreachable.length > 3 ? `; … ${unreachable.length - 3} more unreachable` : ""})`,
      };
    }
    const note =
      `drift report ${r.id} of ${r.at}` +
      `${waivers.size > 0 ? `; accepted by drift waivers ${[...waivers].sort().join(", ")}` : ""}` +
      `${unreachable.length > 0 ? `; ${unreachable.length} server${unreachable.length === 1 ? "" : "s"} could not be asked` : ""}`;
    return ratio(Math.max(r.checked, offenders.length), offenders, note);
  },
};

const electionDaySignoff: Criterion = {
  id: "election-day-sign-off",
  title: { en: "the committee signed off", fa: "کمیته تأیید کرده است" },
  needsResults: false,
  waivedBy: [],
  signoff: true,
  measure: () => ({ total: 0, good: 0, offenders: [] }),
};

const all: readonly Criterion[] = [
  linksDeclared,
  linksOrdered,
  linksLive,
  linksLiveByCommitted,
  fixedDiversePaths,
  roleHealthy("gateways-up", "gateway", undefined, {
    en: "every gateway answers every probe",
    fa: "همه درگاه‌ها به همه آزمون‌ها پاسخ می‌دهند",
  }),
  roleHealthy("dns-up", "dns", "dns", { en: "every election DNS server answers correctly", fa: "همه سرورهای DNS درست پاسخ می‌دهند" }),
  roleHealthy("ntp-in-sync", "ntp", "ntp", { en: "every time server is in sync", fa: "همه سرورهای زمان هماهنگ‌اند" }),
  centralNPlusOne,
  certificatesValid,
  devicesCheckedIn,
  noBlindSpot,
  noUnwaivedDrift,
  electionDaySignoff,
];

export const CRITERIA_REGISTRY: ReadonlyMap<CriterionId, Criterion> = new Map(all.map((c) => [c.id, c]));
