import { constants } from "node:fs";
import { open, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { ExitCode } from "../lib/exit.ts";
import { UsageError } from "../lib/errors.ts";
import { addDays, type CriterionId, type Inventory, type IsoDate, midnightIn, type Milestone, parseInstant, todayIn } from "../model/index.ts";
import { CRITERIA_REGISTRY } from "./criteria.ts";
import type { Measure } from "./criterion.ts";
import { type LatestDrift, readLatestDrift } from "./drift/index.ts";
import { campaignOf, type Evidence, type EvidenceHead, hashResults, readEvidence, readRows } from "./evidence.ts";
import { type UnfitWords, whyUnfit } from "./fitness.ts";
import { type ExpiredWaiver, judge, type Judged } from "./judge.ts";
import { type CriterionTrend, History, type VerdictPoint } from "./history.ts";
import { blobAt, type Committed, committedState, isAncestor, mainBranch } from "./committed.ts";
import { type Approval, type ApprovalCheck, checkApprovals, quorum } from "./signoff.ts";
import { loadMeasures, measuresKept, saveMeasures } from "./measures.ts";
import { type GateInventory, inventoryKey, type InventoryHead, loadForGate } from "./snapshot.ts";

/**
 * The readiness gate: which milestone is in force, whether the evidence is
 * fit to judge it, each criterion against its threshold with waivers applied,
 * the committee's sign-off, and one verdict — ready (0), not ready (1) or
 * could not judge (2), never a pass on missing, stale, invalid or mostly
 * unknown evidence. Library code: returns the verdict, the CLI prints it.
 */

export type Verdict = "ready" | "not-ready" | "cannot-judge";

export interface GateOptions {
  readonly inventory: string;
  readonly milestone?: string;
  /** The day judged (ISO); default: today in the election's time zone. */
  readonly date?: IsoDate;
  /** A results file (JSON lines); absent: criteria that need results cannot judge. */
  readonly results?: string;
  /** A directory of approvals: `<name>` (the manifest) and `<name>.sig` (its signature). */
  readonly approvals?: string;
  readonly committeeFile?: string;
  /** The commit judged (a sign-off's, as its approvals name it); default HEAD. The deciding files must equal it. */
  readonly commit?: string;
  /** The branch a sign-off's commit must be on; default origin/main, else main. */
  readonly main?: string;
  /** The history database; absent: nothing is recorded. */
  readonly history?: string;
  /** Where to keep the validated inventory's snapshot (snapshot.ts); absent: validate every time. */
  readonly cacheDir?: string;
  /** Where `amadegi drift` leaves each stack's latest report (the state directory's `drift/`); absent: no-unwaived-drift cannot judge. */
  readonly driftDir?: string;
  /** Injected clock (tests). */
  readonly now?: Date;
}

export interface SignoffOutcome {
  readonly required: number;
  readonly of: number;
  readonly met: boolean;
  readonly members: readonly string[];
  readonly checks: readonly ApprovalCheck[];
  /** Why no approval could count (no commit, dirty inventory). */
  readonly reason?: string;
}

export interface ResultsInfo {
  readonly file: string;
  readonly sha256: string;
  readonly campaign?: string;
  readonly stack?: string;
  readonly finishedAt?: string;
  readonly valid?: boolean;
  readonly ageHours?: number;
  readonly total: number;
  readonly counts: Evidence["counts"];
}

export interface GateResult {
  readonly election: { readonly id: string; readonly name: string; readonly day: IsoDate; readonly timeZone: string };
  readonly milestone: {
    readonly id: string;
    readonly name?: string;
    readonly due: IsoDate;
    readonly maxAgeHours: number;
    readonly maxUnknownPercent: number;
    readonly where: string;
  };
  readonly date: IsoDate;
  readonly judgedAt: string;
  readonly verdict: Verdict;
  readonly exitCode: ExitCode;
  /** Why the gate could not judge (empty unless verdict is cannot-judge). */
  readonly reasons: readonly string[];
  readonly inventory: {
    readonly dir: string;
    readonly commit?: string;
    readonly dirty: boolean;
    readonly errors: number;
    readonly stations: number;
    readonly links: number;
    readonly servers: number;
  };
  readonly results?: ResultsInfo;
  readonly criteria: readonly Judged[];
  /** The verdict of the criteria alone: what committee members approve. */
  readonly criteriaVerdict: Exclude<Verdict, "cannot-judge"> | "cannot-judge";
  readonly signoff?: SignoffOutcome;
  /** Every waiver in the inventory past its date (the ones that named an offender are in their criterion). */
  readonly expiredWaivers: readonly ExpiredWaiver[];
  readonly changes?: { readonly previous?: string; readonly newlyFailing: number; readonly recovered: number; readonly sample: readonly string[] };
  /** The milestone's verdicts from history, oldest first (recorded runs only). */
  readonly trend?: readonly VerdictPoint[];
  /** What each criterion judged here measured at each recorded run, in the order of `criteria`. */
  readonly criteriaTrend?: readonly CriterionTrend[];
}

/** What the gate read, for the report (which draws the evidence behind the verdict). */
export interface GateRun {
  readonly result: GateResult;
  readonly inventory: Inventory;
  readonly evidence?: Evidence;
  /** The results' stack's latest drift report, when one was looked for (the report's drift section). */
  readonly drift?: LatestDrift;
  /** The commit judged and what differs from it (a change freeze's sign-off checks it). */
  readonly committed: Committed;
}

/** The milestone in force on a day: the next one due (on or after it), else the last. */
export function milestoneInForce(milestones: readonly Milestone[], date: IsoDate): Milestone | undefined {
  const sorted = [...milestones].sort((a, b) => (a.due < b.due ? -1 : a.due > b.due ? 1 : 0));
  return sorted.find((m) => m.due >= date) ?? sorted.at(-1);
}

/**
 * A milestone keeps what earlier milestones achieved: its criteria are its own
 * and those of every milestone due before it; a threshold set by a later
 * milestone overrides an earlier one's.
 */
export function criteriaOf(milestones: readonly Milestone[], target: Milestone): { ids: CriterionId[]; thresholds: Map<CriterionId, number> } {
  const earlier = milestones.filter((m) => m.due < target.due || m === target).sort((a, b) => (a.due < b.due ? -1 : a.due > b.due ? 1 : 0));
  const ids: CriterionId[] = [];
  const thresholds = new Map<CriterionId, number>();
  for (const m of earlier) {
    for (const id of m.criteria) {
      // Sign-off is per milestone: an earlier milestone's approval does not carry over.
      if (id === "election-day-sign-off" && m !== target) continue;
      if (!ids.includes(id)) ids.push(id);
    }
    for (const t of m.thresholds) thresholds.set(t.criterion, t.min);
  }
  return { ids, thresholds };
}

/** The verdict with what it was judged on, for the report (which draws the inventory and the evidence): always measured. */
export async function gate(options: GateOptions): Promise<GateRun> {
  const run = await judgeRun(options, true);
  if (run.inventory === undefined) throw new Error("the gate measured nothing"); // a full run always measures
  return { ...run, inventory: run.inventory };
}

/**
 * The verdict alone (`amadegi gate`, `amadegi approve`): with a cache directory, the criteria's
 * measures may come from the measures cache (measures.ts, ADR 0016), so a gate judged again on the
 * same inventory and the same results reads neither the stations nor the results' observations.
 */
export async function gateVerdict(options: GateOptions): Promise<GateResult> {
  return (await judgeRun(options, false)).result;
}

async function judgeRun(options: GateOptions, full: boolean): Promise<Omit<GateRun, "inventory"> & { inventory?: Inventory }> {
  const now = options.now ?? new Date();
  const cacheDir = options.cacheDir;
  const load = {
    ...(options.date === undefined ? {} : { today: options.date }),
    ...(options.committeeFile === undefined ? {} : { committeeFile: options.committeeFile }),
  };
  // The pair the measures cache is keyed by: the inventory's snapshot key (a stat per file) and the results' sha256 (a read, no parse).
  const key = cacheDir === undefined ? undefined : await inventoryKey(options.inventory, load);
  const hashing = full || cacheDir === undefined || options.results === undefined ? undefined : hashResults(options.results);
  hashing?.catch(() => {}); // awaited below
  const keepRows = async () => options.history !== undefined && options.results !== undefined && !(await recorded(options.history, options.results));
  const startReading = async (sha256?: string) =>
    options.results === undefined
      ? undefined
      : readEvidence(options.results, {
          keepRows: await keepRows(),
          ...(cacheDir === undefined ? {} : { cacheDir }),
          ...(sha256 === undefined ? {} : { sha256 }),
        });
  // Parse the results (or take their digest) while the inventory loads: at national size each is about a second of CPU.
  // Their rows only for a campaign the history has not recorded yet (a digest keeps none). Not when measures of the pair are kept.
  const reading =
    hashing === undefined || cacheDir === undefined || key === undefined
      ? startReading()
      : hashing.then(async (sha256) => ((await measuresKept(cacheDir, key, sha256)) ? undefined : startReading(sha256)));
  reading.catch(() => {}); // awaited below; an inventory that fails first must not leave it unhandled
  // What was committed, first: a deciding file that differs from the commit stops the gate (exit 2).
  const git = await committedState({
    inventory: options.inventory,
    ...(options.committeeFile === undefined ? {} : { committeeFile: options.committeeFile }),
    ...(options.commit === undefined ? {} : { commit: options.commit }),
  });
  const loaded = await loadForGate(options.inventory, { ...load, ...(cacheDir === undefined ? {} : { cacheDir }), ...(key === undefined ? {} : { key }) });
  const inv = loaded.head;
  if (inv === undefined) {
    const first = loaded.errors[0];
    throw new UsageError(
      `the inventory in ${options.inventory} does not load (${loaded.errorCount} errors` +
        `${first === undefined ? "" : `, first: ${first.file}:${first.line}:${first.col} ${first.message}`})`,
      { hint: "run `amadegi validate` and fix the errors", file: options.inventory },
    );
  }
  const date = options.date ?? todayIn(inv.election.timeZone, now);
  const milestone = pickMilestone(inv, loaded, options.milestone, date);
  const reasons: string[] = [];

  // Errors a waiver cannot accept (schema, references, security) make every measure doubtful.
  const hard = loaded.hardErrors;
  if (loaded.hardErrorCount > 0)
    reasons.push(
      `the inventory has ${loaded.hardErrorCount} error${loaded.hardErrorCount === 1 ? "" : "s"} no waiver can accept ` +
        `(first: ${hard[0]?.file}:${hard[0]?.line} ${hard[0]?.message}); run \`amadegi validate\``,
    );

  const { ids, thresholds } = criteriaOf(inv.election.milestones, milestone);
  const criteria = ids.map((id) => {
    const c = CRITERIA_REGISTRY.get(id);
    if (c === undefined)
      throw new UsageError(
        `${loaded.locate(milestone.origin, "criteria")}: milestone ${milestone.id} names criterion "${id}", which amadegi does not implement`,
        { hint: "see docs/readiness.md for the criteria" },
      );
    return c;
  });
  const needsResults = criteria.some((c) => c.needsResults);
  const since = milestone.checkinsSince ?? addDays(milestone.due, -7);
  const measuredFor = { milestone: milestone.id, date, checkinsSince: new Date(midnightIn(since, inv.election.timeZone)).toISOString() };

  // The measures kept for this inventory, these results' bytes, this milestone and day (never for a criterion that reads the drift report).
  const sha256 = await hashing;
  const kept =
    sha256 === undefined || key === undefined || cacheDir === undefined || options.results === undefined || criteria.some((c) => c.readsDrift === true)
      ? undefined
      : await loadMeasures(cacheDir, key, { file: options.results, sha256 }, measuredFor);

  let evidence: Evidence | undefined;
  let head: EvidenceHead | undefined;
  let results: ResultsInfo | undefined;
  if (options.results !== undefined) {
    // Kept for another milestone or day only: read them now.
    if (kept === undefined) evidence = (await reading) ?? (await startReading(sha256));
    head = kept?.evidence ?? evidence;
    if (head === undefined) throw new Error("the results were neither read nor kept");
    results = describeResults(head, now);
    reasons.push(...fitness(head, results, milestone));
  } else if (needsResults) {
    reasons.push(
      `no results: milestone ${milestone.id} has criteria that need evidence (${criteria
        .filter((c) => c.needsResults)
        .map((c) => c.id)
        .join(", ")}); run \`amadegi check\` and pass --results FILE`,
    );
  }

  // The latest drift report of the stack the results are of (no-unwaived-drift, the report's drift section).
  const stack = head?.header?.stack;
  const drift = options.driftDir === undefined || stack === undefined ? undefined : await readLatestDrift(options.driftDir, stack, now);

  // Measured here unless kept: the whole inventory (from a snapshot, its body) only now.
  let measured = kept?.measures;
  const whole = kept === undefined ? await loaded.full() : undefined;
  if (whole !== undefined) {
    const taken = new Map<CriterionId, Measure>();
    const context = {
      inventory: whole,
      date,
      milestone,
      checkinsSince: measuredFor.checkinsSince,
      ...(evidence === undefined ? {} : { evidence }),
      ...(drift === undefined ? {} : { drift }),
    };
    for (const c of criteria) if (c.signoff !== true && !(c.needsResults && evidence === undefined)) taken.set(c.id, c.measure(context));
    measured = taken;
    if (cacheDir !== undefined && key !== undefined && evidence !== undefined) {
      const keep = new Map([...taken].filter(([id]) => CRITERIA_REGISTRY.get(id)?.readsDrift !== true));
      await saveMeasures(cacheDir, key, evidence, { ...measuredFor, measures: keep });
    }
  }
  const judged: Judged[] = [];
  for (const c of criteria) {
    if (c.signoff === true) continue;
    const measure = measured?.get(c.id);
    judged.push(judge(c, measure ?? { cannotJudge: "no results" }, thresholds.get(c.id) ?? 100, inv.waivers, date));
  }
  for (const j of judged) if (j.outcome === "cannot-judge" && j.reason !== "no results") reasons.push(`${j.id}: ${j.reason ?? "cannot judge"}`);

  const criteriaVerdict: GateResult["criteriaVerdict"] =
    reasons.length > 0 ? "cannot-judge" : judged.every((j) => j.outcome === "pass") ? "ready" : "not-ready";
  let signoff: SignoffOutcome | undefined;
  const required = milestone.signoff?.required ?? (milestone.criteria.includes("election-day-sign-off") ? Math.floor(inv.committee.length / 2) + 1 : undefined);
  if (required !== undefined) {
    signoff = await checkSignoff({
      inv,
      milestone,
      required,
      git,
      ...(options.main === undefined ? {} : { main: options.main }),
      evidence: head,
      verdict: criteriaVerdict,
      approvals: options.approvals,
      now,
    });
  }

  const verdict: Verdict =
    criteriaVerdict === "cannot-judge" ? "cannot-judge" : criteriaVerdict === "ready" && (signoff === undefined || signoff.met) ? "ready" : "not-ready";
  const expiredWaivers = inv.waivers.filter((w) => w.until < date).map((w) => ({ id: w.id, item: w.item, approvedBy: w.approvedBy, until: w.until }));

  let result: GateResult = {
    election: { id: inv.election.id, name: inv.election.name, day: inv.election.day, timeZone: inv.election.timeZone },
    milestone: {
      id: milestone.id,
      ...(milestone.name === undefined ? {} : { name: milestone.name }),
      due: milestone.due,
      maxAgeHours: milestone.maxAgeHours,
      maxUnknownPercent: milestone.maxUnknownPercent,
      where: loaded.locate(milestone.origin),
    },
    date,
    judgedAt: now.toISOString(),
    verdict,
    exitCode: verdict === "ready" ? ExitCode.OK : verdict === "not-ready" ? ExitCode.FINDINGS : ExitCode.CANNOT_RUN,
    reasons: verdict === "cannot-judge" ? reasons : [],
    inventory: {
      dir: options.inventory,
      ...(git.commit === undefined ? {} : { commit: git.commit }),
      dirty: git.changed.length > 0,
      errors: loaded.errorCount,
      ...inv.counts,
    },
    ...(results === undefined ? {} : { results }),
    criteria: judged,
    criteriaVerdict,
    ...(signoff === undefined ? {} : { signoff }),
    expiredWaivers,
  };
  if (options.history !== undefined) result = await record(options.history, result, evidence ?? head);
  return {
    result,
    ...(whole === undefined ? {} : { inventory: whole }),
    committed: git,
    ...(evidence === undefined ? {} : { evidence }),
    ...(drift === undefined ? {} : { drift }),
  };
}

function pickMilestone(inv: InventoryHead, loaded: GateInventory, id: string | undefined, date: IsoDate): Milestone {
  const milestones = inv.election.milestones;
  if (milestones.length === 0)
    throw new UsageError("the inventory declares no milestones", { hint: "add milestones to inventory/election.yaml (docs/readiness.md)" });
  if (id !== undefined) {
    const found = milestones.find((m) => m.id.toLowerCase() === id.toLowerCase());
    if (found === undefined)
      throw new UsageError(`no milestone "${id}" in ${loaded.locate(inv.election.origin)}; milestones: ${milestones.map((m) => m.id).join(", ")}`, {
        hint: "name one of them with --milestone, or use --date",
      });
    return found;
  }
  const found = milestoneInForce(milestones, date);
  if (found === undefined) throw new UsageError("no milestone in force");
  return found;
}

/** When the results say they were made: their end, else their start. */
function datedAt(ev: EvidenceHead): string | undefined {
  return ev.footer?.finishedAt ?? ev.header?.startedAt;
}

function describeResults(ev: EvidenceHead, now: Date): ResultsInfo {
  const finished = datedAt(ev);
  const at = finished === undefined ? undefined : parseInstant(finished);
  const ageHours = at === undefined ? undefined : Math.round(((now.getTime() - at) / 3_600_000) * 100) / 100;
  return {
    file: ev.file,
    sha256: ev.sha256,
    ...(ev.header === undefined ? {} : { campaign: ev.header.id, stack: ev.header.stack }),
    ...(ev.footer === undefined ? {} : { finishedAt: ev.footer.finishedAt, valid: ev.footer.valid }),
    ...(ageHours === undefined ? {} : { ageHours }),
    total: ev.total,
    counts: ev.counts,
  };
}

/** How the gate says results cannot be judged: a sentence per reason. */
const GATE_WORDS: UnfitWords = {
  noHeader: (file) => `${file} has no campaign header: not a results file of \`amadegi check\``,
  noEnd: (file) => `${file} has no end record: the campaign was interrupted, the results are partial`,
  invalid: (footer) => `campaign ${footer.id} is marked invalid (${footer.invalid.join("; ") || "no reason given"}): run it again`,
  damaged: (file, lines) => `${file} has ${lines.length} damaged line${lines.length === 1 ? "" : "s"} (first: line ${lines[0]})`,
};

/** Whether a results file is fit to judge a milestone: every reason it is not. */
function fitness(ev: EvidenceHead, info: ResultsInfo, milestone: Milestone): string[] {
  const reasons = whyUnfit(ev, GATE_WORDS);
  // Results whose age cannot be told are as good as stale (fail closed).
  const when = datedAt(ev);
  if (when !== undefined && info.ageHours === undefined)
    reasons.push(`${ev.file} is dated ${JSON.stringify(when.slice(0, 40))}, not a time: its age cannot be judged`);
  if (info.ageHours !== undefined && info.ageHours > milestone.maxAgeHours)
    reasons.push(
      `the results are ${info.ageHours.toFixed(1)} h old, ` +
        `older than milestone ${milestone.id}'s maximum age of ${milestone.maxAgeHours} h: run \`amadegi check\` again`,
    );
  if (info.ageHours !== undefined && info.ageHours < -0.1) reasons.push(`the results are dated ${info.finishedAt}, in the future: check the prober's clock`);
  if (ev.total === 0) reasons.push(`${ev.file} holds no results`);
  else {
    const unknown = (100 * ev.counts.unknown) / ev.total;
    if (unknown > milestone.maxUnknownPercent)
      reasons.push(
        `${ev.counts.unknown} of ${ev.total} results are unknown (${unknown.toFixed(1)}%), ` +
          `more than milestone ${milestone.id} allows (${milestone.maxUnknownPercent}%): the campaign did not finish in time`,
      );
  }
  return reasons;
}

/** A manifest is a few hundred bytes, a signature under 2 KiB: anything larger is not an approval. */
const MAX_APPROVAL_BYTES = 64 * 1024;
/** More files than a committee could sign is not an approvals directory. */
const MAX_APPROVAL_FILES = 1000;

/** A regular file's text, never through a link, never a device or a huge file (approvals arrive from outside). */
async function readApprovalFile(path: string): Promise<string> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new Error("not a regular file");
    if (info.size > MAX_APPROVAL_BYTES) throw new Error(`${info.size} bytes, more than an approval's ${MAX_APPROVAL_BYTES}`);
    // Read from the descriptor checked, never past the bound: a file that grows after fstat is cut off and refused.
    const buffer = Buffer.alloc(MAX_APPROVAL_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > MAX_APPROVAL_BYTES) throw new Error(`more than an approval's ${MAX_APPROVAL_BYTES} bytes`);
    return buffer.toString("utf8", 0, length);
  } finally {
    await handle.close();
  }
}

/**
 * Approvals in a directory: every `<name>.sig` with its manifest `<name>`
 * beside it. Names are plain (they reach logs and reports); each file is read
 * only if it is a small regular file: a link to a device or a key is refused.
 */
export async function readApprovals(dir: string): Promise<{ approvals: Approval[]; problems: ApprovalCheck[] }> {
  let names: string[];
  try {
    if (!(await stat(dir)).isDirectory()) return { approvals: [], problems: [] };
    names = (await readdir(dir)).sort();
  } catch {
    return { approvals: [], problems: [] };
  }
  const approvals: Approval[] = [];
  const problems: ApprovalCheck[] = [];
  const signatures = names.filter((n) => n.endsWith(".sig"));
  if (signatures.length > MAX_APPROVAL_FILES) {
    return {
      approvals,
      problems: [{ source: dir, status: "malformed", detail: `${signatures.length} signatures: more than ${MAX_APPROVAL_FILES}, not an approvals directory` }],
    };
  }
  for (const name of signatures) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/.test(name)) {
      problems.push({
        source: join(dir, "?"),
        status: "malformed",
        detail: `a signature file named ${JSON.stringify(name.slice(0, 80))}: names are letters, digits, '.', '_' and '-'`,
      });
      continue;
    }
    const manifestFile = join(dir, name.slice(0, -4));
    const source = join(dir, name);
    let manifest: string;
    let signature: string;
    try {
      manifest = await readApprovalFile(manifestFile);
    } catch (error) {
      const why =
        (error as NodeJS.ErrnoException).code === "ENOENT"
          ? "missing"
          : (error as NodeJS.ErrnoException).code === "ELOOP"
            ? "a symbolic link"
            : (error as Error).message;
      problems.push({ source, status: "malformed", detail: `the manifest ${manifestFile} beside the signature is ${why}` });
      continue;
    }
    try {
      signature = await readApprovalFile(source);
    } catch (error) {
      problems.push({
        source,
        status: "malformed",
        detail: `the signature is ${(error as NodeJS.ErrnoException).code === "ELOOP" ? "a symbolic link" : (error as Error).message}`,
      });
      continue;
    }
    approvals.push({ source, manifest, signature });
  }
  return { approvals, problems };
}

export async function checkSignoff(args: {
  inv: Pick<InventoryHead, "election" | "committee">;
  milestone: Milestone;
  required: number;
  git: Committed;
  /** The branch the approved commit must be on (default origin/main, else main). */
  main?: string;
  evidence: Pick<EvidenceHead, "sha256"> | undefined;
  verdict: GateResult["criteriaVerdict"];
  approvals: string | undefined;
  now: Date;
}): Promise<SignoffOutcome> {
  const { inv, milestone, required, git, evidence, verdict, now } = args;
  const base = { required, of: inv.committee.length };
  const refuse = (reason: string): SignoffOutcome => ({ ...base, met: false, members: [], checks: [], reason });
  if (args.approvals === undefined) return refuse("no approvals given (--approvals DIR)");
  if (verdict === "cannot-judge") return refuse("the criteria could not be judged: there is nothing to approve");
  if (evidence === undefined) return refuse("approvals name the results they approve: pass --results FILE");
  if (git.root === undefined || git.commit === undefined) return refuse("the inventory is not in a git repository: approvals name the inventory's commit");
  const commit = git.commit.slice(0, 12);
  if (git.changed.length > 0)
    return refuse(
      `the inventory differs from commit ${commit}, which approvals name (${git.changed.slice(0, 5).join(", ")}${git.changed.length > 5 ? ", …" : ""}): ` +
        `commit first, or judge that commit's checkout`,
    );
  // Only what was merged can be signed off, and only main's committee signs (a member removed on main cannot).
  const main = await mainBranch(git.root, args.main);
  if (main === undefined)
    return refuse(`no ${args.main ?? "origin/main or main"} branch to check commit ${commit} against: fetch the history (actions/checkout fetch-depth: 0)`);
  if (!(await isAncestor(git.root, git.commit, main.commit))) return refuse(`commit ${commit} is not on ${main.ref}: a sign-off approves only what was merged`);
  const file = git.committee;
  if (file !== undefined) {
    const [atMain, atCommit] = [await blobAt(git.root, main.commit, file), await blobAt(git.root, git.commit, file)];
    if (atMain === undefined || atMain !== atCommit) {
      throw new UsageError(
        `${file} at commit ${commit} differs from ${main.ref}'s (${main.commit.slice(0, 12)}): the signers' keys come from ${main.ref}'s committee file`,
        {
          hint: `have the committee approve a commit with ${main.ref}'s committee, or judge ${main.ref}'s checkout`,
          file,
        },
      );
    }
  }
  const { approvals, problems } = await readApprovals(args.approvals);
  const checks = [
    ...problems,
    ...(await checkApprovals(approvals, inv.committee, {
      election: inv.election.id,
      milestone: milestone.id,
      inventoryCommit: git.commit,
      resultsSha256: evidence.sha256,
      verdict,
      maxAgeMs: milestone.maxAgeHours * 3_600_000,
      now,
    })),
  ];
  const q = quorum(checks, required);
  return {
    ...base,
    met: q.met,
    members: q.members,
    checks,
    ...(approvals.length + problems.length === 0 ? { reason: `no approvals in ${args.approvals}` } : {}),
  };
}

/** Whether the history already holds the campaign of a results file (by its header's id). */
async function recorded(path: string, results: string): Promise<boolean> {
  const id = await campaignOf(results).catch(() => undefined);
  if (id === undefined) return false;
  const history = new History(path);
  try {
    return history.hasCampaign(id);
  } finally {
    history.close();
  }
}

async function record(path: string, result: GateResult, evidence: (EvidenceHead & Pick<Evidence, "rows">) | undefined): Promise<GateResult> {
  const history = new History(path);
  try {
    let changes: GateResult["changes"];
    const header = evidence?.header;
    if (evidence !== undefined && header !== undefined) {
      if (!history.hasCampaign(header.id)) {
        // A campaign new to this history needs its rows: a digest keeps none, so the file is read for them (once per campaign).
        const rows = evidence.rows ?? (await readRows(evidence.file, evidence.sha256));
        history.recordCampaign(
          {
            id: header.id,
            stack: header.stack,
            started: header.startedAt,
            finished: evidence.footer?.finishedAt ?? header.startedAt,
            valid: evidence.footer?.valid ?? false,
            ...(evidence.footer === undefined
              ? { invalidReason: "interrupted" }
              : evidence.footer.valid
                ? {}
                : { invalidReason: evidence.footer.invalid.join("; ") }),
            resultsSha256: evidence.sha256,
          },
          rows,
        );
      }
      const c = history.changesSince(header.id);
      changes = {
        ...(c.previous === undefined ? {} : { previous: c.previous }),
        newlyFailing: c.newlyFailing.length,
        recovered: c.recovered.length,
        sample: c.newlyFailing.slice(0, 20).map((p) => `${p.key}: ${p.was} → ${p.status}`),
      };
    }
    const judged = result.criteria.filter((c) => c.outcome !== "cannot-judge");
    const score = judged.length === 0 ? undefined : Math.round((judged.reduce((a, c) => a + c.withWaivers, 0) / judged.length) * 100) / 100;
    const figures = result.criteria.map((c) => ({
      id: c.id,
      outcome: c.outcome,
      ...(c.outcome === "cannot-judge" ? {} : { measured: c.measured, withWaivers: c.withWaivers }),
      threshold: c.threshold,
    }));
    history.recordVerdict(result.milestone.id, result.judgedAt, result.verdict, header?.id, score, figures);
    return {
      ...result,
      ...(changes === undefined ? {} : { changes }),
      trend: history.trend(result.milestone.id),
      criteriaTrend: history.criteriaTrend(
        result.milestone.id,
        result.criteria.map((c) => c.id),
      ),
    };
  } finally {
    history.close();
  }
}
