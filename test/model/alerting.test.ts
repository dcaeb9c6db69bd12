// Alerting from the inventory, checked by the field's own tools: `promtool check
// rules` and `promtool test rules` (the production durations in simulated time,
// over series labelled exactly as `amadegi export prometheus` labels its
// targets), `amtool check-config` and `amtool config routes test`.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dump, load } from "js-yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { alertmanagerMatcher } from "../../src/lib/encode.ts";
import {
  type AlertTiming,
  CLOCK_OFFSET_LIMIT_SECONDS,
  districtReceiver,
  electionDayEnds,
  expectedLinkAlerts,
  isMonitoredLink,
  PRODUCTION_TIMING,
  REHEARSAL_TIMING,
  renderAlertmanager,
  renderAlertRules,
  silencesOf,
  stretchTiming,
  timingProblems,
} from "../../src/model/alerting.ts";
import type { Inventory } from "../../src/model/index.ts";
import { renderMonitoring } from "../../src/model/monitoring.ts";
import { LINK_CHECK, linkTargets } from "../../src/model/render/index.ts";
import { loadCatalog } from "../../src/probe/catalog/load.ts";
import { buildTargets } from "../../src/probe/targets.ts";
import { REPO, run, sampleInventory } from "./render/helpers.ts";

type Labels = Record<string, string>;

let inventory: Inventory;
let dir: string;
/** Every probe target's labels as Prometheus sees them after relabelling, by check id. */
let seriesOf: Map<string, Labels[]>;

beforeAll(async () => {
  inventory = await sampleInventory();
  dir = await mkdtemp(join(tmpdir(), "amadegi-t-alerting-"));
  const catalog = loadCatalog(join(REPO, "checks"), { inventory });
  if (catalog.catalog === undefined) throw new Error("checks/ does not load");
  const { targets } = buildTargets(inventory, catalog.catalog);
  const rendered = renderMonitoring(inventory, catalog.catalog.checks, targets, { stack: "prod" });
  seriesOf = new Map();
  for (const [path, text] of rendered.files) {
    const m = /^targets\/(.+)\.json$/.exec(path);
    if (m === null) continue;
    const groups = JSON.parse(text) as { targets: string[]; labels: Labels }[];
    seriesOf.set(
      m[1] as string,
      groups.map((g) => {
        // Prometheus drops __-prefixed labels after relabelling.
        const labels = Object.fromEntries(Object.entries(g.labels).filter(([k]) => !k.startsWith("__")));
        return { ...labels, job: `amadegi-${m[1]}`, instance: g.targets[0] as string };
      }),
    );
  }
});

function selector(name: string, labels: Labels): string {
  const inner = Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(", ");
  return `${name}{${inner}}`;
}

async function promtoolTest(timing: AlertTiming, tests: unknown[]): Promise<{ ok: boolean; output: string }> {
  const rules = join(dir, `rules-${timing.name}.yml`);
  await writeFile(rules, renderAlertRules(inventory, timing));
  const file = join(dir, `test-${Math.random().toString(36).slice(2)}.yml`);
  await writeFile(file, dump({ rule_files: [rules], evaluation_interval: `${timing.evaluationInterval}s`, tests }, { lineWidth: -1 }));
  try {
    const r = await run("promtool", ["test", "rules", file], { maxBuffer: 64 * 1024 * 1024 });
    return { ok: true, output: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, output: `${err.stdout ?? ""}${err.stderr ?? ""}` };
  }
}

/** The series labels of a static job's targets as Prometheus sees them (the job's labels, `job` and `instance`). */
function staticTargets(rendered: { files: ReadonlyMap<string, string> }, job: string): Labels[] {
  type Job = { job_name: string; static_configs?: { targets: string[]; labels: Labels }[] };
  const found = (load(rendered.files.get("prometheus.yml") ?? "") as { scrape_configs: Job[] }).scrape_configs.find((j) => j.job_name === job);
  return (found?.static_configs ?? []).flatMap((g) => g.targets.map((instance) => ({ ...g.labels, job, instance })));
}

/** A link's expected alert labels: what the rule keeps of the series, and its own. */
function linkAlertLabels(series: Labels): Labels {
  const keep = ["stack", "station", "station_kind", "district", "province", "gateway", "oncall", "oncall_phone", "link", "medium", "operator", "pop", "owner"];
  const labels: Labels = { severity: "warning", scope: "link" };
  for (const k of keep) if (series[k] !== undefined) labels[k] = series[k];
  return labels;
}

/**
 * An alert's annotations as Prometheus expands the rule file's templates for these labels
 * (only what the rules use: `$labels.x`, `$value` and its humanize filters, given as text).
 */
function annotationsOf(rules: string, alertname: string, labels: Labels, value = ""): Labels {
  const groups = (load(rules) as { groups: { rules: { alert?: string; annotations?: Labels }[] }[] }).groups;
  const rule = groups.flatMap((g) => g.rules).find((r) => r.alert === alertname);
  const out: Labels = {};
  for (const [k, template] of Object.entries(rule?.annotations ?? {})) {
    out[k] = template.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, name: string) => labels[name] ?? "").replace(/\{\{ \$value[^}]*\}\}/g, value);
  }
  return out;
}

/** An expected alert of the production rules: its labels and its annotations expanded for them. */
function exp(alertname: string, labels: Labels, value = ""): { exp_labels: Labels; exp_annotations: Labels } {
  return { exp_labels: labels, exp_annotations: annotationsOf(renderAlertRules(inventory, PRODUCTION_TIMING), alertname, labels, value) };
}

const links = (): Labels[] => seriesOf.get("link-icmp") ?? [];
/** Values every 30 s: up for `upFor` steps, then down for `downFor`, then up. */
const values = (upFor: number, downFor: number, upAfter = 0): string =>
  [`1x${upFor - 1}`, downFor > 0 ? `0x${downFor - 1}` : "", upAfter > 0 ? `1x${upAfter - 1}` : ""].filter((v) => v !== "").join(" ");

describe("alert timing", () => {
  it("both profiles keep every cause ahead of its symptoms", () => {
    expect(timingProblems(PRODUCTION_TIMING)).toEqual([]);
    expect(timingProblems(REHEARSAL_TIMING)).toEqual([]);
  });

  it("a profile stretched by a whole factor is every duration times it, and still keeps every cause ahead", () => {
    expect(stretchTiming(REHEARSAL_TIMING, 1)).toBe(REHEARSAL_TIMING);
    for (const factor of [2, 3, 7, 89]) {
      const t = stretchTiming(REHEARSAL_TIMING, factor);
      expect(timingProblems(t)).toEqual([]);
      expect(t.name).toBe("rehearsal");
      for (const [field, value] of Object.entries(REHEARSAL_TIMING)) {
        if (typeof value === "number") expect(t[field as keyof AlertTiming], field).toBe(value * factor);
      }
      for (const [medium, value] of Object.entries(REHEARSAL_TIMING.linkFor)) expect(t.linkFor[medium as keyof AlertTiming["linkFor"]]).toBe(value * factor);
    }
    // A fraction would round each duration apart and could break an inequality that holds with equality (40 = 15 + 15 + 10).
    expect(() => stretchTiming(REHEARSAL_TIMING, 1.5)).toThrow(RangeError);
    expect(() => stretchTiming(REHEARSAL_TIMING, 0)).toThrow(RangeError);
  });

  it("names each inequality a profile breaks, and the rules refuse such a profile", async () => {
    const bad: AlertTiming = { ...PRODUCTION_TIMING, causeFor: 90, groupWait: 30, keepFiringFor: 30, serverFor: 90 };
    const problems = timingProblems(bad);
    expect(problems).toHaveLength(5);
    // 90 s is a scrape less than the fiber's 120 s, and still not enough: an evaluation less too.
    expect(problems.join("\n")).toMatch(/causeFor 90s \+ scrape 30s \+ evaluation 30s exceeds the quickest link's for 120s/);
    expect(problems.join("\n")).toMatch(/groupWait 30s is less than a scrape and an evaluation \(60s\)/);
    // The rehearsal's group_wait of 20 s until session 18: an operator's outage, seen 20 s after one of its PoPs was
    // lost, reached Alertmanager as the PoP's group flushed, and the PoP was told (an operator-outage drill of a CI run).
    expect(timingProblems({ ...REHEARSAL_TIMING, groupWait: 20 })).toEqual(["groupWait 20s is less than a scrape and an evaluation (25s)"]);
    expect(timingProblems({ ...PRODUCTION_TIMING, causeFor: 60 })).toEqual([]);
    expect(() => renderAlertRules(inventory, bad)).toThrow(/alert timing production: causeFor/);
  });
});

describe("alert rules", () => {
  it("pass promtool check rules, and hold no inventory text: ids and names reach alerts as labels only", async () => {
    const path = join(dir, "check.yml");
    const text = renderAlertRules(inventory, PRODUCTION_TIMING);
    await writeFile(path, text);
    const r = await run("promtool", ["check", "rules", path]);
    expect(r.stdout + r.stderr).toMatch(/SUCCESS: \d+ rules found/);
    for (const station of inventory.stations) {
      expect(text).not.toContain(station.id);
      for (const link of station.links) expect(text).not.toContain(link.id);
    }
    for (const operator of inventory.operators) expect(text).not.toMatch(new RegExp(`"${operator.id}"`));
    for (const district of inventory.districts) expect(text).not.toContain(district.name);
  });

  it("every target a rule reads carries the labels it aggregates by", () => {
    for (const series of links()) {
      for (const k of ["scope", "station", "district", "link", "medium", "operator", "pop", "owner", "oncall", "oncall_phone", "gateway"]) {
        expect(series[k], `${series.link}: ${k}`).toBeDefined();
      }
    }
    const central = seriesOf.get("server-icmp") ?? [];
    expect(central.length).toBe(inventory.servers.length);
    for (const series of central) expect(series).toMatchObject({ scope: "central", kind: "icmp" });
  });

  it("a fiber link down fires a warning to its district after 2 m, not before; its station keeps a path (promtool, production timing)", async () => {
    const fiber = links().find((l) => l.medium === "fiber") as Labels;
    const mobile = links().find((l) => l.station === fiber.station && l.medium === "mobile") as Labels;
    const r = await promtoolTest(PRODUCTION_TIMING, [
      {
        interval: "30s",
        input_series: [
          { series: selector("probe_success", fiber), values: values(2, 20) },
          { series: selector("probe_success", mobile), values: values(22, 0) },
        ],
        alert_rule_test: [
          { eval_time: "2m30s", alertname: "AmadegiLinkDown", exp_alerts: [] },
          {
            eval_time: "3m",
            alertname: "AmadegiLinkDown",
            exp_alerts: [
              {
                exp_labels: linkAlertLabels(fiber),
                exp_annotations: {
                  summary: `Link ${fiber.link} (fiber, ${fiber.operator} at ${fiber.pop}) of station ${fiber.station} is down`,
                  summary_fa: `لینک ${fiber.link} (fiber، ${fiber.operator} در ${fiber.pop}) شعبه ${fiber.station} قطع است`,
                  description: `Owner: ${fiber.owner}. The station keeps its other paths. On call: ${fiber.oncall} ${fiber.oncall_phone}.`,
                },
              },
            ],
          },
          { eval_time: "5m", alertname: "AmadegiStationUnreachable", exp_alerts: [] },
          { eval_time: "5m", alertname: "AmadegiOperatorOutage", exp_alerts: [] },
        ],
      },
    ]);
    expect(r.output).toMatch(/SUCCESS/);
    expect(r.ok).toBe(true);
  });

  it("a mobile link waits 3 m (its medium's for)", async () => {
    const mobile = links().find((l) => l.medium === "mobile") as Labels;
    const r = await promtoolTest(PRODUCTION_TIMING, [
      {
        interval: "30s",
        input_series: [{ series: selector("probe_success", mobile), values: values(2, 20) }],
        alert_rule_test: [
          { eval_time: "3m30s", alertname: "AmadegiLinkDown", exp_alerts: [] },
          { eval_time: "4m", alertname: "AmadegiLinkDown", exp_alerts: [exp("AmadegiLinkDown", linkAlertLabels(mobile))] },
        ],
      },
    ]);
    expect(r.ok, r.output).toBe(true);
  });

  it("a station with every path down is critical after 1 m", async () => {
    const fiber = links().find((l) => l.medium === "fiber") as Labels;
    const own = links().filter((l) => l.station === fiber.station);
    expect(own.length).toBeGreaterThanOrEqual(2);
    const keep = ["stack", "station", "station_kind", "district", "province", "gateway", "oncall", "oncall_phone"];
    const expected: Labels = { severity: "critical", scope: "station" };
    for (const k of keep) if (fiber[k] !== undefined) expected[k] = fiber[k];
    const r = await promtoolTest(PRODUCTION_TIMING, [
      {
        interval: "30s",
        input_series: own.map((l) => ({ series: selector("probe_success", l), values: values(2, 20) })),
        alert_rule_test: [
          { eval_time: "1m30s", alertname: "AmadegiStationUnreachable", exp_alerts: [] },
          { eval_time: "2m", alertname: "AmadegiStationUnreachable", exp_alerts: [exp("AmadegiStationUnreachable", expected)] },
        ],
      },
    ]);
    expect(r.ok, r.output).toBe(true);
  });

  it("an operator's outage is one cause, firing before its links, and kept firing 90 s after it clears", async () => {
    // The links of 40 stations (promtool takes seconds per thousand series); TCI's fiber among them.
    const stations = new Set([...new Set(links().map((l) => l.station))].slice(0, 40));
    const all = links().filter((l) => stations.has(l.station as string));
    expect(all.filter((l) => l.operator === "tci").length).toBeGreaterThan(20);
    // Up 1 m, down 5 m, up again: the cause is pending at 1 m, fires at 2 m (its links at 3 m); clears at 6 m, kept until 7m30s.
    const series = all.map((l) => ({ series: selector("probe_success", l), values: l.operator === "tci" ? values(2, 10, 10) : values(22, 0) }));
    const cause = exp("AmadegiOperatorOutage", { severity: "critical", scope: "operator", operator: "tci", stack: "prod" }, "100%");
    const r = await promtoolTest(PRODUCTION_TIMING, [
      {
        interval: "30s",
        input_series: series,
        alert_rule_test: [
          { eval_time: "1m30s", alertname: "AmadegiOperatorOutage", exp_alerts: [] },
          { eval_time: "2m", alertname: "AmadegiOperatorOutage", exp_alerts: [cause] },
          { eval_time: "7m", alertname: "AmadegiOperatorOutage", exp_alerts: [cause] },
          { eval_time: "8m", alertname: "AmadegiOperatorOutage", exp_alerts: [] },
          // The other operators lost nothing.
          { eval_time: "4m", alertname: "AmadegiStationUnreachable", exp_alerts: [] },
        ],
      },
    ]);
    expect(r.ok, r.output).toBe(true);
  });

  it("a point of presence whose every link is down is lost; one whose links partly answer is not", async () => {
    const byPop = new Map<string, Labels[]>();
    for (const l of links()) byPop.set(`${l.operator}/${l.pop}`, [...(byPop.get(`${l.operator}/${l.pop}`) ?? []), l]);
    const [lost, partial] = [...byPop.values()].filter((ls) => ls.length >= 3);
    expect(lost).toBeDefined();
    expect(partial).toBeDefined();
    const l0 = (lost as Labels[])[0] as Labels;
    const series = [
      ...(lost as Labels[]).map((l) => ({ series: selector("probe_success", l), values: values(2, 20) })),
      ...(partial as Labels[]).map((l, i) => ({ series: selector("probe_success", l), values: i === 0 ? values(22, 0) : values(2, 20) })),
    ];
    const r = await promtoolTest(PRODUCTION_TIMING, [
      {
        interval: "30s",
        input_series: series,
        alert_rule_test: [
          {
            eval_time: "3m",
            alertname: "AmadegiPopLost",
            exp_alerts: [
              exp(
                "AmadegiPopLost",
                { severity: "warning", scope: "pop", operator: l0.operator as string, pop: l0.pop as string, stack: "prod" },
                String((lost as Labels[]).length),
              ),
            ],
          },
        ],
      },
    ]);
    expect(r.ok, r.output).toBe(true);
  });

  it("a central server that answers nothing is a cause; a certificate lapsing before election day is critical, one after is not", async () => {
    const icmp = (seriesOf.get("server-icmp") ?? [])[0] as Labels;
    const tls = seriesOf.get("auth-tls") ?? [];
    expect(tls.length).toBeGreaterThanOrEqual(2);
    const [early, late] = tls as [Labels, Labels];
    const ends = electionDayEnds(inventory);
    const r = await promtoolTest(PRODUCTION_TIMING, [
      {
        interval: "30s",
        input_series: [
          { series: selector("probe_success", icmp), values: values(2, 20) },
          { series: selector("probe_ssl_earliest_cert_expiry", early), values: `${ends - 86_400}x20` },
          { series: selector("probe_ssl_earliest_cert_expiry", late), values: `${ends + 86_400}x20` },
        ],
        alert_rule_test: [
          {
            eval_time: "2m",
            alertname: "AmadegiServerDown",
            exp_alerts: [
              exp("AmadegiServerDown", {
                severity: "critical",
                scope: "server",
                server: icmp.server,
                role: icmp.role,
                site: icmp.site,
                stack: "prod",
              } as Labels),
            ],
          },
          { eval_time: "4m30s", alertname: "AmadegiCertificateLapsesBeforeElection", exp_alerts: [] },
          {
            eval_time: "5m",
            alertname: "AmadegiCertificateLapsesBeforeElection",
            exp_alerts: [
              exp(
                "AmadegiCertificateLapsesBeforeElection",
                { severity: "critical", scope: "certificate", server: early.server, role: early.role, check: "auth-tls", stack: "prod" } as Labels,
                new Date((ends - 86_400) * 1000)
                  .toISOString()
                  .replace("T", " ")
                  .replace(/\.\d+Z$/, " +0000 UTC"),
              ),
            ],
          },
        ],
      },
    ]);
    expect(r.ok, r.output).toBe(true);
  });

  it("a time server off by more than the catalog's limit is skewed after 1 m; one with no NTP answer, or unsynchronised, fails its check", async () => {
    // The job's labels as the monitor role renders them (one node_exporter per time server).
    const rendered = renderMonitoring(inventory, [], [], {
      stack: "prod",
      timeServers: [
        { id: "ntp-a", exporter: "m:9120" },
        { id: "ntp-b", exporter: "m:9121" },
        { id: "ntp-c", exporter: "m:9122" },
      ],
    });
    const [a, b, c] = staticTargets(rendered, "amadegi-ntp-offset") as [Labels, Labels, Labels];
    expect(c?.server).toBe("ntp-c");
    const central = (l: Labels, extra: Labels = {}): Labels => ({ severity: "critical", scope: "central", ...l, ...extra });
    const r = await promtoolTest(PRODUCTION_TIMING, [
      {
        interval: "30s",
        input_series: [
          // a: 0.1 s off (inside 250 ms) for 2 m, then 600 s ahead (the clock-skew drill's faketime).
          { series: selector("node_ntp_offset_seconds", a), values: "0.1x3 600x10" },
          { series: selector("node_ntp_stratum", a), values: "3x13" },
          { series: selector("node_scrape_collector_success", { ...a, collector: "ntp" }), values: "1x13" },
          // b: answers nothing.
          { series: selector("node_scrape_collector_success", { ...b, collector: "ntp" }), values: "0x13" },
          // c: answers, in time, but unsynchronised (stratum 16).
          { series: selector("node_ntp_offset_seconds", c), values: "0.01x13" },
          { series: selector("node_ntp_stratum", c), values: "16x13" },
          { series: selector("node_scrape_collector_success", { ...c, collector: "ntp" }), values: "1x13" },
        ],
        alert_rule_test: [
          { eval_time: "2m30s", alertname: "AmadegiClockSkew", exp_alerts: [] },
          { eval_time: "3m", alertname: "AmadegiClockSkew", exp_alerts: [exp("AmadegiClockSkew", central(a), "10m 0s")] },
          {
            eval_time: "2m",
            alertname: "AmadegiCentralCheckFailing",
            exp_alerts: [exp("AmadegiCentralCheckFailing", central(b, { collector: "ntp" })), exp("AmadegiCentralCheckFailing", central(c), "16")],
          },
        ],
      },
    ]);
    expect(r.ok, r.output).toBe(true);
    // The limit is the catalog's: checks/central.yaml's ntp-offset fails at it.
    const catalogLimit = /"\[NTP_OFFSET\] < (\d+)ms/.exec(await readFile(join(REPO, "checks", "central.yaml"), "utf8"))?.[1];
    expect(Number(catalogLimit) / 1000).toBe(CLOCK_OFFSET_LIMIT_SECONDS);
  });

  it("a monitor's link prober that stops writing is critical at escalation after three scrapes and 1 m; one writing every round is not", async () => {
    const rendered = renderMonitoring(inventory, [LINK_CHECK], [], { stack: "prod", linkProber: { exporter: "10.10.0.90:9119" } });
    // No link target: no prober job. The monitor role always has links; give it one to render the job.
    expect(staticTargets(rendered, "amadegi-link-icmp")).toEqual([]);
    const link = linkTargets(inventory)[0];
    if (link === undefined) throw new Error("the sample has no link");
    const withLink = renderMonitoring(inventory, [LINK_CHECK], [link], { stack: "prod", linkProber: { exporter: "10.10.0.90:9119" } });
    const [target] = staticTargets(withLink, "amadegi-link-icmp") as [Labels];
    const fresh = { ...target, instance: "10.10.0.91:9119", file: "/var/lib/amadegi/link-prober/links.prom" };
    const stale = { ...target, file: "/var/lib/amadegi/link-prober/links.prom" };
    const r = await promtoolTest(PRODUCTION_TIMING, [
      {
        interval: "30s",
        input_series: [
          // The file's modification time, as node_exporter serves it: every round's, or stopped at 120 s.
          { series: selector("node_textfile_mtime_seconds", fresh), values: "0+30x20" },
          { series: selector("node_textfile_mtime_seconds", stale), values: "0+30x4 120x16" },
        ],
        alert_rule_test: [
          // Older than three scrapes (90 s) from 240 s on, then the rule's 1 m.
          { eval_time: "4m30s", alertname: "AmadegiLinkProberStale", exp_alerts: [] },
          {
            eval_time: "5m",
            alertname: "AmadegiLinkProberStale",
            exp_alerts: [exp("AmadegiLinkProberStale", { ...stale, severity: "critical", scope: "monitor" })],
          },
        ],
      },
    ]);
    expect(r.ok, r.output).toBe(true);
  });

  it("a gateway whose devices' CRL lapses before election day ends is critical at escalation; one valid past it is not", async () => {
    const rendered = renderMonitoring(inventory, [], [], {
      stack: "prod",
      checkinGateways: [
        { id: "gw-a", address: "10.0.0.1" },
        { id: "gw-b", address: "10.0.0.2" },
      ],
    });
    const [a, b] = [...staticTargets(rendered, "amadegi-checkins-gw-a"), ...staticTargets(rendered, "amadegi-checkins-gw-b")] as [Labels, Labels];
    const ends = electionDayEnds(inventory);
    const r = await promtoolTest(PRODUCTION_TIMING, [
      {
        interval: "30s",
        input_series: [
          { series: selector("amadegi_device_crl_next_update_timestamp_seconds", a), values: `${ends - 3600}x20` },
          { series: selector("amadegi_device_crl_next_update_timestamp_seconds", b), values: `${ends + 86_400}x20` },
        ],
        alert_rule_test: [
          { eval_time: "4m30s", alertname: "AmadegiDeviceCrlLapses", exp_alerts: [] },
          {
            eval_time: "5m",
            alertname: "AmadegiDeviceCrlLapses",
            exp_alerts: [
              exp(
                "AmadegiDeviceCrlLapses",
                { severity: "critical", scope: "certificate", server: "gw-a", gateway: "gw-a", stack: "prod" },
                new Date((ends - 3600) * 1000)
                  .toISOString()
                  .replace("T", " ")
                  .replace(/\.\d+Z$/, " +0000 UTC"),
              ),
            ],
          },
        ],
      },
    ]);
    expect(r.ok, r.output).toBe(true);
  });

  it("a device silent for 20 m at every gateway while its station's network answers is told after 10 m more; with no path, only the station is", async () => {
    const fiber = links().find((l) => l.medium === "fiber") as Labels;
    const own = links().filter((l) => l.station === fiber.station);
    const checkin = (gateway: string): Labels => ({
      station: fiber.station as string,
      link: fiber.link as string,
      district: fiber.district as string,
      scope: "checkin",
      gateway,
      stack: "prod",
      job: `amadegi-checkins-${gateway}`,
      instance: `${gateway}:443`,
    });
    // Its last check-ins: at 0 s at one gateway, 60 s at the other; the latest counts.
    const silent = [
      { series: selector("amadegi_checkin_last_timestamp_seconds", checkin("gw-a")), values: "0x80" },
      { series: selector("amadegi_checkin_last_timestamp_seconds", checkin("gw-b")), values: "60x80" },
    ];
    const expected = exp("AmadegiCheckinsSilent", {
      severity: "warning",
      scope: "checkin",
      stack: "prod",
      station: fiber.station as string,
      district: fiber.district as string,
    });
    // The duration as Prometheus humanizes it at 31m30s: 31m30s - 60s.
    expected.exp_annotations = annotationsOf(renderAlertRules(inventory, PRODUCTION_TIMING), "AmadegiCheckinsSilent", expected.exp_labels, "30m 30s");
    const answering = await promtoolTest(PRODUCTION_TIMING, [
      {
        interval: "30s",
        input_series: [...own.map((l) => ({ series: selector("probe_success", l), values: "1x80" })), ...silent],
        alert_rule_test: [
          // Silent past 20 m from 21m30s (the latest at 60 s); pending 10 m.
          { eval_time: "31m", alertname: "AmadegiCheckinsSilent", exp_alerts: [] },
          { eval_time: "31m30s", alertname: "AmadegiCheckinsSilent", exp_alerts: [expected] },
        ],
      },
    ]);
    expect(answering.ok, answering.output).toBe(true);
    const noPath = await promtoolTest(PRODUCTION_TIMING, [
      {
        interval: "30s",
        input_series: [...own.map((l) => ({ series: selector("probe_success", l), values: "0x80" })), ...silent],
        alert_rule_test: [{ eval_time: "35m", alertname: "AmadegiCheckinsSilent", exp_alerts: [] }],
      },
    ]);
    expect(noPath.ok, noPath.output).toBe(true);
  });

  it("promtool test rules fails when the durations are not the ones asserted (the test can fail)", async () => {
    const fiber = links().find((l) => l.medium === "fiber") as Labels;
    const r = await promtoolTest(PRODUCTION_TIMING, [
      {
        interval: "30s",
        input_series: [{ series: selector("probe_success", fiber), values: values(2, 20) }],
        alert_rule_test: [{ eval_time: "2m", alertname: "AmadegiLinkDown", exp_alerts: [exp("AmadegiLinkDown", linkAlertLabels(fiber))] }],
      },
    ]);
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/FAILED/);
  });
});

describe("alertmanager configuration", () => {
  let config: string;
  beforeAll(async () => {
    config = join(dir, "alertmanager.yml");
    await writeFile(config, renderAlertmanager(inventory, PRODUCTION_TIMING, { webhook: "http://127.0.0.1:9/notify", escalation: "http://127.0.0.1:9/noc" }));
  });

  async function routeOf(labels: Labels): Promise<string> {
    const r = await run("amtool", [
      "config",
      "routes",
      "test",
      `--config.file=${config}`,
      ...Object.entries(labels).map(([k, v]) => alertmanagerMatcher(k, v)),
    ]);
    return r.stdout.trim();
  }

  it("gives each cause a group of its own at escalation, so each new one waits group_wait for the cause that explains it", async () => {
    const parsed = load(await readFile(config, "utf8")) as { route: { routes: { matchers: string[]; group_by: string[] }[] } };
    const escalation = parsed.route.routes.find((r) => r.matchers.some((m) => m.startsWith("scope=~")));
    expect(escalation?.matchers).toEqual(['scope=~"operator|pop|server|central|certificate"']);
    expect(escalation?.group_by).toEqual(["alertname", "stack", "operator", "pop", "server"]);
    // The oracle groups a lost PoP as Alertmanager does.
    const byPop = new Map<string, string[]>();
    for (const s of inventory.stations)
      for (const l of s.links.filter(isMonitoredLink)) byPop.set(`${l.operator}/${l.pop}`, [...(byPop.get(`${l.operator}/${l.pop}`) ?? []), l.id]);
    const [pop, ids] = [...byPop].find(([, l]) => l.length >= 3) ?? ["", []];
    const [lost] = expectedLinkAlerts(inventory, "s", new Set(ids));
    expect(lost?.group).toEqual({ alertname: "AmadegiPopLost", stack: "s", operator: pop.split("/")[0], pop: pop.split("/")[1] });
  });

  it("passes amtool check-config", async () => {
    const r = await run("amtool", ["check-config", config]);
    expect(r.stdout).toMatch(/SUCCESS/);
    const parsed = load(await import("node:fs").then((fs) => fs.readFileSync(config, "utf8"))) as { receivers: { name: string }[]; inhibit_rules: unknown[] };
    expect(parsed.receivers.map((r) => r.name).sort()).toEqual(["escalation", ...inventory.districts.map((d) => districtReceiver(d.id))].sort());
  });

  it("routes a district's link and station alerts to its on-call receiver, causes and central services to escalation", async () => {
    for (const district of inventory.districts) {
      expect(await routeOf({ alertname: "AmadegiLinkDown", scope: "link", district: district.id, severity: "warning" })).toBe(districtReceiver(district.id));
      expect(await routeOf({ alertname: "AmadegiStationUnreachable", scope: "station", district: district.id })).toBe(districtReceiver(district.id));
    }
    expect(await routeOf({ alertname: "AmadegiOperatorOutage", scope: "operator", operator: "tci" })).toBe("escalation");
    expect(await routeOf({ alertname: "AmadegiPopLost", scope: "pop", operator: "tci", pop: "EX-PKD-01" })).toBe("escalation");
    expect(await routeOf({ alertname: "AmadegiCentralCheckFailing", scope: "central", server: "gw-teh1-01" })).toBe("escalation");
    // A link alert whose district no route knows still reaches someone.
    expect(await routeOf({ alertname: "AmadegiLinkDown", scope: "link", district: "nowhere" })).toBe("escalation");
  });

  it("a district id with a quote stays one matcher value", () => {
    expect(alertmanagerMatcher("district", 'a"b\\c\nd')).toBe('district="a\\"b\\\\c\\nd"');
  });
});

describe("the rules' oracle (expectedLinkAlerts): what a set of links down should tell, after the inhibitions", () => {
  const said = (down: Iterable<string>, probed?: Set<string>) =>
    expectedLinkAlerts(inventory, "s", new Set(down), probed === undefined ? {} : { probed }).map((a) => `${a.alertname} ${a.id} → ${a.receiver}`);
  const monitored = () => inventory.stations.flatMap((s) => s.links.filter(isMonitoredLink).map((l) => ({ station: s, link: l })));

  it("one fiber link: its own warning, to its district", () => {
    const { station, link } = monitored().find((x) => x.link.medium === "fiber") ?? { station: undefined, link: undefined };
    expect(said([link?.id ?? ""])).toEqual([`AmadegiLinkDown ${link?.id} → ${districtReceiver(station?.district ?? "")}`]);
  });

  it("every link of an operator: one outage at escalation, none of its links or PoPs; a station left with no path is still critical", () => {
    const tci = monitored().filter((x) => x.link.operator === "tci");
    const out = said(tci.map((x) => x.link.id));
    expect(out[0]).toBe("AmadegiOperatorOutage tci → escalation");
    expect(out.filter((l) => l.startsWith("AmadegiLinkDown") || l.startsWith("AmadegiPopLost"))).toEqual([]);
    const alone = inventory.stations.filter((s) => {
      const m = s.links.filter(isMonitoredLink);
      return m.length > 0 && m.every((l) => l.operator === "tci");
    });
    expect(out.filter((l) => l.startsWith("AmadegiStationUnreachable"))).toHaveLength(alone.length);
  });

  it("every link of a point of presence: the PoP is lost, its links are silent; below the operator's threshold", () => {
    const byPop = new Map<string, string[]>();
    for (const { link } of monitored()) byPop.set(`${link.operator}/${link.pop}`, [...(byPop.get(`${link.operator}/${link.pop}`) ?? []), link.id]);
    const [pop, links] = [...byPop].find(([, l]) => l.length >= 3) ?? ["", []];
    expect(said(links)).toEqual([`AmadegiPopLost ${pop} → escalation`]);
  });

  it("the waivers' silences: PKD-0031's link warnings are never told, its loss of every path still is", () => {
    const silences = silencesOf(inventory);
    const pkd31 = inventory.stationsById.get("PKD-0031")?.links.filter(isMonitoredLink) ?? [];
    const fiber = pkd31.find((l) => l.medium === "fiber");
    const told = (down: string[]) => expectedLinkAlerts(inventory, "s", new Set(down), { silences }).map((a) => `${a.alertname} ${a.id}`);
    expect(told([fiber?.id ?? ""])).toEqual([]);
    expect(told(pkd31.map((l) => l.id))).toEqual(["AmadegiStationUnreachable PKD-0031"]);
    // Without the silences, its warning would be told.
    expect(expectedLinkAlerts(inventory, "s", new Set([fiber?.id ?? ""])).map((a) => a.id)).toEqual([fiber?.id]);
  });

  it("counts only the links probed: forty stations' TCI links are TCI's outage there, not in the whole inventory", () => {
    const stations = new Set(inventory.stations.slice(0, 40).map((s) => s.id));
    const probed = new Set(
      monitored()
        .filter((x) => stations.has(x.station.id))
        .map((x) => x.link.id),
    );
    const tci = monitored()
      .filter((x) => probed.has(x.link.id) && x.link.operator === "tci")
      .map((x) => x.link.id);
    expect(said(tci, probed)).toEqual(["AmadegiOperatorOutage tci → escalation"]);
    expect(said(tci).some((l) => l.startsWith("AmadegiOperatorOutage"))).toBe(false);
  });
});
