import type { Condition } from "../catalog/condition.ts";
import type { EvalContext } from "../catalog/evaluate.ts";
import type { LoopDelay } from "../selfwatch.ts";
import type { ProgressStream } from "../progress.ts";
import type { CheckSpan, Summary } from "../summary.ts";
import type { BatchProbe, Observation, Probe, ProbeKind, ProbeResult, Target } from "../types.ts";

// What a campaign is given and what it reports (src/probe/campaign/index.ts runs it).

/** What the campaign needs of a catalog check (a catalog `Check` fits). */
export interface CheckPlan {
  readonly conditions: readonly Condition[];
  readonly timeoutMs: number;
  readonly retries: number;
}

export interface IcmpTuning {
  /** Echo requests per host. */
  readonly count: number;
  /** Milliseconds between any two requests of the batch (fping -i): the send rate. */
  readonly intervalMs: number;
}

/** ICMP comes as a batch probe, or as a factory tuned per batch (count, send rate). */
export type IcmpSource = BatchProbe | ((tuning: IcmpTuning) => BatchProbe);

/** Reads a gateway's check-in table (see probes/checkin.ts): one read serves every device on it. */
export interface CheckinSource {
  read(
    gateway: Target,
    context: { signal: AbortSignal; timeoutMs: number },
  ): Promise<{
    readonly observation: Observation;
    readonly observations: ReadonlyMap<string, Observation>;
    /** Rejected attempts (security events) per `<station>/<link>` of their source. */
    readonly attempts?: ReadonlyMap<string, { readonly count: number; readonly latest: { readonly time: string; readonly detail: string } }>;
  }>;
}

export type ProbeSet = { readonly icmp?: IcmpSource; readonly checkin?: CheckinSource } & { readonly [K in Exclude<ProbeKind, "icmp" | "checkin">]?: Probe };

export interface CampaignOptions {
  readonly id?: string;
  readonly stack: string;
  /** Where the campaign observes from (host, namespace, shard). */
  readonly from: string;
  readonly targets: readonly Target[];
  readonly checks: ReadonlyMap<string, CheckPlan>;
  readonly probes: ProbeSet;
  /** The network-safety guard: throws (ProbeError) for a target outside probe.allow. */
  readonly guard: (target: Target) => void;
  readonly deadlineMs: number;
  readonly maxRate: number;
  readonly concurrency: number;
  readonly operatorRates?: ReadonlyMap<string, number>;
  readonly evalContext: EvalContext;
  /** The results file (JSON lines). */
  readonly out: string;
  /** The `--select` expression the targets were chosen by: the header records it, so a shard declares what it covers (`amadegi merge`). */
  readonly select?: string;
  readonly progress?: ProgressStream;
  /** Aborting it interrupts the campaign (SIGINT): what was measured is kept. */
  readonly signal?: AbortSignal;
  /** Event-loop lag that invalidates the run (default: half the shortest timeout, 100–1000 ms). */
  readonly lagLimitMs?: number;
  /** First retry backoff; doubles per retry (default 200 ms). */
  readonly retryBaseMs?: number;
  /** Hosts per fping process (default: a quarter of the sweep, at least 1,000, at most 60,000 / count). */
  readonly icmpBatch?: number;
  /** fping processes at once (default 2). */
  readonly icmpParallel?: number;
  /** Sees every result as it is written (tests, live consumers); the campaign keeps none. */
  readonly onResult?: (result: ProbeResult) => void;
}

export interface CampaignReport {
  readonly id: string;
  readonly file: string;
  readonly valid: boolean;
  readonly invalid: readonly string[];
  readonly interrupted: boolean;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly elapsedMs: number;
  /** Probe attempts made (retries included). */
  readonly attempts: number;
  readonly maxLagMs: number;
  /** The event loop's delay over the campaign (perf_hooks.monitorEventLoopDelay). */
  readonly loopDelay: LoopDelay;
  /** Attempts not judged because the prober stalled during them. */
  readonly starvedAttempts: number;
  /** The lowest limit on probes in flight the governor fell to while the loop was slow (the stack's concurrency when it never did). */
  readonly lowestConcurrency: number;
  /** The machine's CPU pressure during the campaign: share of the time a runnable task waited (/proc/pressure/cpu "some"); absent without PSI. */
  readonly cpuPressure?: number;
  readonly summary: Summary;
  /** When each check's results came (s after the campaign's start), the last to end first: which check held the campaign's end. */
  readonly spans: readonly CheckSpan[];
}
