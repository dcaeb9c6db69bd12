// Each criterion's pass/fail edges over the readiness fixture and synthetic
// results: one thing broken per case, the measured share, the offenders and
// their owners. Then thresholds, waivers (live, expired) and the registry.
import { describe, expect, it } from "vitest";
import { CRITERIA, type CriterionId, midnightIn } from "../../src/model/index.ts";
import type { ProbeResult, Status } from "../../src/probe/types.ts";
import { CRITERIA_REGISTRY } from "../../src/readiness/criteria.ts";
import { readEvidence } from "../../src/readiness/evidence.ts";
import { judge, type Judged } from "../../src/readiness/judge.ts";
import type { SyntheticOptions } from "../../src/readiness/synthetic.ts";
import { DISTRICT, edit, fixtureCopy, inventoryOf, resultsFor, WAIVERS } from "./helpers.ts";

const T7_NOW = new Date("2027-02-17T08:00:00Z");
const T1_NOW = new Date("2027-02-23T08:00:00Z");

type Edit = readonly [file: string, find: string, replace: string];
type Change = (r: ProbeResult) => ProbeResult | undefined;

const status =
  (key: string, s: Status, detail?: string): Change =>
  (r) =>
    r.key === key ? { ...r, status: s, ...(detail === undefined ? {} : { detail }) } : r;
const drop =
  (...keys: string[]): Change =>
  (r) =>
    keys.includes(r.key) ? undefined : r;
const all =
  (...changes: Change[]): Change =>
  (r) =>
    changes.reduce<ProbeResult | undefined>((acc, c) => (acc === undefined ? undefined : c(acc)), r);
const waiver = (rule: string, item: string, until: string): Edit => [
  WAIVERS,
  "waivers: []",
  `waivers:\n  - { id: W-1, rule: ${rule}, item: ${item}, reason: accepted for the test, approvedBy: m-two, until: ${until} }`,
];

interface Case {
  readonly name: string;
  readonly criterion: CriterionId;
  readonly edits?: readonly Edit[];
  readonly results?: Omit<SyntheticOptions, "now">;
  readonly now?: Date;
  readonly date?: string;
  readonly milestone?: string;
  readonly threshold?: number;
  readonly outcome: Judged["outcome"];
  readonly measured?: number;
  /** [offender id, owner] of the unwaived offenders, worst first. */
  readonly offenders?: readonly (readonly [string, string])[];
  readonly reason?: string;
  readonly waived?: readonly string[];
}

async function evaluate(c: Case): Promise<Judged> {
  const root = await fixtureCopy();
  for (const [file, find, replace] of c.edits ?? []) await edit(root, file, find, replace);
  const now = c.now ?? T7_NOW;
  const date = c.date ?? now.toISOString().slice(0, 10);
  const inventory = await inventoryOf(root, date);
  const milestone = inventory.election.milestones.find((m) => m.id === (c.milestone ?? "T-7"));
  if (milestone === undefined) throw new Error("no milestone");
  const evidence = await readEvidence(await resultsFor(root, { now, ...c.results }));
  const criterion = CRITERIA_REGISTRY.get(c.criterion);
  if (criterion === undefined) throw new Error(`no criterion ${c.criterion}`);
  const since = new Date(midnightIn(milestone.checkinsSince ?? milestone.due, inventory.election.timeZone)).toISOString();
  const measure = criterion.measure({ inventory, evidence, date, milestone, checkinsSince: since });
  return judge(criterion, measure, c.threshold ?? 100, inventory.waivers, date);
}

const cases: readonly Case[] = [
  // links-declared
  { name: "every station declares what its kind needs", criterion: "links-declared", outcome: "pass", measured: 100 },
  {
    name: "a fixed station with one link left",
    criterion: "links-declared",
    edits: [
      [
        DISTRICT,
        "{ id: R-2-M, medium: mobile, operator: irancell, pop: TW-MTN-1, survey: { signalDbm: -90 }, lifecycle: { state: live",
        "{ id: R-2-M, medium: mobile, operator: irancell, pop: TW-MTN-1, survey: { signalDbm: -90 }, lifecycle: { state: retired",
      ],
    ],
    outcome: "fail",
    measured: 75,
    offenders: [["R-2", "it-committee"]],
  },
  // links-ordered
  { name: "every link ordered", criterion: "links-ordered", outcome: "pass" },
  {
    name: "a planned fiber is the municipality's",
    criterion: "links-ordered",
    edits: [
      [
        DISTRICT,
        "lifecycle: { state: live, committed: 1405-08-01, owner: municipality }",
        "lifecycle: { state: planned, committed: 1405-08-01, owner: municipality }",
      ],
    ],
    outcome: "fail",
    offenders: [["R-2-F", "municipality"]],
  },
  // links-live
  { name: "every counting link live and answering", criterion: "links-live", outcome: "pass", measured: 100 },
  {
    name: "a live fiber that does not answer",
    criterion: "links-live",
    results: { edit: status("link-icmp/R-1/R-1-F", "down", "10.1.0.1: 100% loss") },
    outcome: "fail",
    measured: 87.5,
    offenders: [["R-1-F", "tci"]],
  },
  {
    name: "87.5% live meets a threshold of 87.5%",
    criterion: "links-live",
    results: { edit: status("link-icmp/R-1/R-1-F", "down") },
    threshold: 87.5,
    outcome: "pass",
  },
  {
    name: "87.5% live misses a threshold of 87.6%",
    criterion: "links-live",
    results: { edit: status("link-icmp/R-1/R-1-F", "down") },
    threshold: 87.6,
    outcome: "fail",
  },
  {
    name: "a link not yet live, late, ranks above a down one",
    criterion: "links-live",
    edits: [
      [
        DISTRICT,
        "lifecycle: { state: live, committed: 1405-09-01, owner: education }",
        "lifecycle: { state: ordered, committed: 1405-09-01, owner: education }",
      ],
    ],
    results: { edit: status("link-icmp/R-1/R-1-F", "down") },
    outcome: "fail",
    offenders: [
      ["R-4-F", "education"],
      ["R-1-F", "tci"],
    ],
  },
  {
    name: "a link proven only by check-ins, with none: not observed",
    criterion: "links-live",
    results: { edit: drop("device-checkin/R-2/R-2-M") },
    outcome: "fail",
    offenders: [["R-2-M", "irancell"]],
  },
  { name: "a blind-spot link does not count", criterion: "links-live", results: { edit: drop("device-checkin/R-4/R-4-M") }, outcome: "pass" },
  // links-live-by-committed
  { name: "committed links live", criterion: "links-live-by-committed", outcome: "pass" },
  {
    name: "a link committed for today and not live",
    criterion: "links-live-by-committed",
    date: "2026-11-22",
    edits: [
      [
        DISTRICT,
        "lifecycle: { state: live, committed: 1405-09-01, owner: education }",
        "lifecycle: { state: installed, committed: 1405-09-01, owner: education }",
      ],
    ],
    outcome: "fail",
    offenders: [["R-4-F", "education"]],
  },
  {
    name: "the day before its committed date it is not due",
    criterion: "links-live-by-committed",
    date: "2026-11-21",
    edits: [
      [
        DISTRICT,
        "lifecycle: { state: live, committed: 1405-09-01, owner: education }",
        "lifecycle: { state: installed, committed: 1405-09-01, owner: education }",
      ],
    ],
    outcome: "pass",
  },
  // fixed-diverse-paths
  { name: "two healthy diverse paths everywhere", criterion: "fixed-diverse-paths", outcome: "pass", measured: 100 },
  {
    name: "the backup path down: the backup's operator owns it",
    criterion: "fixed-diverse-paths",
    results: { edit: status("link-icmp/R-1/R-1-M", "down") },
    outcome: "fail",
    offenders: [["R-1", "mci"]],
  },
  {
    name: "two links through one exchange are one path",
    criterion: "fixed-diverse-paths",
    edits: [["inventory/operators.yaml", "{ id: AG-MCI, kind: exchange }", "{ id: AG-MCI, kind: exchange, backhaul: EX-1 }"]],
    outcome: "fail",
    offenders: [["R-1", "it-committee"]],
  },
  {
    name: "a live waiver accepts it, counted apart, with its approver",
    criterion: "fixed-diverse-paths",
    edits: [
      ["inventory/operators.yaml", "{ id: AG-MCI, kind: exchange }", "{ id: AG-MCI, kind: exchange, backhaul: EX-1 }"],
      waiver("redundancy.fixed-diversity", "R-1", "2027-02-17"),
    ],
    outcome: "pass",
    measured: 66.66,
    waived: ["R-1 W-1 m-two"],
  },
  {
    name: "the day after the waiver's until date it fails",
    criterion: "fixed-diverse-paths",
    date: "2027-02-18",
    edits: [
      ["inventory/operators.yaml", "{ id: AG-MCI, kind: exchange }", "{ id: AG-MCI, kind: exchange, backhaul: EX-1 }"],
      waiver("redundancy.fixed-diversity", "R-1", "2027-02-17"),
    ],
    outcome: "fail",
    offenders: [["R-1", "it-committee"]],
    reason: "expired waiver: W-1",
  },
  {
    name: "an expired waiver fails the criterion even within its threshold",
    criterion: "fixed-diverse-paths",
    date: "2027-02-18",
    threshold: 50,
    edits: [
      ["inventory/operators.yaml", "{ id: AG-MCI, kind: exchange }", "{ id: AG-MCI, kind: exchange, backhaul: EX-1 }"],
      waiver("redundancy.fixed-diversity", "R-1", "2027-02-17"),
    ],
    outcome: "fail",
  },
  // gateways-up, dns-up, ntp-in-sync
  { name: "every gateway answers", criterion: "gateways-up", outcome: "pass" },
  {
    name: "a gateway's https down",
    criterion: "gateways-up",
    results: { edit: status("gateway-https/gw-b", "down", "503") },
    outcome: "fail",
    measured: 50,
    offenders: [["gw-b", "it-committee"]],
  },
  { name: "a degraded gateway is healthy", criterion: "gateways-up", results: { edit: status("server-icmp/gw-a", "degraded") }, outcome: "pass" },
  {
    name: "a DNS server not observed",
    criterion: "dns-up",
    results: { edit: drop("dns-answers/dns-a") },
    outcome: "fail",
    offenders: [["dns-a", "it-committee"]],
  },
  { name: "DNS judged by its DNS answers, not by ping", criterion: "dns-up", results: { edit: status("server-icmp/dns-a", "degraded") }, outcome: "pass" },
  {
    name: "a time server out of sync",
    criterion: "ntp-in-sync",
    results: { edit: status("ntp-offset/ntp-b", "down", "NTP_OFFSET 400 ms") },
    outcome: "fail",
    offenders: [["ntp-b", "it-committee"]],
  },
  // central-roles-n-plus-1
  { name: "two healthy servers of every role", criterion: "central-roles-n-plus-1", outcome: "pass", measured: 100 },
  {
    name: "one time server left is not N+1",
    criterion: "central-roles-n-plus-1",
    results: { edit: status("server-icmp/ntp-a", "down") },
    outcome: "fail",
    offenders: [["role:ntp", "it-committee"]],
  },
  {
    name: "gateways that cannot lose one and still serve every station",
    criterion: "central-roles-n-plus-1",
    edits: [
      ["inventory/servers.yaml", "address: 10.0.0.1, site: DC-A, capacity: { stations: 10 }", "address: 10.0.0.1, site: DC-A, capacity: { stations: 3 }"],
      ["inventory/servers.yaml", "address: 10.0.0.2, site: DC-B, capacity: { stations: 10 }", "address: 10.0.0.2, site: DC-B, capacity: { stations: 3 }"],
    ],
    outcome: "fail",
    offenders: [["role:gateway", "it-committee"]],
  },
  {
    name: "gateways that can lose one and serve every station",
    criterion: "central-roles-n-plus-1",
    edits: [
      ["inventory/servers.yaml", "address: 10.0.0.1, site: DC-A, capacity: { stations: 10 }", "address: 10.0.0.1, site: DC-A, capacity: { stations: 4 }"],
      ["inventory/servers.yaml", "address: 10.0.0.2, site: DC-B, capacity: { stations: 10 }", "address: 10.0.0.2, site: DC-B, capacity: { stations: 4 }"],
    ],
    outcome: "pass",
  },
  // certificates-valid: election day 2027-02-25 + 14 days, valid through 2027-03-11
  {
    name: "a certificate valid to the last second of the margin",
    criterion: "certificates-valid",
    results: { certNotAfter: "2027-03-12T00:00:00.000Z" },
    outcome: "pass",
  },
  {
    name: "a certificate a second short of the margin",
    criterion: "certificates-valid",
    results: { certNotAfter: "2027-03-11T23:59:59.000Z" },
    outcome: "fail",
    measured: 0,
    offenders: [
      ["auth-a", "it-committee"],
      ["auth-b", "it-committee"],
      ["gw-a", "it-committee"],
      ["gw-b", "it-committee"],
    ],
  },
  // Issue 14: a time the results file spells as no time is no evidence (NaN compared false and passed).
  {
    name: "a certificate expiry that is not a time",
    criterion: "certificates-valid",
    results: { certNotAfter: "(forever) Feb 2099" },
    outcome: "fail",
    measured: 0,
  },
  {
    name: "an auth server whose certificate was never seen",
    criterion: "certificates-valid",
    results: { edit: drop("auth-tls/auth-a") },
    outcome: "fail",
    offenders: [["auth-a", "it-committee"]],
  },
  // devices-checked-in: since 1405-12-01 00:00 Tehran = 2027-02-19T20:30:00Z
  {
    name: "every device checked in over each link at the first second counted",
    criterion: "devices-checked-in",
    milestone: "T-1",
    now: T1_NOW,
    results: { checkinAt: "2027-02-19T20:30:00.000Z" },
    outcome: "pass",
    measured: 100,
  },
  {
    name: "check-ins a second too early",
    criterion: "devices-checked-in",
    milestone: "T-1",
    now: T1_NOW,
    results: { checkinAt: "2027-02-19T20:29:59.000Z" },
    outcome: "fail",
    measured: 0,
  },
  {
    name: "check-ins at a time that is not a time",
    criterion: "devices-checked-in",
    milestone: "T-1",
    now: T1_NOW,
    results: { checkinAt: "soon" },
    outcome: "fail",
    measured: 0,
  },
  {
    name: "another device on a station's link",
    criterion: "devices-checked-in",
    milestone: "T-1",
    now: T1_NOW,
    results: { edit: (r) => (r.key === "device-checkin/R-3/R-3-M" ? { ...r, values: { ...r.values, SERIAL: "DEV-9" } } : r) },
    outcome: "fail",
    offenders: [["R-3-M", "it-committee"]],
  },
  {
    name: "no check-in over a down link is the link owner's; over a healthy one, ours",
    criterion: "devices-checked-in",
    milestone: "T-1",
    now: T1_NOW,
    results: { edit: all(status("link-icmp/R-1/R-1-F", "down"), drop("device-checkin/R-1/R-1-F", "device-checkin/R-1/R-1-M")) },
    outcome: "fail",
    offenders: [
      ["R-1-F", "tci"],
      ["R-1-M", "it-committee"],
    ],
  },
  // no-blind-spot
  { name: "a blind spot with an alternative", criterion: "no-blind-spot", outcome: "pass", measured: 100 },
  {
    name: "a blind spot and nothing else",
    criterion: "no-blind-spot",
    edits: [
      [
        DISTRICT,
        "lifecycle: { state: live, committed: 1405-09-01, owner: education }",
        "lifecycle: { state: retired, committed: 1405-09-01, owner: education }",
      ],
      [
        DISTRICT,
        "address: 10.2.0.4, survey: { signalDbm: -85 }, lifecycle: { state: live",
        "address: 10.2.0.4, survey: { signalDbm: -85 }, lifecycle: { state: retired",
      ],
    ],
    outcome: "fail",
    offenders: [["R-4-M", "mci"]],
  },
  {
    name: "a waived blind spot",
    criterion: "no-blind-spot",
    edits: [
      [
        DISTRICT,
        "lifecycle: { state: live, committed: 1405-09-01, owner: education }",
        "lifecycle: { state: retired, committed: 1405-09-01, owner: education }",
      ],
      [
        DISTRICT,
        "address: 10.2.0.4, survey: { signalDbm: -85 }, lifecycle: { state: live",
        "address: 10.2.0.4, survey: { signalDbm: -85 }, lifecycle: { state: retired",
      ],
      waiver("redundancy.blind-spot", "R-4-M", "2027-03-01"),
    ],
    outcome: "pass",
    waived: ["R-4-M W-1 m-two"],
  },
  // no-unwaived-drift: the seam, never a pass
  { name: "drift without a drift report", criterion: "no-unwaived-drift", outcome: "cannot-judge", reason: "no drift report" },
];

describe("criteria", () => {
  it.each(cases)("$criterion: $name", async (c) => {
    const judged = await evaluate(c);
    expect(judged.outcome).toBe(c.outcome);
    if (c.measured !== undefined) expect(judged.measured).toBe(c.measured);
    if (c.offenders !== undefined) expect(judged.offenders.map((o) => [o.id, o.owner])).toEqual(c.offenders);
    if (c.outcome === "pass") expect(judged.offenders.length === 0 || judged.withWaivers >= judged.threshold).toBe(true);
    if (c.reason !== undefined) expect(judged.reason).toContain(c.reason);
    if (c.waived !== undefined) expect(judged.waived.map((w) => `${w.id} ${w.waiver.id} ${w.waiver.approvedBy}`)).toEqual(c.waived);
    for (const o of judged.offenders) expect(o.reason).not.toBe("");
  });

  it("names the worst offender's observed value", async () => {
    const judged = await evaluate({
      name: "",
      criterion: "links-live",
      results: { edit: status("link-icmp/R-1/R-1-F", "down", "10.1.0.1: 100% loss") },
      outcome: "fail",
    });
    expect(judged.offenders[0]?.reason).toBe("live, but down: 10.1.0.1: 100% loss");
    expect(judged.offenders[0]).toMatchObject({ station: "R-1", district: "rey", kind: "link" });
    expect(judged.byOwner).toEqual({ tci: 1 });
  });

  it("implements every criterion the model knows, and only those", () => {
    expect([...CRITERIA_REGISTRY.keys()].sort()).toEqual([...CRITERIA].sort());
  });

  it("rounds the shown share down, so one offender in 120,000 never shows as 100%", () => {
    const c = CRITERIA_REGISTRY.get("links-live");
    if (c === undefined) throw new Error("no links-live");
    const offenders = [{ id: "X-1-F", kind: "link" as const, owner: "tci", reason: "down", severity: 50 }];
    const judged = judge(c, { total: 120_000, good: 119_999, offenders }, 100, [], "2027-02-17");
    expect(judged.measured).toBe(99.99);
    expect(judged.outcome).toBe("fail");
    expect(judge(c, { total: 120_000, good: 119_999, offenders }, 99.999, [], "2027-02-17").outcome).toBe("pass");
  });
});
