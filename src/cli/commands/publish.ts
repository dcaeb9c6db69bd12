import { basename } from "node:path";
import { UsageError } from "../../lib/errors.ts";
import { ExitCode } from "../../lib/exit.ts";
import { appendStepSummary, createTag, upsertComment } from "../../lib/github.ts";
import { defineCommand } from "../command.ts";
import { displayPath } from "../shared.ts";

export const publish = defineCommand({
  name: "publish",
  synopsis: ["amadegi publish --summary FILE", "amadegi publish --comment FILE [--key NAME]", "amadegi publish --tag NAME"],
  options: {
    summary: { type: "string", placeholder: "FILE", description: "append FILE (markdown, e.g. report/summary.md) to the job summary ($GITHUB_STEP_SUMMARY)" },
    comment: {
      type: "string",
      placeholder: "FILE",
      description: "put FILE on the pull request as one comment, edited on later runs, not posted again\n($GITHUB_TOKEN with pull-requests: write)",
    },
    key: { type: "string", placeholder: "NAME", description: "with --comment: tells comments apart (default: FILE's name)" },
    tag: {
      type: "string",
      placeholder: "NAME",
      description:
        "create tag NAME at the job's commit ($GITHUB_SHA) through the GitHub API with $GITHUB_TOKEN\n" +
        "(needs contents: write); an existing tag at the same commit is accepted, at another refused",
    },
  },
  after: "Exit codes: 0 done; 2 could not (not in a job, no token, GitHub refused).",
  async run(args, io) {
    const { summary, comment, tag } = args.values;
    if ([summary, comment, tag].filter((v) => v !== undefined).length !== 1) {
      throw new UsageError("publish needs one of --summary FILE, --comment FILE or --tag NAME", { hint: "see `amadegi publish --help`" });
    }
    if (comment !== undefined) {
      const key = args.values.key ?? basename(comment).replace(/\.[^.]*$/, "");
      io.out(`comment ${key}: ${await upsertComment(displayPath(io, comment), key, io.env)}`);
    } else if (summary !== undefined) {
      const n = await appendStepSummary(displayPath(io, summary), io.env);
      io.out(`added ${summary} (${n} characters) to the job summary`);
    } else if (tag !== undefined) {
      io.out(`tag ${tag}: ${await createTag(tag, io.env)}`);
    }
    return ExitCode.OK;
  },
});
