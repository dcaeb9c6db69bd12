// The monitor role declares checks/central.yaml's server checks as plain data
// (provisioning cannot read the catalog, which lives in probe/): these tests
// keep the two equal, so editing the catalog without the role fails here.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  isMonitoredLink,
  linkProbePeriod,
  PRODUCTION_TIMING,
  REHEARSAL_LINK_PINGS_PER_S,
  REHEARSAL_TIMING,
  renderAlertmanager,
  renderAlertRules,
  stretchTiming,
} from "../../../src/model/alerting.ts";
import { LINK_PROBER_TARGETS, renderMonitoring } from "../../../src/model/monitoring.ts";
import {
  alertTimingOf,
  CENTRAL_CHECKS,
  centralTargets,
  LINK_CHECK,
  LINK_PROBER_SEND_MS,
  linkProbeDelay,
  linkRoundSpread,
  linkTargets,
  MONITOR_FILES,
  monitorIds,
  MONITORS_PER_STATION,
  REHEARSAL_RECEIVER_PORT,
  rehearsalPace,
  renderServer,
  serverMonitors,
  stationMonitors,
  timeServerExporters,
} from "../../../src/model/render/index.ts";
import type { Inventory } from "../../../src/model/index.ts";
import { loadCatalog } from "../../../src/probe/catalog/load.ts";
import { buildTargets } from "../../../src/probe/targets.ts";
import { REPO, sampleInventory } from "./helpers.ts";

async function catalog() {
  const inventory = await sampleInventory();
  const loaded = loadCatalog(join(REPO, "checks"), { inventory });
  if (loaded.catalog === undefined) throw new Error(`checks/ does not load: ${loaded.findings.map((f) => f.message).join("; ")}`);
  return { inventory, catalog: loaded.catalog };
}

describe("monitor role", () => {
  it("declares exactly the catalog's server checks: ids, kinds, timeouts, params, roles, ports", async () => {
    const { catalog: c } = await catalog();
    const servers = c.checks.filter((check) => check.select.objects === "servers");
    const shape = (id: string, kind: string, timeoutMs: number, params: unknown, roles: readonly string[] | undefined, port: number | undefined) => ({
      id,
      kind,
      timeoutMs,
      params,
      roles,
      port,
    });
    expect(CENTRAL_CHECKS.map((k) => shape(k.id, k.kind, k.timeoutMs, k.params, k.roles, k.port))).toEqual(
      servers.map((k) => shape(k.id, k.kind, k.timeoutMs, k.params, k.select.roles, k.port ?? (k.kind === "dns" ? 53 : k.kind === "ntp" ? 123 : undefined))),
    );
    // The conditions monitoring turns into module options (status codes, body) are the catalog's.
    for (const check of CENTRAL_CHECKS) {
      const ours = check.conditions.map((x) => `${x.placeholder} ${x.op} ${String(x.value.value)}`);
      const theirs = (servers.find((k) => k.id === check.id)?.conditions ?? [])
        .filter((x) => x.placeholder === "STATUS" || x.placeholder === "BODY")
        .map((x) => `${x.placeholder} ${x.op} ${"value" in x.value ? String(x.value.value) : ""}`);
      expect(ours, check.id).toEqual(theirs);
    }
  });

  it("declares the catalog's link path check (link-icmp: every live link, every medium) and builds the same link targets as a campaign", async () => {
    const { inventory, catalog: c } = await catalog();
    const theirs = c.checks.find((k) => k.id === LINK_CHECK.id);
    expect(theirs).toBeDefined();
    expect({ kind: theirs?.kind, timeoutMs: theirs?.timeoutMs, params: theirs?.params }).toEqual({
      kind: LINK_CHECK.kind,
      timeoutMs: LINK_CHECK.timeoutMs,
      params: LINK_CHECK.params,
    });
    expect(theirs?.select.objects).toBe("links");
    expect(theirs?.select.lifecycle).toEqual(["live"]);
    const pick = (t: { key: string; address: string; station?: string; link?: string; district?: string; operator?: string; medium?: string }) => ({
      key: t.key,
      address: t.address,
      station: t.station,
      link: t.link,
      district: t.district,
      operator: t.operator,
      medium: t.medium,
    });
    const campaign = buildTargets(inventory, c).targets.filter((t) => t.check === LINK_CHECK.id);
    expect(campaign.length).toBeGreaterThan(1000);
    expect(linkTargets(inventory).map(pick)).toEqual(campaign.map(pick));
  });

  it("builds the same server targets as a campaign would", async () => {
    const { inventory, catalog: c } = await catalog();
    const theirs = buildTargets(inventory, c).targets.filter((t) => t.server !== undefined);
    const pick = (t: { key: string; address: string; port?: number; hostname?: string; params: unknown }) => ({
      key: t.key,
      address: t.address,
      port: t.port,
      hostname: t.hostname,
      params: t.params,
    });
    expect(centralTargets(inventory).map(pick)).toEqual(theirs.map(pick));
  });

  it("renders the same blackbox modules and target files as `amadegi export prometheus` would for the servers", async () => {
    const { inventory, catalog: c } = await catalog();
    const all = buildTargets(inventory, c).targets;
    const serverTargets = [...all.filter((t) => t.server !== undefined), ...all.filter((t) => t.check === LINK_CHECK.id)];
    const serverChecks = [...c.checks.filter((k) => k.select.objects === "servers"), ...c.checks.filter((k) => k.id === LINK_CHECK.id)];
    const options = {
      blackbox: "10.10.0.90:9115",
      stack: "production",
      tls: { caFile: "/etc/amadegi/tls/servers-ca.crt" },
      interval: "30s",
      evaluationInterval: "30s",
      ruleFiles: [MONITOR_FILES.rules],
      alertmanagers: ["10.10.0.90:9093"],
      checkinGateways: inventory.servers.filter((x) => x.roles.includes("gateway")).map((x) => ({ id: x.id, address: x.address })),
      timeServers: timeServerExporters(inventory, "10.10.0.90"),
      linkProber: { exporter: "10.10.0.90:9119" },
    };
    const expected = renderMonitoring(inventory, serverChecks, serverTargets, options);
    const mon = inventory.serversById.get("mon-teh1-01");
    if (mon === undefined) throw new Error("no monitor in the sample");
    const renders = renderServer(inventory, mon.id, { root: "", environment: "production", address: mon.address });
    const files = new Map(
      renders
        .flatMap((r) => r.files)
        .filter((f) => f.path.startsWith(`${MONITOR_FILES.dir}/`) && f.path !== MONITOR_FILES.rules)
        .map((f) => [f.path.slice(MONITOR_FILES.dir.length + 1), f.content]),
    );
    expect(files).toEqual(expected.files);
    expect(files.get("prometheus.yml")).toContain("replacement: 10.10.0.90:9115");
    // The links are not blackbox_exporter's: their prober's exporter is one target (ADR 0013, "The links' prober").
    expect(files.has(`targets/${LINK_CHECK.id}.json`)).toBe(false);
    expect(files.get("prometheus.yml")).toMatch(
      /job_name: amadegi-link-icmp\n\s+honor_labels: true\n\s+static_configs:\n\s+- targets:\n\s+- 10\.10\.0\.90:9119\n/,
    );
    expect(renders[0]?.services.map((s) => [s.name, s.listens])).toEqual([
      ["blackbox", [{ proto: "tcp", address: "10.10.0.90", port: 9115 }]],
      // The link prober listens nowhere: it writes the file its exporter serves.
      ["link-prober", []],
      ["link-exporter", [{ proto: "tcp", address: "10.10.0.90", port: 9119 }]],
      ["alertmanager", [{ proto: "tcp", address: "10.10.0.90", port: 9093 }]],
      // One node_exporter per time server (by id), its ntp collector asking that server.
      ["ntp-exporter-ntp-teh1-01", [{ proto: "tcp", address: "10.10.0.90", port: 9120 }]],
      ["ntp-exporter-ntp-teh2-01", [{ proto: "tcp", address: "10.10.0.90", port: 9121 }]],
      ["prometheus", [{ proto: "tcp", address: "10.10.0.90", port: 9090 }]],
    ]);
    const clock = renders[0]?.services.find((s) => s.name === "ntp-exporter-ntp-teh2-01");
    expect(clock?.start).toContain("--collector.ntp.server=10.20.0.123");
    expect(files.get("prometheus.yml")).toMatch(
      /job_name: amadegi-ntp-offset\n(?:.*\n)*?\s+- targets:\n\s+- 10\.10\.0\.90:9121\n\s+labels:\n\s+scope: central\n\s+server: ntp-teh2-01/,
    );
    // The rules and Alertmanager's routes: production's timing, and no receiver without the stack's (ADR 0009).
    const byPath = new Map(renders.flatMap((r) => r.files).map((f) => [f.path, f.content]));
    expect(byPath.get(MONITOR_FILES.rules)).toBe(renderAlertRules(inventory, PRODUCTION_TIMING));
    expect(byPath.get(MONITOR_FILES.alertmanager)).toBe(renderAlertmanager(inventory, PRODUCTION_TIMING, undefined));
    expect(byPath.get(MONITOR_FILES.alertmanager)).not.toContain("webhook_configs");
  });

  it("posts to the stack's receivers; the rehearsal's default is its own receiver on the monitor's address, on the scaled timing", async () => {
    const inventory = await sampleInventory();
    const mon = inventory.serversById.get("mon-teh1-01");
    if (mon === undefined) throw new Error("no monitor in the sample");
    const fileOf = (target: Parameters<typeof renderServer>[2], path: string) =>
      renderServer(inventory, mon.id, target)
        .flatMap((r) => r.files)
        .find((f) => f.path === path)?.content ?? "";
    const production = fileOf(
      {
        root: "",
        environment: "production",
        address: mon.address,
        alerting: { webhook: "https://sms.example.org/am", escalation: "https://noc.example.org/am" },
      },
      MONITOR_FILES.alertmanager,
    );
    expect(production).toContain("url: https://sms.example.org/am");
    expect(production).toContain("url: https://noc.example.org/am");
    const rehearsal = fileOf({ root: "/r", environment: "rehearsal", address: mon.address }, MONITOR_FILES.alertmanager);
    expect(rehearsal).toContain(`url: http://${mon.address}:${REHEARSAL_RECEIVER_PORT}/notify`);
    expect(rehearsal).toContain(`group_wait: ${REHEARSAL_TIMING.groupWait}s`);
    expect(fileOf({ root: "/r", environment: "rehearsal", address: mon.address }, MONITOR_FILES.rules)).toBe(renderAlertRules(inventory, REHEARSAL_TIMING));
  });
});

/** The sample with `n` monitors: its own and copies at other addresses (a national layout has one per data centre). */
async function withMonitors(n: number): Promise<Inventory> {
  const inventory = await sampleInventory();
  const own = inventory.servers.find((x) => x.roles.includes("monitor"));
  if (own === undefined) throw new Error("no monitor in the sample");
  const more = Array.from({ length: n - 1 }, (_, i) => ({ ...own, id: `mon-x${i + 2}-01`, address: `10.10.0.${91 + i}` }));
  const servers = [...inventory.servers, ...more];
  return { ...inventory, servers, serversById: new Map(servers.map((x) => [x.id, x])) };
}

/** The link targets a monitor's rendered prober targets hold, by key. */
function renderedLinkKeys(inventory: Inventory, monitor: string): string[] {
  const server = inventory.serversById.get(monitor);
  if (server === undefined) throw new Error(`no ${monitor}`);
  const file = renderServer(inventory, monitor, { root: "", environment: "production", address: server.address })
    .flatMap((r) => r.files)
    .find((f) => f.path === `${MONITOR_FILES.dir}/${LINK_PROBER_TARGETS}`);
  return (file?.content ?? "")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const labels = proberLabels(line);
      return `${LINK_CHECK.id}/${labels.get("station")}/${labels.get("link")}`;
    });
}

/** A prober target line's labels, unescaped (`\\`, `\"`, `\n`). */
function proberLabels(line: string): Map<string, string> {
  const text = line.slice(line.indexOf("\t") + 1);
  const unescape = (v: string) => v.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
  return new Map([...text.matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1] ?? "", unescape(m[2] ?? "")]));
}

describe("monitors share the links (ADR 0013)", () => {
  const ids = ["mon-a", "mon-b", "mon-c", "mon-d", "mon-e", "mon-f"];

  it("gives each station every monitor while there are no more than MONITORS_PER_STATION, else that many, the same every time", () => {
    expect(stationMonitors("st-1", ["mon-a"])).toEqual(["mon-a"]);
    expect(stationMonitors("st-1", ["mon-a", "mon-b"])).toEqual(["mon-a", "mon-b"]);
    const picked = stationMonitors("st-1", ids);
    expect(picked).toHaveLength(MONITORS_PER_STATION);
    expect(new Set(picked).size).toBe(MONITORS_PER_STATION);
    expect(stationMonitors("st-1", [...ids].reverse())).toEqual(picked);
  });

  it("spreads the stations evenly, and a monitor removed moves only the stations it had", () => {
    const stations = Array.from({ length: 3000 }, (_, i) => `station-${i}`);
    const share = new Map(ids.map((id) => [id, 0]));
    for (const st of stations) for (const m of stationMonitors(st, ids)) share.set(m, (share.get(m) ?? 0) + 1);
    // Each monitor's expected share is 2/6 of the stations (1,000): within 10 %.
    for (const [id, n] of share) expect(Math.abs(n - 1000), `${id}: ${n}`).toBeLessThan(100);
    const fewer = ids.filter((id) => id !== "mon-c");
    let moved = 0;
    for (const st of stations) {
      const before = stationMonitors(st, ids);
      const after = stationMonitors(st, fewer);
      if (!before.includes("mon-c")) expect(after, st).toEqual(before);
      else {
        // It keeps its other monitor and gains one.
        expect(after, st).toEqual(expect.arrayContaining(before.filter((m) => m !== "mon-c")));
        moved++;
      }
    }
    expect(moved).toBe(share.get("mon-c"));
  });

  it("renders on each of six monitors the links of its stations only: every link on exactly two, a station's links together", async () => {
    const inventory = await withMonitors(6);
    const monitors = monitorIds(inventory);
    expect(monitors).toHaveLength(6);
    const everyLink = linkTargets(inventory);
    const all = everyLink.map((t) => t.key);
    const seen = new Map<string, number>();
    for (const monitor of monitors) {
      const keys = renderedLinkKeys(inventory, monitor);
      expect(keys.length, monitor).toBeLessThan(all.length / 2);
      for (const key of keys) seen.set(key, (seen.get(key) ?? 0) + 1);
      // The station's links together: its rules (every link of a station down) read them all.
      const stations = new Set(keys.map((k) => k.split("/")[1]));
      const own = new Set(keys);
      for (const t of everyLink.filter((x) => stations.has(x.station ?? ""))) expect(own.has(t.key), t.key).toBe(true);
    }
    expect([...seen.keys()].sort()).toEqual([...all].sort());
    expect(new Set(seen.values())).toEqual(new Set([MONITORS_PER_STATION]));
  });

  it("renders each central server's checks and its time exporter on exactly two of six monitors, all of a server's checks together", async () => {
    const inventory = await withMonitors(6);
    const monitors = monitorIds(inventory);
    // A time server's clock is read by its exporter, not blackbox_exporter: it has no target file.
    const probed = (t: { kind: string }) => t.kind !== "ntp";
    const every = centralTargets(inventory).filter(probed);
    const seen = new Map<string, string[]>();
    for (const monitor of monitors) {
      const address = inventory.serversById.get(monitor)?.address ?? "";
      const rendered = renderServer(inventory, monitor, { root: "", environment: "production", address }).filter((r) => r.role === "monitor");
      const keys = rendered
        .flatMap((r) => r.files)
        .filter((f) => f.path.startsWith(`${MONITOR_FILES.dir}/targets/`) && !f.path.endsWith(`/${LINK_CHECK.id}.json`))
        .flatMap((f) => (JSON.parse(f.content) as { labels: { check: string; server: string } }[]).map((g) => `${g.labels.check}/${g.labels.server}`));
      expect(keys.length, monitor).toBeLessThan(every.length / 2);
      expect([...keys].sort()).toEqual(
        centralTargets(inventory, monitor)
          .filter(probed)
          .map((t) => t.key)
          .sort(),
      );
      // A server's checks stay together: its own alert silences its services' on the same monitor.
      const servers = new Set(keys.map((k) => k.split("/")[1]));
      for (const t of every.filter((x) => servers.has(x.server ?? ""))) expect(keys, t.key).toContain(t.key);
      for (const key of keys) seen.set(key, [...(seen.get(key) ?? []), monitor]);
      // Its time exporters are those of its own time servers, each on the port of its place among all.
      const clocks = timeServerExporters(inventory, address, monitor);
      for (const c of clocks) expect(servers.has(c.id), c.id).toBe(true);
      const exporters = rendered.flatMap((r) => r.services).filter((sv) => sv.name.includes("ntp-exporter-"));
      expect(exporters.map((sv) => sv.name).sort()).toEqual(clocks.map((c) => exporters.find((sv) => sv.name.endsWith(`ntp-exporter-${c.id}`))?.name).sort());
    }
    expect([...seen.keys()].sort()).toEqual(every.map((t) => t.key).sort());
    for (const [key, on] of seen) expect(on, key).toEqual(serverMonitors(key.split("/")[1] ?? "", monitors));
    expect(new Set([...seen.values()].map((on) => on.length))).toEqual(new Set([MONITORS_PER_STATION]));
  });

  it("renders every link on each monitor where there are two or one", async () => {
    const all = linkTargets(await sampleInventory()).map((t) => t.key);
    expect(renderedLinkKeys(await sampleInventory(), "mon-teh1-01")).toEqual(all);
    const two = await withMonitors(2);
    for (const monitor of monitorIds(two)) expect(renderedLinkKeys(two, monitor), monitor).toEqual(all);
  });
});

describe("the rehearsal's pace (ADR 0013)", () => {
  const render = (inventory: Inventory, environment: "rehearsal" | "production", path: string) => {
    const mon = inventory.serversById.get("mon-teh1-01");
    if (mon === undefined) throw new Error("no monitor in the sample");
    return (
      renderServer(inventory, mon.id, { root: "/r", environment, address: mon.address })
        .flatMap((r) => r.files)
        .find((f) => f.path === path)?.content ?? ""
    );
  };

  it("the sample (one monitor) runs at REHEARSAL_TIMING itself", async () => {
    const inventory = await sampleInventory();
    expect(rehearsalPace(inventory)).toBe(1);
    expect(render(inventory, "rehearsal", MONITOR_FILES.rules)).toBe(renderAlertRules(inventory, REHEARSAL_TIMING));
  });

  it("links pinged faster than the machine's budget slow every monitor's scrape and alert by the whole factor that fits them; production's never", async () => {
    const inventory = await withMonitors(6);
    const links = inventory.stations.flatMap((s) => s.links).filter(isMonitoredLink).length;
    const pingsPerS = (links * MONITORS_PER_STATION) / REHEARSAL_TIMING.scrapeInterval;
    expect(pingsPerS).toBeGreaterThan(REHEARSAL_LINK_PINGS_PER_S); // the case under test
    const pace = rehearsalPace(inventory);
    expect(pace).toBe(Math.ceil(pingsPerS / REHEARSAL_LINK_PINGS_PER_S));
    expect(pingsPerS / pace).toBeLessThanOrEqual(REHEARSAL_LINK_PINGS_PER_S);
    const t = stretchTiming(REHEARSAL_TIMING, pace);
    expect(render(inventory, "rehearsal", MONITOR_FILES.rules)).toBe(renderAlertRules(inventory, t));
    expect(render(inventory, "rehearsal", MONITOR_FILES.alertmanager)).toContain(`group_wait: ${t.groupWait}s`);
    expect(render(inventory, "rehearsal", MONITOR_FILES.prometheus)).toContain(`scrape_interval: ${t.scrapeInterval}s`);
    expect(render(inventory, "production", MONITOR_FILES.rules)).toBe(renderAlertRules(inventory, PRODUCTION_TIMING));
  });

  /** A monitor's link prober as rendered: its period (s), reply wait, least gap between pings and spread (ms). */
  const prober = (inventory: Inventory, monitor: string, environment: "rehearsal" | "production") => {
    const server = inventory.serversById.get(monitor);
    if (server === undefined) throw new Error(`no ${monitor}`);
    const start = renderServer(inventory, monitor, { root: "/r", environment, address: server.address })
      .flatMap((r) => r.services)
      .find((x) => x.name === "link-prober")?.start;
    const args = /link-prober\.sh'? \S+ \S+ (\d+) (\d+) (\d+) (\d+)/.exec(start ?? "");
    if (args === null) throw new Error(`${monitor}: no link prober's command line in ${String(start)}`);
    const [period, wait, gap, spread] = args.slice(1).map(Number) as [number, number, number, number];
    const links = linkTargets(inventory, monitor).length;
    // How far apart link-prober.sh sends: the least gap, or the spread over its links where that is more.
    const sendsEvery = Math.max(gap, Math.floor(spread / links));
    return { period, wait, gap, spread, links, sendsEvery };
  };

  it("spreads each round of a paced rehearsal's link prober over its period: six monitors send their rounds' rate, not 1,000 pings a second each", async () => {
    const inventory = await withMonitors(6);
    expect(rehearsalPace(inventory)).toBeGreaterThan(1); // the case under test
    const t = alertTimingOf(inventory, "rehearsal");
    let whileSending = 0;
    let onAverage = 0;
    for (const monitor of monitorIds(inventory)) {
      const p = prober(inventory, monitor, "rehearsal");
      expect(p.period).toBe(linkProbePeriod(t));
      expect(p.gap).toBe(LINK_PROBER_SEND_MS);
      expect(p.spread).toBe(linkRoundSpread(t));
      // A round sends over most of its period and is done, replies waited for, within it.
      expect(p.links * p.sendsEvery).toBeGreaterThan(p.period * 1000 * 0.5);
      expect(p.links * p.sendsEvery + p.wait).toBeLessThanOrEqual(p.period * 1000);
      whileSending += 1000 / p.sendsEvery;
      onAverage += p.links / p.period;
    }
    expect(whileSending).toBeLessThan(2 * onAverage);
    // Production's monitors are servers of their own: they send every round as fast as they may.
    for (const monitor of monitorIds(inventory)) {
      const p = prober(inventory, monitor, "production");
      expect([p.spread, p.sendsEvery]).toEqual([0, LINK_PROBER_SEND_MS]);
    }
  });

  it("keeps the sample's prober (the drills') sending 1 ms apart, so its notification bound is what it was", async () => {
    const inventory = await sampleInventory();
    const [monitor] = monitorIds(inventory);
    if (monitor === undefined) throw new Error("no monitor in the sample");
    const p = prober(inventory, monitor, "rehearsal");
    expect(p.spread).toBeGreaterThan(0);
    expect(p.sendsEvery).toBe(LINK_PROBER_SEND_MS);
    const t = alertTimingOf(inventory, "rehearsal");
    expect(linkProbeDelay(inventory, t)).toBe(linkProbePeriod(t) + Math.ceil((p.links * LINK_PROBER_SEND_MS + LINK_CHECK.timeoutMs) / 1000));
  });
});
