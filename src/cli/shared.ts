// What several commands share: how a path is shown, --today/--date, -s/--stack, and the options
// of the commands that judge a milestone (gate, approve, report) with what they become.
import { isAbsolute, relative, resolve } from "node:path";
import { UsageError } from "../lib/errors.ts";
import { newestResults, statePaths } from "../lib/state.ts";
import { type IsoDate, parseDate, parseStackRef } from "../model/index.ts";
import type { GateOptions } from "../readiness/gate.ts";
import type { Io, OptionValues } from "./command.ts";

/** A path as the user will recognise it: relative to where they stand, as given. */
export function displayPath(io: Io, path: string): string {
  if (isAbsolute(path)) return path;
  return relative(process.cwd(), resolve(io.cwd, path)) || ".";
}

/** A day given on the command line (--today, --date): ISO or Jalali; a bad one is a usage error. */
export function parseTodayOption(value: string | undefined): IsoDate | undefined {
  if (value === undefined) return undefined;
  const parsed = parseDate(value);
  if (!parsed.ok) throw new UsageError(`--today ${value}: ${parsed.reason}`, { hint: "write --today 2027-02-20 or --today 1405-12-01" });
  return parsed.iso;
}

/** How -s/--stack's value is written, for its description in a command's usage. */
export const STACK_FORMS = "NAME, organization/NAME or organization/amadegi/NAME, as `pulumi -s` takes it";

/**
 * The stack a command's -s/--stack names (`NAME` or Pulumi's
 * `organization/amadegi/NAME`: parseStackRef), as the name of its file
 * stacks/Pulumi.<NAME>.yaml; a missing or bad one is a usage error.
 */
export function stackOption(value: string | undefined, command: string): string {
  if (value === undefined) throw new UsageError(`${command} needs --stack NAME`, { hint: "stacks are the files stacks/Pulumi.<NAME>.yaml" });
  const ref = parseStackRef(value);
  if (!ref.ok) throw new UsageError(`--stack ${value}: ${ref.reason}`, { hint: ref.hint });
  return ref.stack;
}

/** The options of the commands that judge a milestone: gate, approve and report (gateOptions reads them). */
export const judgeOptions = {
  inventory: { type: "string", placeholder: "DIR", default: "inventory", description: "the inventory" },
  milestone: { type: "string", placeholder: "ID", description: "the milestone to judge (default: the next one due, from today in the election's time zone)" },
  date: {
    type: "string",
    placeholder: "D",
    description: "judge as of this day (ISO or Jalali): the milestone in force then (unless --milestone), waivers and lifecycle dates",
  },
  results: { type: "string", placeholder: "FILE", description: "a campaign's results (default: the newest <state>/results/*.jsonl)" },
  approvals: { type: "string", placeholder: "DIR", description: "signed approvals: MANIFEST and MANIFEST.sig pairs (default: <state>/approvals)" },
  committee: { type: "string", placeholder: "FILE", description: "the committee file (default: DIR/../governance/committee.yaml)" },
  commit: {
    type: "string",
    placeholder: "REF",
    description:
      "the commit judged, as the approvals name it (default: HEAD); the files that decide the\n" +
      "verdict (election.yaml, waivers.yaml, the committee file, checks/) must equal it",
  },
  main: {
    type: "string",
    placeholder: "REF",
    description: "the branch a sign-off's commit must be on, whose committee signs (default: origin/main, else main)",
  },
  history: { type: "string", placeholder: "FILE", description: "the history database (default: <state>/history.sqlite); --no-history records nothing" },
  "no-history": { type: "boolean", description: "record nothing in the history database" },
  "no-cache": {
    type: "boolean",
    description: "validate the inventory, read the results and measure afresh instead of using <state>/cache (kept by content hash)",
  },
} as const;

/** The gate's options from the command line: the same for gate, approve and report (`record`: into the history). */
export async function gateOptions(values: OptionValues<typeof judgeOptions>, io: Io, record = true): Promise<GateOptions> {
  const { milestone, results, committee, commit, main } = values;
  const date = parseTodayOption(values.date);
  const state = statePaths(io.env);
  const approvals = values.approvals ?? state.approvals;
  const history = values["no-history"] === true || !record ? undefined : (values.history ?? state.history);
  // By default the newest results file of the state (any stack's).
  const newest = results === undefined ? await newestResults(state.results) : undefined;
  const found = results !== undefined ? displayPath(io, results) : newest === undefined ? undefined : displayPath(io, newest);
  return {
    inventory: displayPath(io, values.inventory),
    ...(milestone === undefined ? {} : { milestone }),
    ...(date === undefined ? {} : { date }),
    ...(found === undefined ? {} : { results: found }),
    approvals: displayPath(io, approvals),
    ...(committee === undefined ? {} : { committeeFile: displayPath(io, committee) }),
    ...(commit === undefined ? {} : { commit }),
    ...(main === undefined ? {} : { main }),
    ...(history === undefined ? {} : { history: displayPath(io, history) }),
    ...(values["no-cache"] === true ? {} : { cacheDir: state.cache }),
    driftDir: state.drift,
  };
}
