import type { CampaignFooter } from "../probe/results.ts";
import type { EvidenceHead } from "./evidence.ts";

/**
 * Whether a campaign's results can say anything: the one home of that
 * decision, for the gate (a milestone's criteria) and for drift (what was
 * observed). Results with no campaign header, or no end record (the campaign
 * was interrupted), or marked invalid, or with damaged lines, are not judged
 * on; drift also needs the campaign to be of the stack it compares. The gate
 * adds its milestone's limits (age, share unknown) after these.
 *
 * The checks are the same for both; the words are not (the gate writes a
 * sentence per reason, drift a clause of one sentence), so the caller passes
 * its words.
 */

export interface UnfitWords {
  readonly noHeader: (file: string) => string;
  readonly noEnd: (file: string) => string;
  readonly invalid: (footer: CampaignFooter) => string;
  readonly damaged: (file: string, lines: readonly number[]) => string;
}

/** The stack the campaign must be of, and how to say it is another's. */
export interface ExpectedStack {
  readonly name: string;
  readonly other: (stack: string) => string;
}

/** Every reason the campaign's results cannot be judged on, in `words`; none: they can. */
export function whyUnfit(ev: EvidenceHead, words: UnfitWords, stack?: ExpectedStack): string[] {
  const reasons: string[] = [];
  if (ev.header === undefined) reasons.push(words.noHeader(ev.file));
  else if (stack !== undefined && ev.header.stack !== stack.name) reasons.push(stack.other(ev.header.stack));
  if (ev.footer === undefined) reasons.push(words.noEnd(ev.file));
  else if (!ev.footer.valid) reasons.push(words.invalid(ev.footer));
  if (ev.damaged.length > 0) reasons.push(words.damaged(ev.file, ev.damaged));
  return reasons;
}
