import { formatBoth, todayIn } from "../model/index.ts";
import { checkSignoff, gate, type SignoffOutcome } from "./gate.ts";

/**
 * The change freeze: from the election's `changeFreeze` day, a production
 * `up` or `destroy` needs the IT committee's approval — the same signed
 * approvals that sign off a milestone (a quorum of members, over this
 * inventory commit and these results, recent enough). Other environments,
 * and production before the freeze, need none.
 */
export interface FreezeOptions {
  readonly stack: string;
  readonly environment: string;
  readonly operation: "up" | "destroy";
  readonly inventory: string;
  readonly milestone?: string;
  readonly results?: string;
  readonly approvals?: string;
  readonly now?: Date;
}

export interface FreezeDecision {
  readonly frozen: boolean;
  readonly allowed: boolean;
  /** One line for a person: why it may or may not go ahead. */
  readonly reason: string;
  readonly signoff?: SignoffOutcome;
}

export async function changeFreeze(options: FreezeOptions): Promise<FreezeDecision> {
  const { stack, operation } = options;
  if (options.environment !== "production") return { frozen: false, allowed: true, reason: `stack ${stack} is ${options.environment}: no change freeze` };
  const now = options.now ?? new Date();
  const run = await gate({
    inventory: options.inventory,
    ...(options.milestone === undefined ? {} : { milestone: options.milestone }),
    ...(options.results === undefined ? {} : { results: options.results }),
    now,
  });
  const { election } = run.inventory;
  const freeze = election.changeFreeze;
  const today = todayIn(election.timeZone, now);
  if (freeze === undefined || today < freeze) {
    const when = freeze === undefined ? "the election declares no change freeze" : `the change freeze begins ${formatBoth(freeze)}`;
    return { frozen: false, allowed: true, reason: `stack ${stack} is production; ${when}` };
  }
  const since = `the change freeze began ${formatBoth(freeze)}`;
  if (options.approvals === undefined) {
    return {
      frozen: true,
      allowed: false,
      reason:
        `stack ${stack} is production and ${since}: \`${operation}\` needs the IT committee's signed approval ` +
        `(--approvals DIR --results FILE [--milestone ID]; see docs/readiness.md)`,
    };
  }
  const milestone = election.milestones.find((m) => m.id === run.result.milestone.id);
  if (milestone === undefined) return { frozen: true, allowed: false, reason: `stack ${stack}: no milestone ${run.result.milestone.id} to approve` };
  // A freeze always needs a majority unless the milestone names its own quorum.
  const required = milestone.signoff?.required ?? Math.floor(run.inventory.committee.length / 2) + 1;
  const signoff = await checkSignoff({
    inv: run.inventory,
    milestone,
    required,
    git: run.committed,
    evidence: run.evidence,
    verdict: run.result.criteriaVerdict,
    approvals: options.approvals,
    now,
  });
  if (signoff.met) {
    return {
      frozen: true,
      allowed: true,
      reason: `${since}; approved for ${milestone.id} by ${signoff.members.join(", ")} (${signoff.members.length} of ${signoff.of}, ${required} needed)`,
      signoff,
    };
  }
  const refused = signoff.checks.filter((c) => c.status !== "valid").map((c) => `${c.source}: ${c.detail}`);
  const why = signoff.reason ?? (refused.length > 0 ? refused.join("; ") : `${signoff.members.length} of ${required} approvals`);
  return { frozen: true, allowed: false, reason: `stack ${stack} is production and ${since}: the approvals do not unlock \`${operation}\`: ${why}`, signoff };
}
