// The monitor role declares checks/central.yaml's server checks as plain data
// (provisioning cannot read the catalog, which lives in probe/): these tests
// keep the two equal, so editing the catalog without the role fails here.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PRODUCTION_TIMING, REHEARSAL_TIMING, renderAlertmanager, renderAlertRules } from "../../../src/model/alerting.ts";
import { renderMonitoring } from "../../../src/model/monitoring.ts";
import {
  CENTRAL_CHECKS,
  centralTargets,
  LINK_CHECK,
  linkTargets,
  MONITOR_FILES,
  REHEARSAL_RECEIVER_PORT,
  renderServer,
  timeServerExporters,
} from "../../../src/model/render/index.ts";
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
    expect(renders[0]?.services.map((s) => [s.name, s.listens])).toEqual([
      ["blackbox", [{ proto: "tcp", address: "10.10.0.90", port: 9115 }]],
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
