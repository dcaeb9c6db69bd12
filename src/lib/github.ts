import { appendFile, readFile } from "node:fs/promises";
import { AmadegiError, UsageError } from "./errors.ts";

/**
 * The little of GitHub Actions the workflows need from amadegi, so that every
 * `run:` step stays a single `amadegi …` line: append a file to the job
 * summary, and create a tag through the REST API with the job's GITHUB_TOKEN
 * (never printed; sent only to GITHUB_API_URL). The Markdown it publishes is
 * encoded where it is made (summary.md, the preview: src/lib/encode.ts); it
 * adds nothing of data to it, only the comment's marker, whose key is checked.
 */

export class CiError extends AmadegiError {
  override readonly name = "CiError";
}

function need(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value === "")
    throw new UsageError(`${name} is not set: this runs inside a GitHub Actions job`, {
      hint: name === "GITHUB_TOKEN" ? "pass it to the step: env: { GITHUB_TOKEN: ${{ github.token }} }" : "run it from a workflow step",
    });
  return value;
}

/** Append a markdown file to the job's summary ($GITHUB_STEP_SUMMARY). */
export async function appendStepSummary(file: string, env: NodeJS.ProcessEnv): Promise<number> {
  const target = need(env, "GITHUB_STEP_SUMMARY");
  const text = await readFile(file, "utf8");
  await appendFile(target, text.endsWith("\n") ? text : `${text}\n`);
  return text.length;
}

/**
 * Create the lightweight tag `refs/tags/NAME` at the job's commit. An existing
 * tag at the same commit is fine (a re-run); at another commit it is an error:
 * a milestone is signed off once.
 */
export async function createTag(name: string, env: NodeJS.ProcessEnv): Promise<"created" | "exists"> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(name) || name.includes(".."))
    throw new UsageError(`tag "${name}" is not a valid tag name`, { hint: "e.g. readiness/T-7" });
  const token = need(env, "GITHUB_TOKEN");
  const repo = need(env, "GITHUB_REPOSITORY");
  const sha = need(env, "GITHUB_SHA");
  const api = env.GITHUB_API_URL ?? "https://api.github.com";
  const headers = {
    authorization: `Bearer ${token}`,
    accept: "application/vnd.github+json",
    "x-github-api-version": "2022-11-28",
    "content-type": "application/json",
  };
  const created = await fetch(`${api}/repos/${repo}/git/refs`, { method: "POST", headers, body: JSON.stringify({ ref: `refs/tags/${name}`, sha }) });
  if (created.status === 201) return "created";
  if (created.status === 422) {
    const existing = await fetch(`${api}/repos/${repo}/git/ref/tags/${name}`, { headers });
    const body = (await existing.json().catch(() => ({}))) as { object?: { sha?: string } };
    if (existing.ok && body.object?.sha === sha) return "exists";
    throw new CiError(`tag ${name} already exists at ${body.object?.sha ?? "another commit"}, not at ${sha}`, {
      hint: "a milestone is tagged once; delete the tag deliberately if it was wrong",
    });
  }
  throw new CiError(`GitHub refused to create tag ${name}: HTTP ${created.status}`, { hint: "the job needs `permissions: contents: write`" });
}

/** The pull request a `pull_request` job runs for, from the event payload. */
async function pullRequestNumber(env: NodeJS.ProcessEnv): Promise<number> {
  const event = JSON.parse(await readFile(need(env, "GITHUB_EVENT_PATH"), "utf8")) as { pull_request?: { number?: unknown }; number?: unknown };
  const number = event.pull_request?.number ?? event.number;
  if (typeof number !== "number")
    throw new UsageError("this job's event is not a pull request: there is no comment to write", { hint: "run it in a workflow triggered by pull_request" });
  return number;
}

/**
 * Put a file on the pull request as one comment, edited on every run rather
 * than posted again: the comment carries a hidden marker `<!-- amadegi:KEY -->`
 * and the one that has it is updated. KEY tells apart comments of different
 * kinds (one preview per stack). Only a comment our own bot wrote is edited
 * (issue 13): anyone can paste the marker into a comment of theirs, and the
 * job's token could edit it — putting our preview under their name, or their
 * text above ours. The bot is `github-actions[bot]` unless
 * AMADEGI_COMMENT_AUTHOR names another (a GitHub App's login).
 */
export async function upsertComment(file: string, key: string, env: NodeJS.ProcessEnv): Promise<"created" | "updated"> {
  if (!/^[A-Za-z0-9._-]+$/.test(key))
    throw new UsageError(`comment key "${key}" may hold only letters, digits, . _ -`, { hint: "e.g. --key preview-rehearsal" });
  const token = need(env, "GITHUB_TOKEN");
  const repo = need(env, "GITHUB_REPOSITORY");
  const number = await pullRequestNumber(env);
  const api = env.GITHUB_API_URL ?? "https://api.github.com";
  const headers = {
    authorization: `Bearer ${token}`,
    accept: "application/vnd.github+json",
    "x-github-api-version": "2022-11-28",
    "content-type": "application/json",
  };
  const marker = `<!-- amadegi:${key} -->`;
  const body = `${marker}\n${await readFile(file, "utf8")}`;
  for (let page = 1; page <= 20; page++) {
    const listed = await fetch(`${api}/repos/${repo}/issues/${number}/comments?per_page=100&page=${page}`, { headers });
    if (!listed.ok)
      throw new CiError(`GitHub refused to list the comments of #${number}: HTTP ${listed.status}`, {
        hint: "the job needs `permissions: pull-requests: write`",
      });
    const comments = (await listed.json()) as { id: number; body?: string; user?: { login?: string; type?: string } }[];
    const bot = env.AMADEGI_COMMENT_AUTHOR ?? "github-actions[bot]";
    const ours = comments.find((c) => c.body?.startsWith(marker) === true && c.user?.login === bot && c.user.type === "Bot");
    if (ours !== undefined) {
      const updated = await fetch(`${api}/repos/${repo}/issues/comments/${ours.id}`, { method: "PATCH", headers, body: JSON.stringify({ body }) });
      if (!updated.ok)
        throw new CiError(`GitHub refused to update comment ${ours.id}: HTTP ${updated.status}`, { hint: "the job needs `permissions: pull-requests: write`" });
      return "updated";
    }
    if (comments.length < 100) break;
  }
  const created = await fetch(`${api}/repos/${repo}/issues/${number}/comments`, { method: "POST", headers, body: JSON.stringify({ body }) });
  if (created.status !== 201)
    throw new CiError(`GitHub refused to comment on #${number}: HTTP ${created.status}`, { hint: "the job needs `permissions: pull-requests: write`" });
  return "created";
}
