// The results digest (ADR 0011): a file read once is not parsed again while its
// bytes hash the same; a changed file, or a digest that is damaged, of another
// layout or made by other code, is a miss and the file is read in full; the
// history still gets every row of a campaign judged from a digest.
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { decode, encode } from "../../src/readiness/digest.ts";
import { campaignOf, type Evidence, readEvidence, readRows } from "../../src/readiness/evidence.ts";
import { gate } from "../../src/readiness/gate.ts";
import { fixtureCopy, resultsFor, tempDir } from "./helpers.ts";

const NOW = new Date("2027-02-17T08:00:00Z");

/** What the criteria read of an Evidence: everything but the path and the rows. */
function judged(ev: Evidence): Omit<Evidence, "file" | "rows"> {
  const rest: { -readonly [K in keyof Evidence]?: Evidence[K] } = { ...ev };
  delete rest.file;
  delete rest.rows;
  return rest as Omit<Evidence, "file" | "rows">;
}

async function onlyDigest(cache: string): Promise<string> {
  const names = (await readdir(cache)).filter((n) => n.startsWith("evidence-"));
  expect(names).toHaveLength(1);
  return join(cache, names[0] ?? "");
}

const down = (key: string) => (r: { key: string }) => (r.key === key ? { ...r, status: "down" as const, detail: "no answer", failure: "timeout" as const } : r);

describe("results digest", () => {
  it("gives the same evidence as parsing, and stands in for the parse while the file's bytes are the same", async () => {
    const root = await fixtureCopy();
    const cache = await tempDir();
    const file = await resultsFor(root, { now: NOW, edit: down("link-icmp/R-1/R-1-F") as never });
    const parsed = await readEvidence(file);
    const first = await readEvidence(file, { cacheDir: cache });
    expect(judged(first)).toEqual(judged(parsed));
    const digest = await onlyDigest(cache);
    const second = await readEvidence(file, { cacheDir: cache });
    expect(judged(second)).toEqual(judged(parsed));
    expect(second.file).toBe(file);
    expect(second.links.get("R-1-F")).toEqual({ status: "down", detail: "no answer" });
    // Proof the digest, not the file, answered: a digest edited by hand (same file hash) is what is read.
    const text = await readFile(digest, "utf8");
    const d = JSON.parse(text) as { links: { ids: string[]; status: string } };
    const at = d.links.ids.indexOf("R-1-F");
    d.links.status = `${d.links.status.slice(0, at)}0${d.links.status.slice(at + 1)}`;
    await writeFile(digest, JSON.stringify(d));
    expect((await readEvidence(file, { cacheDir: cache })).links.get("R-1-F")?.status).toBe("up");
    // One byte of the results changed: another hash, so the file is parsed and its own digest kept.
    await writeFile(file, (await readFile(file, "utf8")).replace('"no answer"', '"no answeR"'));
    const changed = await readEvidence(file, { cacheDir: cache });
    expect(changed.links.get("R-1-F")).toEqual({ status: "down", detail: "no answeR" });
    expect(changed.sha256).not.toBe(parsed.sha256);
    expect((await readdir(cache)).filter((n) => n.startsWith("evidence-"))).toHaveLength(2);
  });

  it.each([
    ["cut short", (t: string) => t.slice(0, t.length / 2)],
    ["of another layout", (t: string) => t.replace('"version":1', '"version":0')],
    ["made by other code", (t: string) => t.replace(/"code":"[0-9a-f]+"/, `"code":"${"0".repeat(64)}"`)],
    ["of another file", (t: string) => t.replace(/"sha256":"[0-9a-f]+"/, `"sha256":"${"0".repeat(64)}"`)],
    ["with a status no result has", (t: string) => t.replace(/"status":"(\d)/, '"status":"9')],
    ["with a column shorter than its ids", (t: string) => t.replace(/"status":"\d/, '"status":"')],
    ["with an id that is not a string", (t: string) => t.replace(/"ids":\["[^"]+"/, '"ids":[7')],
    [
      "with a server's status that is not one",
      (t: string) => t.replace(/"worst":\{"status":"up"/, '"worst":{"status":"fine"').replace(/\[\["([^"]+)",\{"status":"up"/, '[["$1",{"status":"fine"'),
    ],
  ])("reads the file in full when the digest is %s, and keeps a sound one", async (_name, damage) => {
    const root = await fixtureCopy();
    const cache = await tempDir();
    const file = await resultsFor(root, { now: NOW, edit: down("link-icmp/R-1/R-1-F") as never });
    const parsed = await readEvidence(file);
    await readEvidence(file, { cacheDir: cache });
    const digest = await onlyDigest(cache);
    const sound = await readFile(digest, "utf8");
    const damaged = damage(sound);
    expect(damaged).not.toBe(sound);
    await writeFile(digest, damaged);
    expect(judged(await readEvidence(file, { cacheDir: cache }))).toEqual(judged(parsed));
    expect(await readFile(digest, "utf8")).toBe(sound);
  });

  it("encodes and decodes every field: details, check-in times and serials, servers' kinds and certificates, header and footer", async () => {
    const root = await fixtureCopy();
    const file = await resultsFor(root, { now: NOW, certNotAfter: "2027-06-01T00:00:00.000Z", edit: down("link-icmp/R-1/R-1-F") as never });
    const ev = await readEvidence(file);
    expect(ev.servers.size).toBeGreaterThan(0);
    expect([...ev.checkins.values()].some((c) => c.at !== undefined && c.serial !== undefined)).toBe(true);
    expect(ev.header?.id).toBeDefined();
    expect(ev.footer?.valid).toBe(true);
    const round = decode(JSON.parse(JSON.stringify(encode(ev, "c0de"))), ev.sha256, "c0de");
    expect(round).toEqual(judged(ev));
    expect(() => decode(JSON.parse(JSON.stringify(encode(ev, "c0de"))), ev.sha256, "other")).toThrow(/not this file's digest/);
  });

  it("keeps eight digests, the newest", async () => {
    const root = await fixtureCopy();
    const cache = await tempDir();
    for (let i = 0; i < 10; i++) await readEvidence(await resultsFor(root, { now: NOW, id: `c-${i}` }, `c${i}.jsonl`), { cacheDir: cache });
    expect((await readdir(cache)).filter((n) => n.startsWith("evidence-"))).toHaveLength(8);
  });

  it("the gate parses a campaign new to the history (its rows are recorded, every one), and takes the digest once it is recorded", async () => {
    const root = await fixtureCopy();
    const cache = await tempDir();
    const inventory = join(root, "inventory");
    const file = await resultsFor(root, { now: NOW, id: "c-1" });
    const direct = await readEvidence(file, { keepRows: true });
    await gate({ inventory, results: file, cacheDir: cache, now: NOW, milestone: "T-7" });
    const history = join(root, "history.sqlite");
    const first = await gate({ inventory, results: file, cacheDir: cache, history, now: NOW, milestone: "T-7" });
    expect(first.evidence?.rows).toHaveLength(direct.total);
    const db = new DatabaseSync(history, { readOnly: true });
    const count = Number(db.prepare("SELECT count(*) AS n FROM result WHERE campaign = 'c-1'").get()?.n);
    db.close();
    expect(count).toBe(direct.rows?.length);
    expect(count).toBeGreaterThan(0);
    const again = await gate({ inventory, results: file, cacheDir: cache, history, now: new Date(NOW.getTime() + 1000), milestone: "T-7" });
    expect(again.evidence?.rows).toBeUndefined();
    expect(again.result.trend).toHaveLength(2);
  });

  it("campaignOf reads the header's id from the first line, and nothing from a file without one", async () => {
    const root = await fixtureCopy();
    const file = await resultsFor(root, { now: NOW, id: "c-9" });
    expect(await campaignOf(file)).toBe("c-9");
    await writeFile(file, (await readFile(file, "utf8")).split("\n").slice(1).join("\n"));
    expect(await campaignOf(file)).toBeUndefined();
  });

  it("readRows refuses a file that changed since it was judged", async () => {
    const root = await fixtureCopy();
    const file = await resultsFor(root, { now: NOW });
    const ev = await readEvidence(file);
    await writeFile(file, `${await readFile(file, "utf8")}\n`);
    await expect(readRows(file, ev.sha256)).rejects.toThrow(/changed while they were being judged/);
    expect((await readRows(file, (await readEvidence(file)).sha256)).length).toBe(ev.total);
  });
});
