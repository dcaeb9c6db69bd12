import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { UsageError } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/fs.ts";
import {
  type AlertReceivers,
  type AlertTiming,
  type Finding,
  loadInventory,
  type MonitoringFiles,
  renderAlertmanager,
  renderAlertRules,
  renderMonitoring,
} from "../model/index.ts";
import { alertTimingOf, checkinGateways } from "../model/render/index.ts";
import { loadCatalog } from "./catalog/load.ts";
import { openStackSettings, probeSettingsOf } from "./stackconfig.ts";
import { buildTargets } from "./targets.ts";

/**
 * `amadegi export prometheus` without the command line: inventory + catalog →
 * the same targets a campaign would probe → the monitoring files of
 * src/model/monitoring.ts, with the alerting rules and Alertmanager's
 * configuration of src/model/alerting.ts, each written atomically (a Prometheus watching the
 * directory sees a whole file or the old one). Target files of checks that no
 * longer exist are removed, so a removed check stops being scraped.
 */
export interface ExportPrometheusOptions {
  readonly inventory: string;
  readonly checks: string;
  readonly out: string;
  /** Stack whose TLS settings (CA, client certificate) the modules use, and the `stack` label. */
  readonly stack?: string;
  readonly stacksDir?: string;
  readonly blackbox?: string;
  /** host:port of the Alertmanager prometheus.yml sends alerts to (default 127.0.0.1:9093). */
  readonly alertmanager?: string;
  /** The alerts' timing profile (default production's). */
  readonly timing?: AlertTiming["name"];
  /** Where Alertmanager posts: a URL for every receiver (else the stack's `amadegi:alerting`, else none). */
  readonly webhook?: string;
  /**
   * Also scrape every gateway's check-in table (GET https://<gateway>/metrics), verified with the stack's
   * CA: needs `stack`. The gateways answer only the inventory's monitor servers (nginx allows their addresses).
   */
  readonly checkins?: boolean;
}

export type ExportOutcome =
  { readonly written: false; readonly findings: readonly Finding[] } | ({ readonly written: true; readonly paths: readonly string[] } & MonitoringFiles);

export async function exportPrometheus(options: ExportPrometheusOptions): Promise<ExportOutcome> {
  let tls: { caFile?: string; certFile?: string; keyFile?: string } = {};
  let receivers: AlertReceivers | undefined = options.webhook === undefined ? undefined : { webhook: options.webhook };
  if (options.stack !== undefined) {
    const read = openStackSettings(options.stack, options.stacksDir);
    const settings = probeSettingsOf(read);
    if (settings.probe === undefined) return { written: false, findings: settings.findings };
    receivers ??= read.settings?.["amadegi:alerting"];
    const p = settings.probe;
    tls = {
      ...(p.ca === undefined ? {} : { caFile: p.ca }),
      ...(p.clientCert === undefined ? {} : { certFile: p.clientCert }),
      ...(p.clientKey === undefined ? {} : { keyFile: p.clientKey }),
    };
  }
  if (options.checkins === true && tls.caFile === undefined) {
    const why = options.stack === undefined ? "no --stack names it" : `stack ${options.stack} has no amadegi:probe.ca`;
    throw new UsageError(`the gateways' check-in tables are HTTPS, verified with the central servers' CA, and ${why}`, {
      hint: "pass --stack NAME of a stack whose amadegi:probe.ca is the servers' CA",
    });
  }
  const loaded = await loadInventory(options.inventory);
  if (loaded.inventory === undefined) return { written: false, findings: loaded.findings };
  const catalog = loadCatalog(options.checks, { inventory: loaded.inventory });
  if (catalog.catalog === undefined) return { written: false, findings: catalog.findings };
  const { targets } = buildTargets(loaded.inventory, catalog.catalog);
  // The rehearsal's at this inventory's pace, as its monitors run (ADR 0013).
  const timing = alertTimingOf(loaded.inventory, options.timing === "rehearsal" ? "rehearsal" : "production");
  const monitoring = renderMonitoring(loaded.inventory, catalog.catalog.checks, targets, {
    tls,
    ...(options.stack === undefined ? {} : { stack: options.stack }),
    ...(options.blackbox === undefined ? {} : { blackbox: options.blackbox }),
    interval: `${timing.scrapeInterval}s`,
    evaluationInterval: `${timing.evaluationInterval}s`,
    ruleFiles: ["rules.yml"],
    alertmanagers: [options.alertmanager ?? "127.0.0.1:9093"],
    ...(options.checkins === true ? { checkinGateways: checkinGateways(loaded.inventory) } : {}),
  });
  const files = new Map(monitoring.files);
  files.set("rules.yml", renderAlertRules(loaded.inventory, timing));
  files.set("alertmanager.yml", renderAlertmanager(loaded.inventory, timing, receivers));
  const rendered: MonitoringFiles = { ...monitoring, files };
  const paths: string[] = [];
  for (const [path, text] of rendered.files) {
    await writeFileAtomic(join(options.out, path), text);
    paths.push(join(options.out, path));
  }
  const stale = (await readdir(join(options.out, "targets"))).filter((f) => f.endsWith(".json") && !rendered.files.has(`targets/${f}`));
  for (const f of stale) await rm(join(options.out, "targets", f), { force: true });
  return { written: true, paths, ...rendered };
}
