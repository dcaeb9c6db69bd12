// The gate's results reader agrees with src/probe/results.ts's readResults on
// every kind of line (header, results, footer, blank, CRLF, damaged, a torn
// last line), and hashes the file's exact bytes.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readResults } from "../../src/probe/results.ts";
import { readEvidence } from "../../src/readiness/evidence.ts";
import { fixtureCopy, resultsFor } from "./helpers.ts";

const NOW = new Date("2027-02-17T08:00:00Z");

describe("readEvidence", () => {
  it.each([
    ["a complete file", (t: string) => t],
    ["CRLF line ends", (t: string) => t.replaceAll("\n", "\r\n")],
    ["blank lines and a damaged line", (t: string) => t.replace("\n", '\n\n   \nnot json\n{"type":"result","key":1}\n[]\n')],
    ["a torn last line (an interrupted run)", (t: string) => t.slice(0, t.lastIndexOf("\n", t.length - 2) + 20)],
    ["an unknown status", (t: string) => t.replace('"status":"up"', '"status":"fine"')],
    // Issue 14: where a record stands. An invalid campaign made "valid" by an appended end record,
    // a second header, results after the end, a result before the header: each is damage.
    [
      "an end record appended after the end",
      (t: string) =>
        `${t}${JSON.stringify({ type: "end", id: "x", finishedAt: NOW.toISOString(), valid: true, invalid: [], interrupted: false, counts: {} })}\n`,
    ],
    ["a second header", (t: string) => `${t.split("\n")[0]}\n${t}`],
    ["a result after the end", (t: string) => `${t}${t.split("\n")[1]}\n`],
    ["a result before the header", (t: string) => `${t.split("\n")[1]}\n${t}`],
    ["a line longer than any record (2 MiB)", (t: string) => t.replace("\n", `\n{"type":"result","detail":"${"x".repeat(2 * 1024 * 1024)}"}\n`)],
  ])("reads %s as readResults does", async (_name, change) => {
    const root = await fixtureCopy();
    const file = await resultsFor(root, { now: NOW });
    await writeFile(file, change(await readFile(file, "utf8")));
    const keys: string[] = [];
    const summary = await readResults(file, (r) => keys.push(`${r.key} ${r.status}`));
    const evidence = await readEvidence(file, { keepRows: true });
    expect(evidence.rows?.map((r) => `${r.key} ${r.status}`)).toEqual(keys);
    expect(evidence.total).toBe(summary.results);
    expect(evidence.damaged).toEqual(summary.damaged);
    expect(evidence.header).toEqual(summary.header);
    expect(evidence.footer).toEqual(summary.footer);
    expect(evidence.sha256).toBe(
      createHash("sha256")
        .update(await readFile(file))
        .digest("hex"),
    );
  });

  it("keeps an invalid campaign invalid when a valid end record is appended, and counts the line damaged", async () => {
    const root = await fixtureCopy();
    const file = await resultsFor(root, { now: NOW, valid: false });
    const text = await readFile(file, "utf8");
    await writeFile(
      file,
      `${text}${JSON.stringify({ type: "end", id: "x", finishedAt: NOW.toISOString(), valid: true, invalid: [], interrupted: false, counts: {} })}\n`,
    );
    const evidence = await readEvidence(file);
    expect(evidence.footer?.valid).toBe(false);
    expect(evidence.damaged).toEqual([text.split("\n").length]);
  });

  it("refuses a results path that is a FIFO at once, rather than wait for a writer", async () => {
    const root = await fixtureCopy();
    const fifo = join(root, "results.jsonl");
    execFileSync("mkfifo", [fifo]);
    await expect(readEvidence(fifo)).rejects.toThrow(/is not a regular file: results are a file `amadegi check` wrote/);
  });

  it("reads a file larger than one chunk, with multi-byte text across chunk edges", async () => {
    const root = await fixtureCopy();
    const file = join(root, "big.jsonl");
    const lines = [JSON.stringify({ type: "campaign", version: 1, id: "big", stack: "s", from: "t", startedAt: NOW.toISOString(), deadlineMs: 1, targets: 0 })];
    for (let i = 0; i < 30_000; i++)
      lines.push(
        JSON.stringify({
          type: "result",
          key: `link-icmp/S-${i}/S-${i}-F`,
          check: "link-icmp",
          kind: "icmp",
          link: `S-${i}-F`,
          address: "10.0.0.1",
          from: "t",
          status: i % 7 === 0 ? "down" : "up",
          detail: "پیوند ".repeat(30),
          attempts: 1,
          timings: { total: 1 },
          values: {},
          at: NOW.toISOString(),
        }),
      );
    await writeFile(file, `${lines.join("\n")}\n`);
    const evidence = await readEvidence(file);
    expect(evidence.total).toBe(30_000);
    expect(evidence.counts.down).toBe(Math.ceil(30_000 / 7));
    expect(evidence.damaged).toEqual([]);
    expect(evidence.links.get("S-7-F")?.detail).toBe("پیوند ".repeat(30));
  });
});
