import { appendFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readResults, ResultsWriter } from "../../src/probe/results.ts";
import type { ProbeResult } from "../../src/probe/types.ts";

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const result = (key: string): ProbeResult => ({
  key,
  check: "c",
  kind: "tcp",
  address: "127.0.0.1",
  from: "t",
  status: "up",
  attempts: 1,
  timings: { total: 1 },
  values: {},
  at: new Date().toISOString(),
});
const header = { type: "campaign" as const, version: 1, id: "x", stack: "s", from: "t", startedAt: new Date().toISOString(), deadlineMs: 1000, targets: 3 };

describe("results file", () => {
  it("a run that died keeps its flushed results; a torn last line is reported, not fatal", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-results-"));
    dirs.push(dir);
    const path = join(dir, "r.jsonl");
    const writer = new ResultsWriter(path, header);
    writer.write(result("c/1"));
    writer.write(result("c/2"));
    writer.flush();
    await appendFile(path, '{"type":"result","key":"c/3","sta');
    const seen: string[] = [];
    const read = await readResults(path, (r) => seen.push(r.key));
    expect(read.header?.id).toBe("x");
    expect(read.footer).toBeUndefined();
    expect(seen).toEqual(["c/1", "c/2"]);
    expect(read.damaged).toEqual([4]);
  });

  it("a closed file has its footer", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-results-"));
    dirs.push(dir);
    const path = join(dir, "r.jsonl");
    const writer = new ResultsWriter(path, header);
    writer.write(result("c/1"));
    writer.close({
      type: "end",
      id: "x",
      finishedAt: new Date().toISOString(),
      valid: true,
      invalid: [],
      interrupted: false,
      counts: { up: 1, degraded: 0, down: 0, unreachable: 0, unknown: 0 },
    });
    const read = await readResults(path);
    expect(read).toMatchObject({ results: 1, damaged: [], footer: { valid: true } });
  });

  it("an unwritable path is a ProbeError naming it", () => {
    // Under a regular file: ENOTDIR. (Not /proc: Node 24's recursive mkdirSync loops forever there.)
    expect(() => new ResultsWriter("/etc/hostname/amadegi/r.jsonl", header)).toThrow(/cannot write results to \/etc\/hostname\/amadegi\/r\.jsonl/);
  });
});
