import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { ProbeError } from "../lib/errors.ts";
import { statePaths } from "../lib/state.ts";
import { type Finding, hasErrors, loadInventory, type PinOverlay, readPins } from "../model/index.ts";
import { assertAllowed, parseAllow } from "./allow.ts";
import { type CampaignReport, type ProbeSet, runCampaign } from "./campaign/index.ts";
import { loadCatalog } from "./catalog/load.ts";
import { evalContext } from "./election.ts";
import { icmpProbe } from "./probes/icmp.ts";
import { createProbes } from "./probes/index.ts";
import type { IcmpOptions } from "./probes/options.ts";
import type { ProgressStream } from "./progress.ts";
import { directSpawner, startSpawner } from "./spawner.ts";
import { readStackSettings, type StackSettingsResult } from "./stackconfig.ts";
import { buildTargets, parseSelect, provincesOf } from "./targets.ts";
import { parseDuration } from "../lib/duration.ts";

/**
 * `amadegi check` without the command line: stack settings → inventory →
 * catalog → targets → the guard → probes → campaign. Anything that stops the
 * campaign from running is a ProbeError or a list of findings (exit 2); a
 * campaign that ran is a report (the CLI turns it into 0 or 1).
 */
export interface CheckOptions {
  readonly stack: string;
  readonly stacksDir?: string;
  /** The stack's settings, already read (the CLI reads them once); default: read from stacksDir. */
  readonly settings?: StackSettingsResult;
  readonly inventory: string;
  readonly checks: string;
  readonly select?: string;
  readonly deadlineMs: number;
  /**
   * When the deadline's clock started, in ms since the epoch (the CLI: the
   * command's start). What loading and target building took is then taken
   * from the campaign's budget. Absent: the campaign gets the whole deadline.
   */
  readonly startedAt?: number;
  readonly out?: string;
  /** Where results go when `out` is not given (default: the state directory's results/). */
  readonly resultsDir?: string;
  readonly progress?: ProgressStream;
  readonly signal?: AbortSignal;
  /** argv prefix for fping (e.g. inside a namespace); default ["fping"]. */
  readonly fping?: readonly string[];
  /** Replaces the real probes (tests of the wiring only). */
  readonly probes?: ProbeSet;
}

export type CheckOutcome =
  | { readonly ran: false; readonly findings: readonly Finding[] }
  | {
      readonly ran: true;
      readonly report: CampaignReport;
      readonly targets: number;
      readonly unaddressed: number;
      readonly inventoryFindings: readonly Finding[];
      /** Time from startedAt to the campaign's start (0 without startedAt). */
      readonly preparedMs: number;
    };

/** The least a campaign is started with (the shortest --deadline). */
const MIN_BUDGET_MS = 100;

export async function check(options: CheckOptions): Promise<CheckOutcome> {
  const stack = options.settings ?? readStackSettings(options.stack, options.stacksDir);
  if (stack.probe === undefined) return { ran: false, findings: stack.findings };
  const loaded = await loadInventory(options.inventory);
  if (loaded.inventory === undefined) return { ran: false, findings: loaded.findings };
  const inventory = loaded.inventory;
  const catalog = loadCatalog(options.checks, { inventory });
  if (catalog.catalog === undefined) return { ran: false, findings: catalog.findings };
  let pins: PinOverlay | undefined;
  /** The key the overlay's servers accept (the rehearsal's control key): check-in reads log in with it. */
  let identityFile: string | undefined;
  if (stack.probe.pins !== undefined) {
    // The stack's servers are not the inventory's pins (the rehearsal's sshd have keys of their own):
    // without the overlay every ssh result would be a false `down`, so its absence stops the campaign.
    const file = stack.probe.pins;
    if (!existsSync(file)) {
      throw new ProbeError(`the pins overlay ${file} (${stack.file} amadegi:probe.pins) does not exist`, {
        file,
        hint:
          "run `amadegi rehearsal up` first (it writes the overlay); a rehearsal kept elsewhere (`rehearsal up --state DIR`): " +
          "point amadegi:probe.pins at DIR/pins.yaml (a relative path is read from the state directory, $AMADEGI_STATE_DIR)",
      });
    }
    const read = readPins(file, inventory.servers, { stack: options.stack });
    if (read.pins === undefined) return { ran: false, findings: read.findings };
    pins = read.pins;
    identityFile = read.controlKey;
  }
  const filter = options.select === undefined ? undefined : parseSelect(options.select, provincesOf(inventory));
  const { targets, unaddressed } = buildTargets(inventory, catalog.catalog, filter, pins === undefined ? {} : { pins });
  if (targets.length === 0) {
    throw new ProbeError(options.select === undefined ? "the catalog selects no target in this inventory" : `--select ${options.select} leaves no target`, {
      hint: "check the catalog's select fields and --select",
    });
  }
  const allow = parseAllow(stack.probe.allow, `${stack.file} amadegi:probe.allow`);
  const icmp: IcmpOptions = { command: options.fping ?? ["fping"] };
  const p = stack.probe;
  const tls = {
    ...(p.ca === undefined ? {} : { caFile: p.ca }),
    ...(p.clientCert === undefined ? {} : { certFile: p.clientCert }),
    ...(p.clientKey === undefined ? {} : { keyFile: p.clientKey }),
  };
  // Every tool the probes run is started by the broker, started here before the
  // campaign watches its event loop (spawner.ts: spawn blocks the caller).
  const spawner = options.probes === undefined ? await startSpawner() : directSpawner;
  try {
    const real =
      options.probes === undefined ? createProbes({ allow, icmp, tls, spawner, ...(identityFile === undefined ? {} : { ssh: { identityFile } }) }) : undefined;
    const probes: ProbeSet = options.probes ?? {
      ...real,
      icmp: (tuning) => icmpProbe({ allow, spawner, icmp: { ...icmp, count: tuning.count, intervalMs: tuning.intervalMs } }),
    };
    const started = new Date();
    const preparedMs = options.startedAt === undefined ? 0 : Math.max(0, started.getTime() - options.startedAt);
    const budgetMs = options.deadlineMs - preparedMs;
    if (budgetMs < MIN_BUDGET_MS) {
      throw new ProbeError(
        `the deadline (${options.deadlineMs / 1000} s) was spent before the campaign began: starting, loading the inventory and building ` +
          `${targets.length} targets took ${(preparedMs / 1000).toFixed(1)} s; nothing was sent`,
        { hint: "give a longer --deadline, or probe fewer targets (--select)" },
      );
    }
    const out = options.out ?? join(options.resultsDir ?? statePaths().results, `${options.stack}-${started.toISOString().replace(/[:.]/g, "-")}.jsonl`);
    const report = await runCampaign({
      stack: options.stack,
      from: stack.probe.from ?? hostname(),
      targets,
      checks: catalog.catalog.byId,
      probes,
      guard: (t) => assertAllowed(t.key, t.address, allow),
      deadlineMs: budgetMs,
      maxRate: stack.probe.maxRate,
      concurrency: stack.probe.concurrency,
      operatorRates: catalog.catalog.operatorRates,
      evalContext: evalContext(inventory, started.getTime()),
      out,
      ...(options.select === undefined ? {} : { select: options.select }),
      ...(options.progress === undefined ? {} : { progress: options.progress }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return {
      ran: true,
      report,
      targets: targets.length,
      unaddressed,
      preparedMs,
      inventoryFindings: hasErrors(loaded.findings) ? loaded.findings.filter((f) => f.severity === "error") : [],
    };
  } finally {
    await spawner.close();
  }
}

/** `60s`, `2m`, `2h`, `1500ms` → milliseconds, from 100 ms to 24 h (lib/duration.ts reads it). */
export function parseDeadline(text: string): number | undefined {
  const value = parseDuration(text);
  return value !== undefined && value >= 100 && value <= 24 * 3_600_000 ? value : undefined;
}
