// One cause, one notification — with the real parts, on loopback: blackbox_exporter
// probes an HTTP listener per link of the sample's first stations, Prometheus
// evaluates the rules src/model/alerting.ts renders (the rehearsal's timing),
// Alertmanager routes and inhibits with the configuration it renders, and the
// rehearsal's receiver records what reaches each receiver. A fault has the
// listeners of some links answer 503 (they keep their ports: one given back could be
// taken meanwhile); the notifications are compared with the rules'
// oracle (`expectedLinkAlerts`): each expected alert told at its receiver, none
// other, then resolved after the listeners answer 200 again.
//
// Every listener, probe and post stays on 127.0.0.1.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type Server, type Server as HttpServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AlertTiming,
  expectedLinkAlerts,
  type Inventory,
  notificationBound,
  REHEARSAL_TIMING,
  renderAlertmanager,
  renderAlertRules,
  renderMonitoring,
} from "../../../src/model/index.ts";
import type { MonitorCheck } from "../../../src/model/monitoring.ts";
import { linkTargets } from "../../../src/model/render/index.ts";
import { compareNotifications, type NotificationOutcome, readNotifications } from "../../../src/rehearsal/drill/notifications.ts";
import { startReceiver } from "../../../src/rehearsal/receiver.ts";
import { stopChild } from "../../helpers/children.ts";
import { freePort } from "../../helpers/listeners.ts";
import { sampleInventory } from "../../model/render/helpers.ts";

const HOST = "127.0.0.1";
const STATIONS = 40;
const STACK = "live";
const timing: AlertTiming = REHEARSAL_TIMING;

let inventory: Inventory;
let dir = "";
const children: ChildProcess[] = [];
let receiver: Server | undefined;
/** Each link's listener: bound once for the whole file (a port given back could be taken meanwhile), answering 200 while up. */
const listeners = new Map<string, { port: number; server: HttpServer; up: boolean }>();
let notifications = "";

/** A listener on a port the kernel picks, answering 200 while its link is up and 503 while it is cut. */
async function listen(id: string): Promise<void> {
  const server = createHttpServer((_req, res) => {
    res.writeHead(listeners.get(id)?.up === true ? 200 : 503, { connection: "close" }).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, () => resolve());
  });
  const bound = server.address();
  if (bound === null || typeof bound === "string") throw new Error("listener has no port");
  listeners.set(id, { port: bound.port, server, up: true });
}

function up(links: Iterable<string>): void {
  for (const id of links) {
    const l = listeners.get(id);
    if (l !== undefined) l.up = true;
  }
}

function down(links: Iterable<string>): void {
  for (const id of links) {
    const l = listeners.get(id);
    if (l !== undefined) l.up = false;
  }
}

function start(argv: string[], log: string): void {
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
  });
  child.on("exit", (code) => {
    if (code !== null && code !== 0) void writeFile(log, err);
  });
  children.push(child);
}

async function ready(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} never answered`);
}

/** Waits until every expected alert is notified (or resolved, after `restoreAt`), or the deadline. */
async function until(
  expected: ReturnType<typeof expectedLinkAlerts>,
  times: { faultAt: number; restoreAt?: number },
  deadlineMs: number,
): Promise<NotificationOutcome> {
  for (;;) {
    const outcome = compareNotifications(expected, [], readNotifications(notifications), times);
    const done = times.restoreAt === undefined ? outcome.timeToNotificationMs !== undefined : outcome.timeToResolutionMs !== undefined;
    if (done || Date.now() > deadlineMs) return outcome;
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  inventory = await sampleInventory();
  dir = await mkdtemp(join(tmpdir(), "amadegi-t-notify-"));
  const stations = new Set(inventory.stations.slice(0, STATIONS).map((s) => s.id));
  const links = linkTargets(inventory).filter((t) => stations.has(t.station ?? ""));
  for (const t of links) await listen(t.link ?? "");
  // The link targets as the monitor renders them, each at its listener: an HTTP probe instead of ping (loopback answers
  // any ping), its status the link's state, so no port is ever given back during the test.
  const check = {
    id: "link-path",
    kind: "http",
    timeoutMs: 1000,
    params: { scheme: "http", path: "/" },
    conditions: [{ placeholder: "STATUS", op: "==", value: { kind: "number", value: 200 } }],
  } satisfies MonitorCheck;
  const targets = links.map((t) => ({ ...t, check: check.id, kind: "http", address: HOST, port: listeners.get(t.link ?? "")?.port ?? 0 }));
  const [blackbox, prometheus, alertmanager, hook] = [await freePort(HOST), await freePort(HOST), await freePort(HOST), await freePort(HOST)];
  const rendered = renderMonitoring(inventory, [check], targets, {
    blackbox: `${HOST}:${blackbox}`,
    stack: STACK,
    interval: `${timing.scrapeInterval}s`,
    evaluationInterval: `${timing.evaluationInterval}s`,
    ruleFiles: ["rules.yml"],
    alertmanagers: [`${HOST}:${alertmanager}`],
  });
  await mkdir(join(dir, "targets"));
  for (const [path, text] of rendered.files) await writeFile(join(dir, path), text);
  await writeFile(join(dir, "rules.yml"), renderAlertRules(inventory, timing));
  await writeFile(join(dir, "alertmanager.yml"), renderAlertmanager(inventory, timing, { webhook: `http://${HOST}:${hook}/notify` }));
  notifications = join(dir, "notifications.jsonl");
  receiver = await startReceiver(HOST, hook, notifications);
  start(["prometheus-blackbox-exporter", `--config.file=${join(dir, "blackbox.yml")}`, `--web.listen-address=${HOST}:${blackbox}`], join(dir, "bb.err"));
  start(
    [
      "prometheus-alertmanager",
      `--config.file=${join(dir, "alertmanager.yml")}`,
      `--storage.path=${join(dir, "am")}`,
      `--web.listen-address=${HOST}:${alertmanager}`,
      "--cluster.listen-address=",
    ],
    join(dir, "am.err"),
  );
  start(
    ["prometheus", `--config.file=${join(dir, "prometheus.yml")}`, `--web.listen-address=${HOST}:${prometheus}`, `--storage.tsdb.path=${join(dir, "tsdb")}`],
    join(dir, "prom.err"),
  );
  await ready(`http://${HOST}:${blackbox}/-/healthy`);
  await ready(`http://${HOST}:${alertmanager}/-/ready`);
  await ready(`http://${HOST}:${prometheus}/-/ready`);
  // Every link answered a few scrapes before any fault.
  await new Promise((r) => setTimeout(r, 3 * timing.scrapeInterval * 1000));
}, 180_000);

afterAll(async () => {
  await Promise.all(children.map((c) => stopChild(c)));
  await new Promise((r) => receiver?.close(r));
  for (const l of listeners.values()) await new Promise((r) => l.server.close(r));
  if (dir !== "") await rm(dir, { recursive: true, force: true });
});

/** A fault on `links`: the expected alerts notified, nothing else; restored: resolved. */
async function drill(
  links: readonly string[],
): Promise<{ expected: ReturnType<typeof expectedLinkAlerts>; during: NotificationOutcome; after: NotificationOutcome }> {
  const expected = expectedLinkAlerts(inventory, STACK, new Set(links), { probed: new Set(listeners.keys()) });
  const faultAt = Date.now();
  down(links);
  const slowest = Math.max(...Object.values(timing.linkFor), timing.causeFor, timing.stationFor);
  const bound = notificationBound(timing, slowest, 1);
  const during = await until(expected, { faultAt }, faultAt + (bound + 20) * 1000);
  // A little longer: nothing else may arrive after the last expected one.
  await new Promise((r) => setTimeout(r, timing.groupInterval * 1000));
  const settled = compareNotifications(expected, [], readNotifications(notifications), { faultAt });
  const restoreAt = Date.now();
  up(links);
  const after = await until(
    expected,
    { faultAt, restoreAt },
    restoreAt + (timing.keepFiringFor + timing.groupInterval + 3 * timing.scrapeInterval + 20) * 1000,
  );
  return {
    expected,
    during: { ...settled, ...(during.timeToNotificationMs === undefined ? {} : { timeToNotificationMs: during.timeToNotificationMs }) },
    after,
  };
}

describe("notifications with real Prometheus, blackbox_exporter and Alertmanager (rehearsal timing)", () => {
  it("an operator's outage is told once, at escalation; none of its links is told; then resolved", async () => {
    const tci = [...listeners.keys()].filter((id) => inventory.linksById.get(id)?.link.operator === "tci");
    expect(tci.length).toBeGreaterThanOrEqual(10);
    const { expected, during, after } = await drill(tci);
    expect(expected.map((a) => `${a.alertname} ${a.id} → ${a.receiver}`)).toEqual(["AmadegiOperatorOutage tci → escalation"]);
    expect(during.unexpected, JSON.stringify(during.unexpected.slice(0, 5))).toEqual([]);
    expect(during.misrouted).toEqual([]);
    expect(during.expected[0]?.notifiedMs).toBeDefined();
    expect(during.distinct).toBe(1);
    expect(after.expected[0]?.resolvedMs, "the outage's resolution was told").toBeDefined();
    const bound = notificationBound(timing, timing.causeFor, 1) * 1000;
    console.log(
      `operator outage (${tci.length} links): told after ${((during.timeToNotificationMs ?? 0) / 1000).toFixed(1)} s ` +
        `(bound ${bound / 1000} s), ${during.posts} post(s), ${during.distinct} distinct; ` +
        `resolved after ${((after.timeToResolutionMs ?? 0) / 1000).toFixed(1)} s`,
    );
  }, 240_000);

  it("a cut of a few fiber links is told to their district's on-call, link by link, and no cause is; then resolved", async () => {
    // Fiber links at distinct points of presence: no PoP is lost, the operator keeps most of its links.
    const seen = new Set<string>();
    const cut: string[] = [];
    for (const id of listeners.keys()) {
      const link = inventory.linksById.get(id)?.link;
      if (link?.medium !== "fiber" || seen.has(link.pop)) continue;
      seen.add(link.pop);
      cut.push(id);
      if (cut.length === 3) break;
    }
    // Wait out the outage's keep_firing_for and re-posts before this fault.
    await new Promise((r) => setTimeout(r, (timing.keepFiringFor + timing.groupInterval) * 1000));
    const { expected, during, after } = await drill(cut);
    expect(expected.map((a) => `${a.alertname} → ${a.receiver}`)).toEqual(cut.map(() => "AmadegiLinkDown → oncall-pakdasht"));
    expect(during.unexpected, JSON.stringify(during.unexpected.slice(0, 5))).toEqual([]);
    expect(during.misrouted).toEqual([]);
    expect(during.expected.every((e) => e.notifiedMs !== undefined)).toBe(true);
    expect(after.expected.every((e) => e.resolvedMs !== undefined)).toBe(true);
    console.log(
      `fiber cut (${cut.length} links): told after ${((during.timeToNotificationMs ?? 0) / 1000).toFixed(1)} s ` +
        `(bound ${notificationBound(timing, timing.linkFor.fiber, 1)} s), ${during.posts} post(s), ${during.distinct} distinct`,
    );
  }, 240_000);
});
