import { basename } from "node:path";
import { UsageError } from "../../lib/errors.ts";
import { ExitCode } from "../../lib/exit.ts";
import { appendStepSummary, createTag, upsertComment } from "../../lib/github.ts";
import { type Command, stringOption } from "../command.ts";
import { displayPath } from "./validate.ts";

export const publish: Command = {
  name: "publish",
  usage: [
    "Usage: amadegi publish --summary FILE",
    "       amadegi publish --comment FILE [--key NAME]",
    "       amadegi publish --tag NAME",
    "",
    "  --summary FILE   append FILE (markdown, e.g. report/summary.md) to the job summary ($GITHUB_STEP_SUMMARY)",
    "  --comment FILE   put FILE on the pull request as one comment, edited on later runs, not posted again",
    "                   ($GITHUB_TOKEN with pull-requests: write); --key NAME tells comments apart (default: FILE's name)",
    "  --tag NAME       create tag NAME at the job's commit ($GITHUB_SHA) through the GitHub API with $GITHUB_TOKEN",
    "                   (needs contents: write); an existing tag at the same commit is accepted, at another refused",
    "",
    "Exit codes: 0 done; 2 could not (not in a job, no token, GitHub refused).",
  ].join("\n"),
  options: { summary: { type: "string" }, comment: { type: "string" }, key: { type: "string" }, tag: { type: "string" } },
  async run(args, io) {
    const summary = stringOption(args, "summary");
    const comment = stringOption(args, "comment");
    const tag = stringOption(args, "tag");
    if ([summary, comment, tag].filter((v) => v !== undefined).length !== 1) {
      throw new UsageError("publish needs one of --summary FILE, --comment FILE or --tag NAME", { hint: "see `amadegi publish --help`" });
    }
    if (comment !== undefined) {
      const key = stringOption(args, "key") ?? basename(comment).replace(/\.[^.]*$/, "");
      io.out(`comment ${key}: ${await upsertComment(displayPath(io, comment), key, io.env)}`);
    } else if (summary !== undefined) {
      const n = await appendStepSummary(displayPath(io, summary), io.env);
      io.out(`added ${summary} (${n} characters) to the job summary`);
    } else if (tag !== undefined) {
      io.out(`tag ${tag}: ${await createTag(tag, io.env)}`);
    }
    return ExitCode.OK;
  },
};
