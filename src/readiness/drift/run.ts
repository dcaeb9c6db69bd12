import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { ProbeError } from "../../lib/errors.ts";
import {
  type DeviceKeys,
  type Finding,
  hasErrors,
  loadInventory,
  readDeviceKeys,
  readPins,
  type ServerPin,
  serverReach,
  type StackSettingsFile,
  todayIn,
} from "../../model/index.ts";
import { alertmanagerUrl, type ProvisionedState, renderServer, type RoleRender, type ServerTarget } from "../../model/render/index.ts";
import { parseAllow } from "../../probe/allow.ts";
import { collectAllFacts, type FactsServer } from "../../probe/facts.ts";
import { newestResults, statePaths } from "../../lib/state.ts";
import { openStackSettings, probeSettingsOf } from "../../probe/stackconfig.ts";
import { startSpawner } from "../../probe/spawner.ts";
import { inNetns } from "../../toolchain/netns.ts";
import { type Evidence, readEvidence } from "../evidence.ts";
import { type UnfitWords, whyUnfit } from "../fitness.ts";
import { History } from "../history.ts";
import { computeDrift } from "./compare.ts";
import { factsExpectation } from "./declared.ts";
import { writeLatestDrift } from "./latest.ts";
import type { DriftChanges, DriftReport } from "./types.ts";

/**
 * The run: everything around computeDrift (reads, SSH, history, the latest
 * file). Not pure.
 */

export interface DriftRunOptions {
  readonly stack: string;
  /** Where the stack settings live (default `stacks`): `amadegi:probe` (allow, netns, pins) and `amadegi:ssh`. */
  readonly stacksDir?: string;
  /** The stack's settings, read once by the caller (default: read here from stacksDir). */
  readonly settings?: StackSettingsFile;
  readonly environment: ServerTarget["environment"];
  readonly inventory: string;
  /** The stack's provisioned state: its outputs, or a file (the caller knows which; `from` names it). */
  readonly provisioned: () => Promise<{ readonly state: ProvisionedState | undefined; readonly from: string }>;
  /** A results file; default: the newest `<stack>-*.jsonl` in resultsDir. */
  readonly results?: string;
  /** Default: the state directory's `results/`. */
  readonly resultsDir?: string;
  /** The key to log in with; default: the pins overlay's control key, else `amadegi:ssh.identityFile`. */
  readonly identityFile?: string;
  /** Where the latest report of each stack is written (absent: not written). */
  readonly driftDir?: string;
  /** The history database (absent: not recorded, no changes shown). */
  readonly history?: string;
  readonly now?: Date;
  /** Per server (default 20 s). */
  readonly timeoutMs?: number;
  readonly concurrency?: number;
  /** argv prefix for ssh (default ["ssh"]). */
  readonly ssh?: readonly string[];
}

export type DriftOutcome =
  { readonly ran: false; readonly findings: readonly Finding[] } | { readonly ran: true; readonly report: DriftReport; readonly file?: string };

/** How drift says a campaign cannot tell what was observed: clauses after "results FILE cannot say what was observed: ". */
const DRIFT_WORDS: UnfitWords = {
  noHeader: () => "it has no campaign header",
  noEnd: () => "it has no end record (the campaign was interrupted)",
  invalid: (footer) => `campaign ${footer.id} is marked invalid`,
  damaged: (_file, lines) => `${lines.length} damaged line${lines.length === 1 ? "" : "s"}`,
};

/** The latest campaign of the stack, if it is fit to say what was observed; else why not. */
async function campaignEvidence(o: DriftRunOptions): Promise<{ evidence?: Evidence; problem?: string }> {
  const dir = o.resultsDir ?? statePaths().results;
  const file = o.results ?? (await newestResults(dir, o.stack));
  if (file === undefined) return { problem: `no results of stack ${o.stack} in ${dir}: run \`amadegi check --stack ${o.stack}\`, or pass --results FILE` };
  const ev = await readEvidence(file);
  const problems = whyUnfit(ev, DRIFT_WORDS, { name: o.stack, other: (stack) => `it is a campaign of stack ${stack}` });
  if (problems.length > 0) return { problem: `results ${file} cannot say what was observed: ${problems.join("; ")}` };
  return { evidence: ev };
}

export async function runDrift(o: DriftRunOptions): Promise<DriftOutcome> {
  const now = o.now ?? new Date();
  const stacksDir = o.stacksDir ?? "stacks";
  const read = o.settings ?? openStackSettings(o.stack, stacksDir);
  const settings = probeSettingsOf(read);
  if (settings.probe === undefined) return { ran: false, findings: settings.findings };
  const probe = settings.probe;
  // The namespace guard (the CLI re-runs itself inside it first): never SSH to a stack's addresses from elsewhere.
  if (probe.netns !== undefined && !inNetns(probe.netns)) {
    throw new ProbeError(
      `stack ${o.stack} is reached from network namespace ${probe.netns} (${settings.file} amadegi:probe.netns), ` +
        `and this process is not inside it; nothing was sent`,
      { hint: `run \`amadegi drift --stack ${o.stack}\` (it re-runs itself inside ${probe.netns})` },
    );
  }
  const allow = parseAllow(probe.allow, `${settings.file} amadegi:probe.allow`);
  // The broker starts ssh for the facts, and is started here while this process
  // is small. A spawn of this process's own, once the national inventory and its
  // render are loaded (1.2 GB resident), forks all of it: 12 ms each against 2 ms
  // before the load, and 312 of them, one at a time on this thread (spawner.ts).
  const spawner = await startSpawner();
  try {
    const clock = phases();
    const loaded = await loadInventory(o.inventory);
    if (loaded.inventory === undefined || hasErrors(loaded.findings))
      return { ran: false, findings: loaded.findings.filter((f) => f.severity === "error" && f.waived === undefined) };
    const inv = loaded.inventory;

    let pins: ReadonlyMap<string, ServerPin> | undefined;
    let controlKey: string | undefined;
    if (probe.pins !== undefined) {
      const file = probe.pins;
      if (!existsSync(file))
        throw new ProbeError(`the pins overlay ${file} (${settings.file} amadegi:probe.pins) does not exist`, {
          file,
          hint: "run `amadegi rehearsal up` first (it writes the overlay)",
        });
      const read = readPins(file, inv.servers, { stack: o.stack });
      if (read.pins === undefined) return { ran: false, findings: read.findings };
      pins = read.pins;
      controlKey = read.controlKey;
    }
    // The file's findings about amadegi:ssh stop drift as they did when it read that key alone.
    const sshFindings = read.findings.filter((f) => f.severity === "error" && f.item === "amadegi:ssh");
    if (sshFindings.length > 0) return { ran: false, findings: sshFindings };
    const identityFile = o.identityFile ?? controlKey ?? read.settings?.["amadegi:ssh"]?.identityFile;

    // The rehearsal's devices have keys of their own: the declared links.json names those (as `up` rendered it).
    let deviceKeys: DeviceKeys | undefined;
    const keysFile = read.settings?.["amadegi:devices"]?.keys;
    if (keysFile !== undefined) {
      const keys = readDeviceKeys(keysFile, inv.stations);
      if (keys.keys === undefined) return { ran: false, findings: keys.findings };
      deviceKeys = keys.keys;
    }
    const inventoryMs = clock();
    const declared = new Map<string, RoleRender[]>();
    for (const s of inv.servers) {
      const target = { root: pins?.get(s.id)?.root ?? "", environment: o.environment, address: s.address, ...(deviceKeys === undefined ? {} : { deviceKeys }) };
      declared.set(s.id, renderServer(inv, s.id, target));
    }
    const renderMs = clock();
    const provisioned = await o.provisioned();
    const outputsMs = clock();
    const requests = inv.servers.map((s) => {
      const way = serverReach(s, pins?.get(s.id));
      const server: FactsServer = { id: s.id, address: way.address, port: way.port, user: way.user, hostKey: way.hostKey, root: way.root };
      const expected = factsExpectation(declared.get(s.id), provisioned.state?.servers[s.id]);
      // A monitor: the waivers' silences its Alertmanager holds, read back beside its files.
      return { server, expected: s.roles.includes("monitor") ? { ...expected, silences: { url: alertmanagerUrl(s.address) } } : expected };
    });
    const facts = await collectAllFacts(requests, {
      allow,
      ...(identityFile === undefined ? {} : { identityFile }),
      ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }),
      ...(o.concurrency === undefined ? {} : { concurrency: o.concurrency }),
      ...(o.ssh === undefined ? {} : { ssh: o.ssh }),
      spawner,
    });
    const factsMs = clock();
    const { evidence, problem } = await campaignEvidence(o);
    const evidenceMs = clock();
    const at = now.toISOString();
    let report = computeDrift({
      id: `drift-${o.stack}-${at.replace(/[:.]/g, "-")}-${randomBytes(3).toString("hex")}`,
      stack: o.stack,
      at,
      date: todayIn(inv.election.timeZone, now),
      inventory: inv,
      inventoryDir: o.inventory,
      declared,
      provisioned: provisioned.state,
      provisionedFrom: provisioned.from,
      facts,
      ...(evidence === undefined ? {} : { evidence }),
      ...(problem === undefined ? {} : { evidenceProblem: problem }),
    });
    report = { ...report, timings: { inventoryMs, renderMs, outputsMs, factsMs, evidenceMs, compareMs: clock() } };
    if (o.history !== undefined) report = { ...report, changes: recordDrift(o.history, report) };
    const file = o.driftDir === undefined ? undefined : await writeLatestDrift(o.driftDir, report);
    return { ran: true, report, ...(file === undefined ? {} : { file }) };
  } finally {
    await spawner.close();
  }
}

/** A stopwatch: each call returns the ms since the previous one (or since it was made). */
function phases(): () => number {
  let last = performance.now();
  return () => {
    const now = performance.now();
    const ms = Math.round(now - last);
    last = now;
    return ms;
  };
}

function recordDrift(path: string, report: DriftReport): DriftChanges {
  const history = new History(path);
  try {
    const waived = Object.values(report.waived).reduce((a, n) => a + n, 0);
    history.recordDrift(
      { id: report.id, stack: report.stack, at: report.at, verdict: report.verdict, checked: report.checked, counts: report.counts, waived },
      report.items.map((i) => ({ key: i.key, kind: i.kind, object: i.object, owner: i.owner, ...(i.waivedBy === undefined ? {} : { waivedBy: i.waivedBy }) })),
    );
    const c = history.driftChangesSince(report.id);
    return { ...(c.previous === undefined ? {} : { previous: c.previous }), appeared: c.appeared.map((i) => i.key), resolved: c.resolved.map((i) => i.key) };
  } finally {
    history.close();
  }
}
