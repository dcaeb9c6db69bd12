// computeDrift over the readiness fixture: the renderers' real output as the
// declared side, a provisioned state made from it (then the inventory changed,
// a server added or dropped), facts as a server would report them (a file
// changed, one missing, a port not listening), synthetic campaign results
// (a server and a link never observed); every kind, waivers live, expired and
// of another kind. Then the criterion no-unwaived-drift over a stored report,
// the provisioned state's parser and the latest-report reader.
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type Inventory, silencesOf } from "../../src/model/index.ts";
import { MONITOR_FILES, renderServer, TLS_FILES } from "../../src/model/render/index.ts";
import type { ProvisionedServer, ProvisionedState, RoleRender, ServerFacts } from "../../src/model/render/types.ts";
import type { ProbeResult } from "../../src/probe/types.ts";
import { CRITERIA_REGISTRY } from "../../src/readiness/criteria.ts";
import { REVOKED_MARK } from "../../src/provision/revocation.ts";
import { authorityScript, crlScript } from "../../src/provision/scripts.ts";
import {
  computeDrift,
  crlNextUpdate,
  declaredServer,
  DRIFT_RULES,
  type DriftInput,
  type DriftReport,
  factsExpectation,
  type LatestDrift,
  parseProvisioned,
  readLatestDrift,
  writeLatestDrift,
} from "../../src/readiness/drift/index.ts";
import { contentHash as sha256 } from "../../src/model/render/index.ts";
import { type Evidence, readEvidence } from "../../src/readiness/evidence.ts";
import { type ExpectedStack, type UnfitWords, whyUnfit } from "../../src/readiness/fitness.ts";
import { judge } from "../../src/readiness/judge.ts";
import { sampleInventory } from "../model/render/helpers.ts";
import { DISTRICT, edit, fixtureCopy, inventoryOf, resultsFor, tempDir, WAIVERS } from "./helpers.ts";

const NOW = new Date("2027-02-17T08:00:00Z");

/** `/bin/sh -c script` with `input` on stdin. */
function shell(script: string, input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile("/bin/sh", ["-c", script], (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr }),
    );
    child.stdin?.end(input);
  });
}
const DATE = "2027-02-17";

function renderAll(inv: Inventory): Map<string, RoleRender[]> {
  return new Map(inv.servers.map((s) => [s.id, renderServer(inv, s.id, { root: "", environment: "rehearsal", address: s.address })]));
}

/** What a stack that provisioned exactly this inventory records. */
function provisionedFrom(inv: Inventory): ProvisionedState {
  const declared = renderAll(inv);
  return { stack: "test", servers: Object.fromEntries(inv.servers.map((s) => [s.id, declaredServer(s.address, declared.get(s.id) ?? [])])) };
}

/** What each server shows when nothing was touched by hand: the provisioned hashes, every declared port listening. */
function healthyFacts(inv: Inventory, state: ProvisionedState): ServerFacts[] {
  const declared = renderAll(inv);
  return inv.servers.map((s) => {
    const p = state.servers[s.id];
    const expected = factsExpectation(declared.get(s.id), p);
    return {
      server: s.id,
      reachable: true,
      files: Object.fromEntries(expected.files.map((path) => [path, p?.files[path] ?? null])),
      listening: [{ proto: "tcp", address: "0.0.0.0", port: 22 }, ...(p?.services ?? []).flatMap((svc) => svc.listens)],
      versions: Object.fromEntries(expected.services.map((svc) => [svc.name, `${svc.name} 1.0`])),
      at: NOW.toISOString(),
    };
  });
}

function changeFacts(facts: ServerFacts[], server: string, change: (f: ServerFacts) => ServerFacts): ServerFacts[] {
  return facts.map((f) => (f.server === server ? change(f) : f));
}

interface Setup {
  readonly root: string;
  readonly inv: Inventory;
  readonly provisioned: ProvisionedState;
  readonly facts: ServerFacts[];
  readonly evidence: Evidence;
}

async function setup(
  options: { edits?: readonly (readonly [string, string, string])[]; results?: (r: ProbeResult) => ProbeResult | undefined } = {},
): Promise<Setup> {
  const root = await fixtureCopy();
  const original = await inventoryOf(root, DATE);
  const provisioned = provisionedFrom(original);
  for (const [file, find, replace] of options.edits ?? []) await edit(root, file, find, replace);
  const inv = await inventoryOf(root, DATE);
  const evidence = await readEvidence(await resultsFor(root, { now: NOW, stack: "test", ...(options.results === undefined ? {} : { edit: options.results }) }));
  return { root, inv, provisioned, facts: healthyFacts(original, provisioned), evidence };
}

function run(s: Setup, over: Partial<Omit<DriftInput, "evidence">> & { readonly evidence?: Evidence | undefined } = {}): DriftReport {
  const { evidence, ...rest } = "evidence" in over ? over : { ...over, evidence: s.evidence };
  return computeDrift({
    id: "drift-1",
    stack: "test",
    at: NOW.toISOString(),
    date: DATE,
    inventory: s.inv,
    inventoryDir: join(s.root, "inventory"),
    declared: renderAll(s.inv),
    provisioned: s.provisioned,
    provisionedFrom: "test",
    facts: s.facts,
    ...(evidence === undefined ? {} : { evidence }),
    ...rest,
  });
}

const summary = (r: DriftReport) => r.items.map((i) => [i.kind, i.object, i.subject ?? "", i.waivedBy ?? ""]);

describe("computeDrift", () => {
  it("nothing changed anywhere: clean, every comparison counted", async () => {
    const s = await setup();
    const r = run(s);
    expect(r.items).toEqual([]);
    expect(r.verdict).toBe("clean");
    expect(r.exitCode).toBe(0);
    expect(r.notJudged).toEqual([]);
    // Per server: declared↔provisioned, each provisioned file and service; then each server and installed/live link in the campaign.
    const files = Object.values(s.provisioned.servers).reduce((n, p) => n + Object.keys(p.files).length, 0);
    const services = Object.values(s.provisioned.servers).reduce((n, p) => n + p.services.length, 0);
    const links = s.inv.stations.flatMap((st) => st.links).filter((l) => l.lifecycle.state === "live" || l.lifecycle.state === "installed").length;
    expect(r.checked).toBe(s.inv.servers.length * 2 + files + services + links);
    expect(r.facts).toHaveLength(s.inv.servers.length);
  });

  it("not provisioned: a server missing from the outputs, servers whose files changed in the inventory since up, stations configured for", async () => {
    const s = await setup({ edits: [[DISTRICT, "address: 10.1.0.1,", "address: 10.1.0.9,"]] });
    const servers: Record<string, ProvisionedServer> = { ...s.provisioned.servers };
    delete servers["ntp-b"];
    const gwB = servers["gw-b"];
    if (gwB === undefined) throw new Error("fixture");
    // Outputs of an older inventory in which gw-b served R-1 only.
    servers["gw-b"] = { ...gwB, stationsHash: sha256("R-1"), stations: 1 };
    const r = run(s, { provisioned: { stack: "test", servers } });
    expect(summary(r)).toEqual([
      ["not-provisioned", "gw-a", "", ""],
      ["not-provisioned", "gw-b", "", ""],
      ["not-provisioned", "ntp-b", "", ""],
    ]);
    // R-1-F's address changed: both gateways' address → link map changed.
    expect(r.items[0]?.detail).toMatch(
      /^the inventory changed since the stack provisioned it: 1 file: \/etc\/amadegi\/gateway\/links\.json \([0-9a-f]{12} → [0-9a-f]{12}\)$/,
    );
    expect(r.items[1]?.detail).toMatch(/links\.json .*; stations 1 → 4$/);
    expect(r.items[2]?.detail).toMatch(/^declared \(ntp at 10\.0\.0\.6, 3 files\), not in the stack's outputs/);
    expect(r.items.every((i) => i.owner === "it-committee" && i.rule === "drift.not-provisioned")).toBe(true);
    expect(r.counts["not-provisioned"]).toBe(3);
    expect(r.verdict).toBe("drift");
    expect(r.exitCode).toBe(1);
  });

  it("no outputs at all (the stack never ran): every declared server is not provisioned", async () => {
    const s = await setup();
    const r = run(s, { provisioned: undefined });
    expect(r.counts["not-provisioned"]).toBe(s.inv.servers.length);
    expect(r.provisionedServers).toBeUndefined();
  });

  it("not declared: a server the stack provisioned that the inventory dropped (no waiver can name it)", async () => {
    const s = await setup();
    const old = s.provisioned.servers["ntp-a"];
    if (old === undefined) throw new Error("fixture");
    const r = run(s, { provisioned: { stack: "test", servers: { ...s.provisioned.servers, "ntp-old": { ...old, address: "10.0.0.99" } } } });
    expect(summary(r)).toEqual([["not-declared", "ntp-old", "", ""]]);
    expect(r.items[0]?.rule).toBeUndefined();
    expect(r.items[0]?.detail).toMatch(/provisioned \(ntp at 10\.0\.0\.99, 3 files\), no longer in the inventory/);
  });

  it("changed on the server: a file edited by hand, a file removed, a port no longer listening; an unexpected listener is not drift", async () => {
    const s = await setup();
    const conf = "/etc/amadegi/nginx/nginx.conf";
    let facts = changeFacts(s.facts, "gw-a", (f) => ({
      ...f,
      files: { ...f.files, [conf]: sha256("edited by hand\n") },
      listening: [...f.listening, { proto: "tcp", address: "0.0.0.0", port: 8080 }],
    }));
    facts = changeFacts(facts, "dns-b", (f) => ({
      ...f,
      files: { ...f.files, "/etc/amadegi/unbound/unbound.conf": null },
      listening: f.listening.filter((l) => l.proto !== "udp"),
      versions: { unbound: null },
    }));
    const r = run(s, { facts });
    expect(summary(r)).toEqual([
      ["changed-on-server", "dns-b", "/etc/amadegi/unbound/unbound.conf", ""],
      ["changed-on-server", "dns-b", "service unbound", ""],
      ["changed-on-server", "gw-a", conf, ""],
    ]);
    const edited = r.items.find((i) => i.subject === conf);
    expect(edited).toMatchObject({
      owner: "it-committee",
      objectKind: "server",
      observed: sha256("edited by hand\n").slice(0, 12),
      provisioned: s.provisioned.servers["gw-a"]?.files[conf]?.slice(0, 12),
    });
    expect(edited?.detail).toMatch(/changed on the server: the stack wrote [0-9a-f]{12}, the server has [0-9a-f]{12}/);
    expect(r.items[0]?.detail).toMatch(/is missing on the server/);
    expect(r.items[1]?.detail).toBe("service unbound is not listening on udp 10.0.0.4:53; its version command failed");
    expect(r.counts["changed-on-server"]).toBe(3);
  });

  it("compares the monitor's alerting rules and Alertmanager's configuration like every file a role writes", async () => {
    const sample = await sampleInventory();
    const mon = sample.servers.find((x) => x.roles.includes("monitor"));
    if (mon === undefined) throw new Error("the sample has no monitor server");
    const renders = renderServer(sample, mon.id, { root: "", environment: "production", address: mon.address });
    const declared = declaredServer(mon.address, renders);
    const expected = factsExpectation(renders, declared);
    for (const path of [MONITOR_FILES.rules, MONITOR_FILES.alertmanager]) {
      expect(expected.files, path).toContain(path);
      expect(declared.files[path], path).toBe(sha256(renders.flatMap((r) => r.files).find((f) => f.path === path)?.content ?? ""));
    }
    expect(expected.services.map((x) => x.name)).toContain("alertmanager");
  });

  it("reads a monitor's silences back: one per waiver that silences a station; missing, foreign or unreadable ones are changed on the server", async () => {
    const s = await setup({
      edits: [
        [
          WAIVERS,
          "waivers: []",
          "waivers:\n  - { id: W-9, rule: redundancy.fixed-diversity, item: R-1, reason: a blind spot, approvedBy: m-one, until: 1405-12-06 }",
        ],
      ],
    });
    const silences = silencesOf(s.inv);
    expect(silences.map((x) => x.waiver)).toEqual(["W-9"]);
    const tag = silences[0]?.tag ?? "";
    const withSilences = (silenced: NonNullable<ServerFacts["silences"]>) =>
      run(s, { facts: changeFacts(s.facts, "dns-a", (f) => ({ ...f, silences: silenced })) });
    const clean = withSilences({ tags: [tag] });
    expect(summary(clean).filter(([, , subject]) => subject === "alertmanager silences")).toEqual([]);
    // Counted as one more comparison than without the reading.
    expect(clean.checked).toBe(run(s).checked + 1);
    const missing = withSilences({ tags: [] });
    expect(summary(missing)).toContainEqual(["changed-on-server", "dns-a", "alertmanager silences", ""]);
    expect(missing.items.find((i) => i.subject === "alertmanager silences")?.detail).toContain("no silence for waiver W-9");
    const foreign = withSilences({ tags: [tag, "amadegi-waiver-W-1-0123456789ab"] });
    expect(foreign.items.find((i) => i.subject === "alertmanager silences")?.detail).toContain(
      "1 silence no current waiver declares (amadegi-waiver-W-1-0123456789ab)",
    );
    const unreadable = withSilences({ error: "amtool silence query at http://10.0.0.3:9093 failed (exit 1): connection refused" });
    expect(unreadable.items.find((i) => i.subject === "alertmanager silences")?.detail).toMatch(
      /connection refused: the waivers' silences could not be read back$/,
    );
  });

  it("a gateway serving another CRL than the stack installed (stale, or replaced by hand) is changed on the server; the same one is clean", async () => {
    const s = await setup();
    const crl = TLS_FILES.devicesCrl;
    const installed = sha256("-----BEGIN X509 CRL-----\nnew\n-----END X509 CRL-----\n");
    const gw = s.provisioned.servers["gw-a"];
    if (gw === undefined) throw new Error("the fixture has no gw-a");
    // What the CRL's own command reported reading back (ADR 0008): part of the server's provisioned files.
    const provisioned = { ...s.provisioned, servers: { ...s.provisioned.servers, "gw-a": { ...gw, files: { ...gw.files, [crl]: installed } } } };
    const serving = (hash: string) => changeFacts(s.facts, "gw-a", (f) => ({ ...f, files: { ...f.files, [crl]: hash } }));
    expect(summary(run(s, { provisioned, facts: serving(installed) }))).toEqual([]);
    const stale = run(s, { provisioned, facts: serving(sha256("-----BEGIN X509 CRL-----\nold\n-----END X509 CRL-----\n")) });
    expect(summary(stale)).toEqual([["changed-on-server", "gw-a", crl, ""]]);
    expect(stale.items[0]?.detail).toMatch(/changed on the server: the stack wrote [0-9a-f]{12}, the server has [0-9a-f]{12}/);
  });

  it("a gateway whose CRL lapses before the certificates must last (election day plus the margin), or has lapsed, is not provisioned", async () => {
    const s = await setup();
    const crl = TLS_FILES.devicesCrl;
    const gw = s.provisioned.servers["gw-a"];
    if (gw === undefined) throw new Error("the fixture has no gw-a");
    const servers = { ...s.provisioned.servers, "gw-a": { ...gw, files: { ...gw.files, [crl]: sha256("crl") } } };
    const facts = changeFacts(s.facts, "gw-a", (f) => ({ ...f, files: { ...f.files, [crl]: sha256("crl") } }));
    const { day, policy } = s.inv.election;
    const lastDay = new Date(Date.parse(`${day}T00:00:00Z`) + policy.certMarginDays * 86_400_000).toISOString().slice(0, 10);
    const withCrl = (crlNextUpdate: string) => run(s, { provisioned: { ...s.provisioned, servers, crlNextUpdate }, facts });
    // Valid to the day after the certificates, as the stack makes it: clean, and counted.
    const clean = withCrl(new Date(Date.parse(`${lastDay}T23:59:59Z`) + 86_400_000).toISOString());
    expect(summary(clean)).toEqual([]);
    expect(clean.checked).toBe(run(s, { provisioned: { ...s.provisioned, servers }, facts }).checked + 1);
    const lapsing = withCrl(`${day}T12:00:00.000Z`);
    expect(summary(lapsing)).toEqual([["not-provisioned", "gw-a", crl, ""]]);
    expect(lapsing.items[0]?.detail).toMatch(
      new RegExp(`^the devices' CRL lapses at ${day}T12:00:00.000Z, before [0-9-]+ \\(${lastDay}\\) \\(election day plus`),
    );
    expect(lapsing.items[0]?.detail).toContain("nginx will then refuse every device; run amadegi up (or amadegi devices publish)");
    const lapsed = withCrl(new Date(NOW.getTime() - 3_600_000).toISOString());
    expect(lapsed.items[0]?.detail).toMatch(/^the devices' CRL lapsed at .*: nginx refuses every device's certificate/);
    // Only gateways serve it: the other servers have no item.
    expect(new Set(lapsing.items.map((i) => i.object))).toEqual(new Set(["gw-a"]));
  });

  it("reads a CRL's nextUpdate with openssl, and refuses what is not a CRL", async () => {
    const dir = await tempDir();
    const place = { root: dir, epoch: "" };
    const until = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
    const sh = (script: string, input = "") => shell(script, input);
    expect((await sh(authorityScript(place, "drift test CA", until))).code).toBe(0);
    const made = await sh(crlScript(place, until, "d"), `${REVOKED_MARK}\n`);
    expect(made.code, made.stderr).toBe(0);
    // The stack's policy: the day after the certificates' validity ends.
    expect(await crlNextUpdate(made.stdout)).toBe(new Date(Date.parse(`${until}T23:59:59Z`) + 86_400_000).toISOString());
    await expect(crlNextUpdate("not a CRL")).rejects.toThrow("the stack's CRL has no nextUpdate openssl can read");
  });

  it("never observed: a server with no result and a live link with neither a probe nor a check-in; a link seen only by check-ins is observed", async () => {
    const s = await setup({ results: (r) => (r.server === "dns-b" || r.link === "R-1-M" ? undefined : r) });
    const r = run(s);
    expect(summary(r)).toEqual([
      ["never-observed", "R-1-M", "", ""],
      ["never-observed", "dns-b", "", ""],
    ]);
    expect(r.items[0]).toMatchObject({ objectKind: "link", station: "R-1", district: "rey", owner: "mci" });
    expect(r.items[1]).toMatchObject({ objectKind: "server", owner: "it-committee" });
  });

  it("a link whose only results are unknown was never observed", async () => {
    const s = await setup({ results: (r) => (r.link === "R-2-F" ? { ...r, status: "unknown" } : r) });
    expect(summary(run(s))).toEqual([["never-observed", "R-2-F", "", ""]]);
  });

  it("unreachable: cannot judge when nothing else drifted, drift when something did", async () => {
    const s = await setup();
    const facts = changeFacts(s.facts, "auth-b", (f) => ({
      ...f,
      reachable: false,
      error: "auth-b (10.0.0.8:22): Connection refused",
      files: {},
      listening: [],
      versions: {},
    }));
    const alone = run(s, { facts });
    expect(summary(alone)).toEqual([["unreachable", "auth-b", "", ""]]);
    expect(alone.items[0]?.detail).toBe("auth-b (10.0.0.8:22): Connection refused");
    expect(alone.verdict).toBe("cannot-judge");
    expect(alone.exitCode).toBe(2);
    const missing = run(s, { facts: facts.filter((f) => f.server !== "auth-a") });
    expect(summary(missing)).toEqual([
      ["unreachable", "auth-a", "", ""],
      ["unreachable", "auth-b", "", ""],
    ]);
    const withDrift = run(s, { facts: changeFacts(facts, "gw-a", (f) => ({ ...f, files: { ...f.files, "/etc/amadegi/server.json": null } })) });
    expect(withDrift.verdict).toBe("drift");
    expect(withDrift.exitCode).toBe(1);
  });

  it("no usable results: never-observed is not judged, and a clean bill cannot be given", async () => {
    const s = await setup();
    const r = run(s, { evidence: undefined, evidenceProblem: "no results of stack test in .amadegi/results" });
    expect(r.notJudged).toEqual(["never-observed: no results of stack test in .amadegi/results"]);
    expect(r.verdict).toBe("cannot-judge");
    expect(r.results).toBeUndefined();
  });

  it("waivers: a live one of the item's kind accepts it (counted apart); one of another kind does not; an expired one leaves it standing", async () => {
    const conf = "/etc/amadegi/nginx/nginx.conf";
    const w = (id: string, rule: string, item: string, until: string) =>
      `  - { id: ${id}, rule: ${rule}, item: ${item}, reason: accepted for the test, approvedBy: m-two, until: ${until} }`;
    const s = await setup({
      edits: [
        [
          WAIVERS,
          "waivers: []",
          [
            "waivers:",
            w("W-1", "drift.changed-on-server", "gw-a", "2027-03-01"),
            w("W-2", "drift.never-observed", "gw-b", "2027-03-01"),
            w("W-3", "drift.changed-on-server", "dns-a", "2027-02-01"),
          ].join("\n"),
        ],
      ],
    });
    let facts = s.facts;
    for (const id of ["gw-a", "gw-b", "dns-a"]) {
      const path = id === "dns-a" ? "/etc/amadegi/unbound/unbound.conf" : conf;
      facts = changeFacts(facts, id, (f) => ({ ...f, files: { ...f.files, [path]: sha256(`hand ${id}`) } }));
    }
    const r = run(s, { facts });
    expect(summary(r)).toEqual([
      ["changed-on-server", "dns-a", "/etc/amadegi/unbound/unbound.conf", ""],
      ["changed-on-server", "gw-a", conf, "W-1"],
      ["changed-on-server", "gw-b", conf, ""],
    ]);
    expect(r.items[0]).toMatchObject({ waiverExpired: "W-3", rule: "drift.changed-on-server" });
    expect(r.items[0]?.detail).toMatch(/\[waiver W-3 expired on /);
    expect(r.counts["changed-on-server"]).toBe(2);
    expect(r.waived["changed-on-server"]).toBe(1);
    expect(r.verdict).toBe("drift");
    // Only the waived one: clean.
    const onlyWaived = run(s, { facts: changeFacts(s.facts, "gw-a", (f) => ({ ...f, files: { ...f.files, [conf]: sha256("hand") } })) });
    expect(onlyWaived.verdict).toBe("clean");
    expect(onlyWaived.waived["changed-on-server"]).toBe(1);
  });

  it("names a waiver rule for every kind a waiver can accept, each a rule of the catalogue", async () => {
    const { RULES } = await import("../../src/model/rules.ts");
    for (const rule of Object.values(DRIFT_RULES)) expect(Object.hasOwn(RULES, rule)).toBe(true);
    expect(Object.keys(DRIFT_RULES).sort()).toEqual(["changed-on-server", "never-observed", "not-provisioned"]);
  });
});

describe("the criterion no-unwaived-drift", () => {
  const found = CRITERIA_REGISTRY.get("no-unwaived-drift");
  if (found === undefined) throw new Error("no criterion");
  const criterion = found;

  async function measure(s: Setup, drift: LatestDrift | undefined, date = DATE) {
    const milestone = s.inv.election.milestones.find((m) => m.id === "T-7");
    if (milestone === undefined) throw new Error("fixture");
    const m = criterion.measure({
      inventory: s.inv,
      evidence: s.evidence,
      date,
      milestone,
      checkinsSince: NOW.toISOString(),
      ...(drift === undefined ? {} : { drift }),
    });
    return { m, judged: judge(criterion, m, 100, s.inv.waivers, date) };
  }
  const latest = (report: DriftReport, ageHours = 1): LatestDrift => ({ found: true, file: ".amadegi/drift/test.json", report, ageHours });

  it("passes on a clean report", async () => {
    const s = await setup();
    const { judged } = await measure(s, latest(run(s)));
    expect(judged.outcome).toBe("pass");
    expect(judged.total).toBe(run(s).checked);
  });

  it("fails on drift, naming each item with its owner", async () => {
    const s = await setup({ results: (r) => (r.link === "R-1-M" ? undefined : r) });
    const facts = changeFacts(s.facts, "gw-a", (f) => ({ ...f, files: { ...f.files, "/etc/amadegi/server.json": null } }));
    const { judged } = await measure(s, latest(run(s, { facts })));
    expect(judged.outcome).toBe("fail");
    expect(judged.offenders.map((o) => [o.id, o.owner, o.kind])).toEqual([
      ["gw-a", "it-committee", "server"],
      ["R-1-M", "mci", "link"],
    ]);
    expect(judged.offenders[0]?.reason).toMatch(/^changed-on-server: \/etc\/amadegi\/server\.json is missing on the server/);
    expect(judged.byOwner).toEqual({ "it-committee": 1, mci: 1 });
  });

  it("applies drift waivers kind by kind on the day judged: live accepts, expired since the report stands", async () => {
    const w =
      `waivers:\n  - { id: W-1, rule: drift.changed-on-server, item: gw-a, reason: accepted for the test, approvedBy: m-two, until: ${DATE} }\n` +
      `  - { id: W-2, rule: drift.never-observed, item: gw-a, reason: accepted for the test, approvedBy: m-two, until: 2027-03-01 }`;
    const s = await setup({ edits: [[WAIVERS, "waivers: []", w]] });
    const report = run(s, { facts: changeFacts(s.facts, "gw-a", (f) => ({ ...f, files: { ...f.files, "/etc/amadegi/server.json": null } })) });
    const today = await measure(s, latest(report));
    expect(today.judged.outcome).toBe("pass");
    expect(today.judged.note).toMatch(/accepted by drift waivers W-1/);
    const tomorrow = await measure(s, latest(report), "2027-02-18");
    expect(tomorrow.judged.outcome).toBe("fail");
    // W-2 names gw-a too, but for another kind: it does not accept a file changed by hand.
    expect(tomorrow.judged.offenders[0]?.reason).toMatch(/\[waiver W-1 expired on /);
  });

  it.each([
    ["no report looked for", undefined, /no drift report was read/],
    [
      "no report",
      { found: false, file: "x.json", reason: "no drift report of stack test (x.json): run `amadegi drift --stack test`" } as const,
      /no drift report of stack test/,
    ],
    ["a report older than the milestone's maximum age", "stale", /is 25\.0 h old, older than milestone T-7's maximum age of 24 h/],
    ["a report from the future", "future", /in the future/],
    ["an unreachable server and nothing else", "unreachable", /incomplete \(auth-b: Connection refused\)/],
    ["no results behind the report", "noresults", /incomplete \(never-observed: no results\)/],
  ] as const)("cannot judge: %s", async (_name, kind: string | LatestDrift | undefined, reason) => {
    const s = await setup();
    let drift: LatestDrift | undefined;
    if (kind === "stale") drift = latest(run(s), 25);
    else if (kind === "future") drift = latest(run(s), -3);
    else if (kind === "unreachable")
      drift = latest(run(s, { facts: changeFacts(s.facts, "auth-b", (f) => ({ ...f, reachable: false, error: "Connection refused" })) }));
    else if (kind === "noresults") drift = latest(run(s, { evidence: undefined, evidenceProblem: "no results" }));
    else if (typeof kind !== "string") drift = kind;
    const { judged } = await measure(s, drift);
    expect(judged.outcome).toBe("cannot-judge");
    expect(judged.reason).toMatch(reason);
  });
});

describe("the provisioned state and the stored report", () => {
  const good: ProvisionedServer = {
    address: "10.0.0.1",
    roles: ["gateway"],
    files: { "/etc/x": "a".repeat(64) },
    services: [{ name: "nginx", listens: [{ proto: "tcp", address: "10.0.0.1", port: 443 }] }],
    stationsHash: "b".repeat(64),
    stations: 2,
  };

  it("reads a state file, or the servers output alone", () => {
    expect(parseProvisioned({ stack: "s", servers: { "gw-a": good } }, "s")).toEqual({ state: { stack: "s", servers: { "gw-a": good } }, problems: [] });
    expect(parseProvisioned({ "gw-a": good }, "s").state?.servers["gw-a"]).toEqual(good);
  });

  it("names every problem at once, by server and field", () => {
    const bad = {
      ...good,
      files: { "etc/x": "a".repeat(64), "/etc/y": "xyz" },
      services: [{ name: "n", listens: [{ proto: "sctp", address: "a", port: 1 }] }],
      stationsHash: "nope",
      stations: -1,
    };
    const { state, problems } = parseProvisioned({ stack: "other", servers: { "gw-a": bad, "gw-b": 3 } }, "s");
    expect(state).toBeUndefined();
    expect(problems).toEqual([
      'stack: the state is stack "other"\'s, not "s"\'s',
      'servers.gw-a.files: "etc/x" is not an absolute path',
      'servers.gw-a.files["/etc/y"]: expected a sha256 (64 hex digits)',
      "servers.gw-a.services[0].listens[0]: expected { proto: tcp|udp, address, port 1–65535 }",
      "servers.gw-a.stationsHash: expected a sha256 (64 hex digits)",
      "servers.gw-a.stations: expected a count",
      "servers.gw-b: expected an object",
    ]);
  });

  it("names an address that is not text and roles that are not names, and keeps no server with a problem", () => {
    const { state, problems } = parseProvisioned(
      { "gw-a": { ...good, address: 5, roles: ["gateway", 1] }, "gw-b": { ...good, roles: "gateway", stations: 1.5 } },
      "s",
    );
    expect(state).toBeUndefined();
    expect(problems).toEqual([
      "servers.gw-a.address: expected a string",
      "servers.gw-a.roles: expected a list of role names",
      "servers.gw-b.roles: expected a list of role names",
      "servers.gw-b.stations: expected a count",
    ]);
  });

  it("the latest report: written atomically, read back with its age; missing, damaged or another stack's is a reason, never a throw", async () => {
    const s = await setup();
    const dir = await tempDir();
    const report = run(s);
    const file = await writeLatestDrift(join(dir, "drift"), report);
    expect(file).toBe(join(dir, "drift", "test.json"));
    const back = await readLatestDrift(join(dir, "drift"), "test", new Date(NOW.getTime() + 90 * 60_000));
    expect(back).toEqual({ found: true, file, report, ageHours: 1.5 });
    expect(await readLatestDrift(join(dir, "drift"), "other", NOW)).toMatchObject({
      found: false,
      reason: expect.stringMatching(/no drift report of stack other/),
    });
    await mkdir(join(dir, "bad"));
    await writeFile(join(dir, "bad", "test.json"), "{");
    expect(await readLatestDrift(join(dir, "bad"), "test", NOW)).toMatchObject({ found: false, reason: expect.stringMatching(/is not JSON/) });
    await writeFile(join(dir, "bad", "test.json"), JSON.stringify({ ...report, stack: "other" }));
    expect(await readLatestDrift(join(dir, "bad"), "test", NOW)).toMatchObject({
      found: false,
      reason: expect.stringMatching(/is not a drift report of stack test/),
    });
  });
});

describe("whether a campaign can say anything (fitness.ts: drift's check and the gate's)", () => {
  const words: UnfitWords = {
    noHeader: (file) => `no header ${file}`,
    noEnd: (file) => `no end ${file}`,
    invalid: (footer) => `invalid ${footer.id}: ${footer.invalid.join(", ")}`,
    damaged: (file, lines) => `damaged ${file} ${lines.join(",")}`,
  };
  const stack = (name: string): ExpectedStack => ({ name, other: (s) => `stack ${s}` });

  it("a whole, valid campaign of the stack is fit; another stack's is not, when a stack is asked for", async () => {
    const { evidence } = await setup();
    expect(whyUnfit(evidence, words)).toEqual([]);
    expect(whyUnfit(evidence, words, stack("test"))).toEqual([]);
    expect(whyUnfit(evidence, words, stack("production"))).toEqual(["stack test"]);
  });

  it("no header, no end record, damaged lines: every reason, in order, in the caller's words", async () => {
    const { header, footer, ...rest } = (await setup()).evidence;
    expect(header?.stack).toBe("test");
    expect(whyUnfit({ ...rest, damaged: [2, 7] }, words, stack("production"))).toEqual([
      `no header ${rest.file}`,
      `no end ${rest.file}`,
      `damaged ${rest.file} 2,7`,
    ]);
    if (footer === undefined) throw new Error("the synthetic campaign has an end record");
    expect(whyUnfit({ ...rest, footer: { ...footer, valid: false, invalid: ["the loop lagged"] } }, words)).toEqual([
      `no header ${rest.file}`,
      `invalid ${footer.id}: the loop lagged`,
    ]);
  });
});
