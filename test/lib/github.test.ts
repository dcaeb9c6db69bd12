import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { appendStepSummary, createTag, upsertComment } from "../../src/lib/github.ts";

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** A loopback stand-in for the GitHub REST API: records requests, answers as told. */
async function fakeApi(answer: (req: IncomingMessage, body: string) => [number, unknown]) {
  const seen: { method: string; url: string; auth: string; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", auth: req.headers.authorization ?? "", body });
      const [status, json] = answer(req, body);
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(json));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { seen, url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}

const env = (api: string) => ({ GITHUB_TOKEN: "t0ken", GITHUB_REPOSITORY: "iec/amadegi", GITHUB_SHA: "a".repeat(40), GITHUB_API_URL: api });

describe("GitHub Actions glue", () => {
  it("appends a file to the job summary", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-gh-"));
    dirs.push(dir);
    await writeFile(join(dir, "summary.md"), "# ready");
    await writeFile(join(dir, "step"), "before\n");
    await appendStepSummary(join(dir, "summary.md"), { GITHUB_STEP_SUMMARY: join(dir, "step") });
    expect(await readFile(join(dir, "step"), "utf8")).toBe("before\n# ready\n");
    await expect(appendStepSummary(join(dir, "summary.md"), {})).rejects.toThrow(/GITHUB_STEP_SUMMARY is not set/);
  });

  it("creates the tag at the job's commit with the token; accepts a re-run, refuses a tag at another commit", async () => {
    let existing = "a".repeat(40);
    const api = await fakeApi((req) => (req.method === "POST" ? [422, { message: "Reference already exists" }] : [200, { object: { sha: existing } }]));
    const created = await fakeApi(() => [201, {}]);
    try {
      expect(await createTag("readiness/T-7", env(created.url))).toBe("created");
      expect(created.seen).toEqual([
        {
          method: "POST",
          url: "/repos/iec/amadegi/git/refs",
          auth: "Bearer t0ken",
          body: JSON.stringify({ ref: "refs/tags/readiness/T-7", sha: "a".repeat(40) }),
        },
      ]);
      expect(await createTag("readiness/T-7", env(api.url))).toBe("exists");
      existing = "b".repeat(40);
      await expect(createTag("readiness/T-7", env(api.url))).rejects.toThrow(`tag readiness/T-7 already exists at ${"b".repeat(40)}, not at ${"a".repeat(40)}`);
      await expect(createTag("bad tag", env(api.url))).rejects.toThrow(/not a valid tag name/);
      await expect(createTag("readiness/T-7", { ...env(api.url), GITHUB_TOKEN: "" })).rejects.toThrow(/GITHUB_TOKEN is not set/);
    } finally {
      await api.close();
      await created.close();
    }
  });

  it("puts a file on the pull request as one comment: created once, then edited, found across pages", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-gh-"));
    dirs.push(dir);
    await writeFile(join(dir, "event.json"), JSON.stringify({ pull_request: { number: 42 } }));
    await writeFile(join(dir, "preview.md"), "### Pulumi preview\n");
    const bot = { login: "github-actions[bot]", type: "Bot" };
    const comments: { id: number; body: string; user: { login: string; type: string } }[] = Array.from({ length: 100 }, (_, i) => ({
      id: i + 1,
      body: `someone else's comment ${i}`,
      user: { login: `user${i}`, type: "User" },
    }));
    // A pull-request author pasted our marker into a comment of theirs (issue 13): it must never be the one edited.
    const planted = "<!-- amadegi:preview-rehearsal -->\nREADY, trust me";
    comments[3] = { id: 4, body: planted, user: { login: "mallory", type: "User" } };
    comments[5] = { id: 6, body: planted, user: { login: "github-actions[bot]", type: "User" } };
    const api = await fakeApi((req, body) => {
      const url = new URL(req.url ?? "", "http://x");
      if (req.method === "GET") {
        const page = Number(url.searchParams.get("page"));
        return [200, comments.slice((page - 1) * 100, page * 100)];
      }
      if (req.method === "POST") {
        comments.push({ id: 1000, body: (JSON.parse(body) as { body: string }).body, user: bot });
        return [201, {}];
      }
      const target = comments.find((c) => url.pathname.endsWith(`/comments/${c.id}`));
      if (target !== undefined) target.body = (JSON.parse(body) as { body: string }).body;
      return [200, {}];
    });
    const ghEnv = { ...env(api.url), GITHUB_EVENT_PATH: join(dir, "event.json") };
    try {
      expect(await upsertComment(join(dir, "preview.md"), "preview-rehearsal", ghEnv)).toBe("created");
      expect(comments.at(-1)).toEqual({ id: 1000, body: "<!-- amadegi:preview-rehearsal -->\n### Pulumi preview\n", user: bot });
      await writeFile(join(dir, "preview.md"), "### Pulumi preview, again\n");
      // The comment is on the second page now: it is found there and edited, not posted again.
      expect(await upsertComment(join(dir, "preview.md"), "preview-rehearsal", ghEnv)).toBe("updated");
      expect(comments).toHaveLength(101);
      expect(comments.at(-1)?.body).toBe("<!-- amadegi:preview-rehearsal -->\n### Pulumi preview, again\n");
      expect(api.seen.filter((r) => r.method === "PATCH").map((r) => r.url)).toEqual(["/repos/iec/amadegi/issues/comments/1000"]);
      expect(comments[3]?.body).toBe(planted);
      expect(comments[5]?.body).toBe(planted);
      // Another stack's preview is another comment.
      expect(await upsertComment(join(dir, "preview.md"), "preview-production", ghEnv)).toBe("created");
      await writeFile(join(dir, "event.json"), JSON.stringify({ ref: "refs/heads/main" }));
      await expect(upsertComment(join(dir, "preview.md"), "preview-rehearsal", ghEnv)).rejects.toThrow(/not a pull request/);
    } finally {
      await api.close();
    }
  });
});
