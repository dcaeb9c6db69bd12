// The drill's reasoning, without a network: what results say (signals), what
// the pipeline concludes from a baseline and a campaign during a fault
// (attribution, from the results and the inventory's topology only), how that
// compares with what was injected, which faults each scenario picks, and the
// devices' failover from their attempts. Results are written out here as the
// campaign writes them; the topology is the sample's Pakdasht district.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rm } from "node:fs/promises";
import { loadInventory } from "../../src/model/index.ts";
import type { Inventory } from "../../src/model/types.ts";
import { attribute, byKey, compare, type ExpectedFault, type ResultLine, signalOf } from "../../src/rehearsal/drill/attribution.ts";
import { parseShare, planFaults, type PlanContext } from "../../src/rehearsal/drill/scenarios.ts";
import { popChainOf } from "../../src/model/index.ts";
import { drillScope, type Scope } from "../../src/rehearsal/drill/scope.ts";
import { districtSelect, verifySelect } from "../../src/rehearsal/drill/run.ts";
import { loadCatalog } from "../../src/probe/catalog/load.ts";
import { buildTargets, parseSelect, provincesOf } from "../../src/probe/targets.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";
import { join } from "node:path";
import { stationOutcomes, settled, type LinkAttempts } from "../../src/rehearsal/drill/watch.ts";
import { planRehearsal } from "../../src/rehearsal/plan.ts";
import { pakdashtInventory } from "./fixture.ts";

let root = "";
let inventory: Inventory;
let scope: Scope;

beforeAll(async () => {
  const fixture = await pakdashtInventory();
  root = fixture.root;
  const loaded = await loadInventory(fixture.inventory);
  if (loaded.inventory === undefined) throw new Error("the Pakdasht sample does not load");
  inventory = loaded.inventory;
  scope = drillScope(inventory, "pakdasht");
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const AT = "2026-11-22T08:00:05.000Z";

function linkResult(link: string, status: ResultLine["status"], extra: Partial<ResultLine> = {}, check = "link-icmp"): ResultLine {
  const station = scope.linksById.get(link)?.station ?? "?";
  return { key: `${check}/${station}/${link}`, check, kind: check === "link-icmp" ? "icmp" : "tcp", status, at: AT, station, link, ...extra };
}

function serverResult(check: string, kind: ResultLine["kind"], server: string, status: ResultLine["status"], extra: Partial<ResultLine> = {}): ResultLine {
  return { key: `${check}/${server}`, check, kind, status, at: AT, server, ...extra };
}

/** Every live link answering, every server's checks up: the sample on a good day. */
function healthy(): Map<string, ResultLine> {
  const lines: ResultLine[] = scope.links.filter((l) => l.live).map((l) => linkResult(l.id, "up"));
  for (const s of inventory.servers) {
    lines.push(serverResult("server-icmp", "icmp", s.id, "up"));
    if (s.roles.includes("gateway")) lines.push(serverResult("gateway-https", "http", s.id, "up"));
    if (s.roles.includes("dns")) lines.push(serverResult("dns-answers", "dns", s.id, "up"));
    if (s.roles.includes("ntp")) lines.push(serverResult("ntp-offset", "ntp", s.id, "up"));
  }
  return byKey(lines);
}

function withChanges(base: Map<string, ResultLine>, changes: readonly ResultLine[]): Map<string, ResultLine> {
  const copy = new Map(base);
  for (const c of changes) copy.set(c.key, c);
  return copy;
}

const lost = (link: string): ResultLine => linkResult(link, "down", { failure: "timeout", detail: "no echo reply to 3 of 3 requests" });
const liveLinks = (pred: (l: Scope["links"][number]) => boolean): string[] => scope.links.filter((l) => l.live && pred(l)).map((l) => l.id);

describe("signals", () => {
  it.each([
    [{ status: "up" }, "ok"],
    [{ status: "degraded" }, "ok"],
    [{ status: "unknown" }, "unknown"],
    [{ status: "unreachable" }, "unreachable"],
    [{ status: "down", failure: "timeout" }, "fails"],
    [{ status: "down", failure: "refused" }, "fails"],
    [{ status: "down", failure: "tls" }, "fails"],
    [{ status: "down", failure: "internal" }, "unknown"],
    [{ status: "down", failure: "assertion", failed: ["[RTT] < 500ms warn 200ms (observed 592ms)"] }, "quality"],
    // icmp gives its failed condition in the detail only
    [{ status: "down", failure: "assertion", detail: "[LOSS] <= 5% warn 0% (observed 33.3%)" }, "quality"],
    [
      { status: "down", failure: "assertion", failed: ["[CERTIFICATE_EXPIRATION] > election+14d warn election+30d (observed 94d)", "[RTT] < 500ms"] },
      "certificate",
    ],
    [{ status: "down", failure: "assertion", failed: ["[NTP_OFFSET] < 250ms warn 100ms (observed 599880ms)"] }, "clock"],
    [{ status: "down", failure: "assertion", failed: ["[DNS_ANSWERS] == role(auth) (observed [])"] }, "dns-answers"],
    [{ status: "down", failure: "assertion", failed: ["[STATUS] == 200 (observed 502)"] }, "wrong"],
  ] as const)("%j is %s", (result, signal) => {
    expect(signalOf(result)).toBe(signal);
  });
});

describe("attribution, from the results and the topology only", () => {
  it("nothing changed: nothing is attributed", () => {
    const base = healthy();
    const result = attribute(scope, base, base);
    expect(result.attributions).toEqual([]);
    expect(result.observable.length).toBe(scope.links.filter((l) => l.live).length);
  });

  it("every link of an operator lost is that operator, not hundreds of cuts or its exchanges", () => {
    const tci = liveLinks((l) => l.operator === "tci");
    expect(tci.length).toBeGreaterThan(100);
    const result = attribute(scope, healthy(), withChanges(healthy(), tci.map(lost)));
    expect(result.attributions.map((a) => [a.object, a.cause, a.links.length])).toEqual([[{ kind: "operator", id: "tci" }, "path-lost", tci.length]]);
  });

  it("every link behind a point of presence — its own and those backhauled through it — is that PoP", () => {
    const behind = liveLinks((l) => l.pops.includes("EX-PKD-02"));
    // The Irancell tower TW-MTN-PKD-04 backhauls through TCI's exchange EX-PKD-02 (operators.yaml).
    expect(popChainOf(inventory, "TW-MTN-PKD-04")).toEqual(["TW-MTN-PKD-04", "EX-PKD-02"]);
    expect(new Set(behind.map((l) => scope.linksById.get(l)?.operator))).toEqual(new Set(["tci", "irancell"]));
    const result = attribute(scope, healthy(), withChanges(healthy(), behind.map(lost)));
    expect(result.attributions.map((a) => a.object)).toEqual([{ kind: "pop", id: "EX-PKD-02" }]);
    expect(result.attributions[0]?.links).toEqual([...behind].sort());
  });

  it("a few fiber links in different places are cuts, one by one", () => {
    const cut = ["PKD-0001-F", "PKD-0003-F", "PKD-0010-F"];
    const result = attribute(scope, healthy(), withChanges(healthy(), cut.map(lost)));
    expect(result.attributions.map((a) => a.object)).toEqual(cut.map((id) => ({ kind: "link", id })));
    expect(result.attributions.every((a) => a.cause === "path-lost" && a.lastAt === AT)).toBe(true);
  });

  it("partial loss on a weak link and slowness on a gateway are not faults", () => {
    const during = withChanges(healthy(), [
      linkResult("PKD-0160-M", "down", { failure: "assertion", detail: "[LOSS] <= 5% warn 0% (observed 33.3%)" }),
      serverResult("gateway-https", "http", "gw-teh1-01", "down", { failure: "assertion", failed: ["[RTT] < 500ms warn 200ms (observed 592.59ms)"] }),
    ]);
    const result = attribute(scope, healthy(), during);
    expect(result.attributions).toEqual([]);
    expect(result.qualityOnly).toBe(2);
  });

  it("a link silent to the campaign that a device checked in over during the fault is not lost (a weak link's unlucky probe)", () => {
    const during = withChanges(healthy(), [lost("PKD-0267-M"), lost("PKD-0001-F")]);
    const result = attribute(scope, healthy(), during, { checkedIn: new Set(["PKD-0267-M"]) });
    expect(result.attributions.map((a) => a.object)).toEqual([{ kind: "link", id: "PKD-0001-F" }]);
    expect(result.contradicted).toEqual(["PKD-0267-M"]);
  });

  it("what was already down in the baseline is standing, not the drill's", () => {
    const before = withChanges(healthy(), [lost("PKD-0031-M")]);
    const result = attribute(scope, before, before);
    expect(result.attributions).toEqual([]);
    expect(result.standing).toBe(1);
    expect(result.observable).not.toContain("PKD-0031-M");
  });

  it("a link check that was failing in the baseline (nothing listens) says nothing when it turns unreachable", () => {
    const tcpBefore = linkResult("PKD-0001-F", "down", { failure: "refused" }, "link-tcp");
    const tcpDuring = linkResult("PKD-0001-F", "unreachable", {}, "link-tcp");
    const result = attribute(scope, withChanges(healthy(), [tcpBefore]), withChanges(healthy(), [tcpDuring]));
    expect(result.attributions).toEqual([]);
  });

  it.each([
    [
      "a gateway's https refused is its service down",
      [serverResult("gateway-https", "http", "gw-teh1-01", "down", { failure: "refused" })],
      "gw-teh1-01",
      "service-down",
    ],
    [
      "a DNS server that stopped answering is its service down",
      [serverResult("dns-answers", "dns", "dns-teh1-01", "down", { failure: "refused" })],
      "dns-teh1-01",
      "service-down",
    ],
    [
      "a time server off by minutes is its clock",
      [serverResult("ntp-offset", "ntp", "ntp-teh1-01", "down", { failure: "assertion", failed: ["[NTP_OFFSET] < 250ms warn 100ms (observed 599880ms)"] })],
      "ntp-teh1-01",
      "clock",
    ],
    [
      "a gateway certificate that ends too soon is its certificate",
      [
        serverResult("gateway-https", "http", "gw-krj-01", "down", {
          failure: "assertion",
          failed: ["[CERTIFICATE_EXPIRATION] > election+14d (observed 94d)"],
        }),
      ],
      "gw-krj-01",
      "certificate",
    ],
    [
      "a server that stopped answering ping is the server, and what depends on it is not counted again",
      [serverResult("server-icmp", "icmp", "gw-teh2-01", "down", { failure: "timeout" }), serverResult("gateway-https", "http", "gw-teh2-01", "unreachable")],
      "gw-teh2-01",
      "unreachable",
    ],
  ] as const)("%s", (_name, changes, server, cause) => {
    const result = attribute(scope, healthy(), withChanges(healthy(), changes));
    expect(result.attributions.map((a) => [a.object, a.cause])).toEqual([[{ kind: "server", id: server }, cause]]);
  });
});

describe("what was concluded beside what was injected", () => {
  const linkFault = (id: string): ExpectedFault => ({ object: { kind: "link", id }, cause: "path-lost", links: [id] });

  it("every injected cut attributed, nothing else: complete, with the detection time of each", () => {
    const cut = ["PKD-0001-F", "PKD-0003-F"];
    const comparison = compare(cut.map(linkFault), attribute(scope, healthy(), withChanges(healthy(), cut.map(lost))));
    expect(comparison.complete).toBe(true);
    expect(comparison.counts).toEqual({ injected: 2, detected: 2, attributed: 2, misattributed: 0, partly: 0, missed: 0, falseAlarms: 0 });
    expect(comparison.items.map((i) => i.detectedAt)).toEqual([AT, AT]);
  });

  it("cuts that take a whole PoP are seen as the PoP: misattributed, not complete", () => {
    // TW-MTN-PKD-04 serves one station; with its backhaul exchange, EX-PKD-02's links are the PoP's.
    const behind = liveLinks((l) => l.pops.includes("EX-PKD-02"));
    const comparison = compare(behind.map(linkFault), attribute(scope, healthy(), withChanges(healthy(), behind.map(lost))));
    expect(comparison.complete).toBe(false);
    expect(comparison.counts.misattributed).toBe(behind.length);
    expect(comparison.items[0]?.attributedAs).toEqual([{ object: { kind: "pop", id: "EX-PKD-02" }, cause: "path-lost" }]);
    expect(comparison.counts.falseAlarms).toBe(0);
  });

  it("a loss nobody injected is a false alarm; an injected cut nobody saw is missed", () => {
    const comparison = compare([linkFault("PKD-0001-F")], attribute(scope, healthy(), withChanges(healthy(), [lost("PKD-0002-F")])));
    expect(comparison.complete).toBe(false);
    expect(comparison.items[0]?.outcome).toBe("missed");
    expect(comparison.falseAlarms.map((a) => a.object)).toEqual([{ kind: "link", id: "PKD-0002-F" }]);
  });

  it("an outage seen on only some of the operator's links is partly detected", () => {
    const tci = liveLinks((l) => l.operator === "tci");
    const expected: ExpectedFault = { object: { kind: "operator", id: "tci" }, cause: "path-lost", links: tci };
    const comparison = compare([expected], attribute(scope, healthy(), withChanges(healthy(), tci.slice(0, 10).map(lost))));
    expect(comparison.items[0]).toMatchObject({ outcome: "partly-detected", linksLost: 10 });
    expect(comparison.complete).toBe(false);
  });

  it("a server fault with the wrong cause is misattributed", () => {
    const expected: ExpectedFault = { object: { kind: "server", id: "gw-teh1-01" }, cause: "certificate", links: [] };
    const during = withChanges(healthy(), [serverResult("gateway-https", "http", "gw-teh1-01", "down", { failure: "refused" })]);
    const comparison = compare([expected], attribute(scope, healthy(), during));
    expect(comparison.items[0]).toMatchObject({
      outcome: "misattributed",
      attributedAs: [{ object: { kind: "server", id: "gw-teh1-01" }, cause: "service-down" }],
    });
  });
});

describe("the faults each scenario picks", () => {
  const context = (): PlanContext => ({
    inventory,
    scope,
    whole: drillScope(inventory),
    plan: planRehearsal(inventory, "amadegi-r-x-"),
    baseline: healthy(),
    roots: new Map(inventory.servers.map((s) => [s.id, `/tmp/rehearsal/servers/${s.id}/root`])),
    drillDir: "/tmp/rehearsal/drills/x",
  });

  it.each([
    ["20%", 0.2],
    ["0.5", 0.5],
    ["100%", 1],
    ["12.5 %", 0.125],
  ] as const)("--share %s is %d", (text, value) => {
    expect(parseShare(text)).toBe(value);
  });
  it.each(["0", "0%", "150%", "-10%", "a lot", ""])("--share %j is refused", (text) => {
    expect(() => parseShare(text)).toThrow(/--share/);
  });

  it("fiber cut: the fiber links of the share of stations, the same ones every time, as drops in the operator's namespace", () => {
    const a = planFaults(context(), { scenario: "fiber-cut", share: 0.2 });
    const b = planFaults(context(), { scenario: "fiber-cut", share: 0.2 });
    expect(a).toEqual(b);
    const withFiber = new Set(scope.links.filter((l) => l.medium === "fiber" && l.live).map((l) => l.station));
    expect(a.affected.stations.length).toBe(Math.round(0.2 * withFiber.size));
    for (const id of a.affected.links) expect(scope.linksById.get(id)?.medium).toBe("fiber");
    expect(a.expected.map((e) => e.object.id)).toEqual(a.affected.links);
    const addresses = a.affected.links.map((id) => scope.linksById.get(id)?.address).sort();
    expect(a.actions).toEqual([{ kind: "drop", ns: "amadegi-r-x-op-tci", operator: "tci", addresses }]);
  });

  it("fiber cut of every station still leaves each operator and PoP one link: a whole one would be another scenario", () => {
    const all = planFaults(context(), { scenario: "fiber-cut", share: 1 });
    const cut = new Set(all.affected.links);
    for (const group of [...scope.operators.values(), ...scope.pops.values()]) {
      const live = group.filter((id) => scope.linksById.get(id)?.live === true);
      if (live.length >= 2) expect(live.some((id) => !cut.has(id))).toBe(true);
    }
    expect(all.notes.length).toBeGreaterThan(0);
  });

  it("operator outage: by default the operator with most links; every one of its links in the rehearsal is dropped", () => {
    const plan = planFaults(context(), { scenario: "operator-outage", share: 0.2 });
    expect(plan.expected.map((e) => e.object)).toEqual([{ kind: "operator", id: "tci" }]);
    expect(plan.actions).toHaveLength(1);
    expect(plan.actions[0]).toMatchObject({ kind: "drop", ns: "amadegi-r-x-op-tci", operator: "tci" });
    const action = plan.actions[0];
    expect(action?.kind === "drop" ? action.addresses.length : 0).toBe(scope.operators.get("tci")?.length);
  });

  it("PoP lost: its backhauled tower's links go too, in their own operator's namespace", () => {
    const plan = planFaults(context(), { scenario: "pop-lost", share: 0.2, target: "EX-PKD-02" });
    expect(plan.actions.map((a) => (a.kind === "drop" ? a.ns : ""))).toEqual(["amadegi-r-x-op-irancell", "amadegi-r-x-op-tci"]);
    expect(plan.expected[0]?.links).toContain("PKD-0047-M");
  });

  it("gateway lost: its role's own stop and start commands, for the server's root", () => {
    const plan = planFaults(context(), { scenario: "gateway-lost", share: 0.2, target: "gw-krj-01" });
    const action = plan.actions[0];
    expect(action?.kind).toBe("stop");
    if (action?.kind !== "stop") return;
    expect(action.ns).toBe("amadegi-r-x-core");
    expect(action.services.map((s) => s.name)).toEqual(["checkin-recorder", "nginx"]);
    expect(action.services[1]?.start).toContain("/tmp/rehearsal/servers/gw-krj-01/root/etc/amadegi/nginx/nginx.conf");
    expect(plan.affected).toMatchObject({ kind: "gateway", gateway: "gw-krj-01" });
  });

  it("clock skew: chronyd under faketime, ten minutes ahead", () => {
    const plan = planFaults(context(), { scenario: "clock-skew", share: 0.2 });
    expect(plan.actions[0]).toMatchObject({ kind: "skew", offset: "+10m", server: "ntp-teh1-01", service: { name: "chronyd" } });
    expect(plan.expected[0]).toMatchObject({ object: { kind: "server", id: "ntp-teh1-01" }, cause: "clock" });
  });

  it.each([
    ["gateway-lost", "dns-teh1-01", /not a server with role gateway/],
    ["operator-outage", "tcii", /no such operator/],
    ["pop-lost", "EX-NOWHERE", /no such point of presence/],
    ["fiber-cut", "PKD-0001", /--target does not apply/],
  ] as const)("%s --target %s is refused", (scenario, target, message) => {
    expect(() => planFaults(context(), { scenario, share: 0.2, target })).toThrow(message);
  });

  it("the restore is verified on what the faults took down, with the checks that answered before", () => {
    const fiber = planFaults(context(), { scenario: "fiber-cut", share: 0.05 });
    expect(verifySelect(fiber, healthy())).toBe(`link=${[...fiber.affected.links].sort().join("|")},check=link-icmp`);
    const gateway = planFaults(context(), { scenario: "gateway-lost", share: 0.2, target: "gw-krj-01" });
    expect(verifySelect(gateway, healthy())).toBe("server=gw-krj-01,check=gateway-https|server-icmp");
  });
});

describe("--district", () => {
  it("selects the district's links and devices and every central server, in the whole sample", async () => {
    const whole = (await loadInventory(join(repoRoot, "inventory"))).inventory;
    if (whole === undefined) throw new Error("the sample does not load");
    const catalog = loadCatalog(join(repoRoot, "checks"), { inventory: whole }).catalog;
    if (catalog === undefined) throw new Error("the catalog does not load");
    const select = districtSelect(whole, "pakdasht");
    expect(select).toBe(
      `district!=${whole.districts
        .map((d) => d.id)
        .filter((d) => d !== "pakdasht")
        .join("|")}`,
    );
    const { targets } = buildTargets(whole, catalog, parseSelect(select ?? "", provincesOf(whole)));
    expect(new Set(targets.flatMap((t) => (t.district === undefined ? [] : [t.district])))).toEqual(new Set(["pakdasht"]));
    expect(new Set(targets.flatMap((t) => (t.server === undefined ? [] : [t.server])))).toEqual(new Set(whole.servers.map((s) => s.id)));
    // A district-only inventory needs no selection; an unknown district is refused.
    expect(districtSelect(inventory, "pakdasht")).toBeUndefined();
    expect(() => districtSelect(whole, "pakdsht")).toThrow(/no such district/);
  });
});

describe("the devices' failover, from their attempts", () => {
  const FAULT = Date.parse("2026-11-22T08:00:00.000Z");
  const at = (ms: number) => new Date(FAULT + ms).toISOString();
  const attempt = (startMs: number, durationMs: number, ok: boolean, gateway: string, extra: object = {}) => ({
    at: at(startMs),
    end: at(startMs + durationMs),
    ms: durationMs,
    ok,
    gateway,
    ...extra,
  });
  const links = (entries: Record<string, { station: string; attempts: ReturnType<typeof attempt>[] }>): Map<string, LinkAttempts> =>
    new Map(Object.entries(entries));

  it("a station fails over at the end of its first check-in over the other link; one whose links were all cut lost every path", () => {
    const history = links({
      "A-F": { station: "A", attempts: [attempt(-9_000, 50, true, "gw-1"), attempt(6_000, 10_000, false, "gw-2")] },
      "A-M": { station: "A", attempts: [attempt(-2_000, 60, true, "gw-1"), attempt(4_000, 70, true, "gw-1")] },
      "B-F": { station: "B", attempts: [attempt(-5_000, 40, true, "gw-1"), attempt(3_000, 10_000, false, "gw-2")] },
    });
    const affected = { kind: "links" as const, stations: ["A", "B"], links: ["A-F", "B-F"] };
    const outcomes = stationOutcomes(affected, history, FAULT, [{ time: at(4_050), station: "A", link: "A-M", gateway: "gw-1" }]);
    expect(outcomes).toEqual([
      { station: "A", state: "failed-over", failoverMs: 4_070, via: { link: "A-M", gateway: "gw-1" }, noticedMs: 16_000, recordedMs: 4_050 },
      { station: "B", state: "lost-every-path", noticedMs: 13_000, why: "the fault took every link it has" },
    ]);
    expect(settled(outcomes)).toBe(true);
  });

  it("a lost gateway: the first check-in through another gateway, whichever link", () => {
    const history = links({
      "C-F": {
        station: "C",
        attempts: [attempt(-3_000, 30, true, "gw-1"), attempt(2_000, 45, true, "gw-2", { primaryFailed: { gateway: "gw-1", failure: "refused", error: "" } })],
      },
      "C-M": { station: "C", attempts: [attempt(-1_000, 30, true, "gw-1")] },
    });
    const outcomes = stationOutcomes({ kind: "gateway", stations: ["C"], links: [], gateway: "gw-1" }, history, FAULT);
    expect(outcomes).toEqual([{ station: "C", state: "failed-over", failoverMs: 2_045, via: { link: "C-F", gateway: "gw-2" }, noticedMs: 2_045 }]);
  });

  it("a station whose only other link never checked in (a blind spot) lost every path as soon as its working link is cut", () => {
    const history = links({
      "G-F": { station: "G", attempts: [attempt(-4_000, 30, true, "gw-1")] },
      "G-M": { station: "G", attempts: [attempt(-6_000, 4_000, false, "gw-2")] },
    });
    const outcomes = stationOutcomes({ kind: "links", stations: ["G"], links: ["G-F"] }, history, FAULT);
    expect(outcomes).toEqual([{ station: "G", state: "lost-every-path", why: "the fault took every link it had that worked" }]);
  });

  it("a device that had not checked in before the fault is not measured", () => {
    const history = links({
      "E-F": { station: "E", attempts: [attempt(-3_000, 2_000, false, "gw-2")] },
      "E-M": { station: "E", attempts: [attempt(3_000, 30, true, "gw-1")] },
    });
    const outcomes = stationOutcomes({ kind: "links", stations: ["E"], links: ["E-F"] }, history, FAULT);
    expect(outcomes).toEqual([{ station: "E", state: "not-measured", why: "its device had not checked in before the fault" }]);
  });

  it("no check-in after the fault over another path yet: undecided, and the wait goes on", () => {
    const history = links({
      "D-F": { station: "D", attempts: [attempt(-3_000, 30, true, "gw-1")] },
      "D-M": { station: "D", attempts: [attempt(-1_000, 30, true, "gw-1")] },
    });
    const outcomes = stationOutcomes({ kind: "links", stations: ["D"], links: ["D-F"] }, history, FAULT);
    expect(outcomes[0]?.state).toBe("pending");
    expect(settled(outcomes)).toBe(false);
  });
});
