// The change freeze with real keys, real signatures and a real git commit.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { changeFreeze } from "../../src/readiness/freeze.ts";
import { gate } from "../../src/readiness/gate.ts";
import { renderManifest, SIGNOFF_NAMESPACE } from "../../src/readiness/signoff.ts";
import { commitAll, ELECTION, edit, exec, fixtureCopy, newKey, resultsFor, tempDir } from "./helpers.ts";

// 1405-11-20 is 2027-02-09: the freeze is on from that day, in Tehran.
const DURING = new Date("2027-02-15T06:00:00Z");
const BEFORE = new Date("2027-01-15T06:00:00Z");
const keys: Record<string, { path: string; pub: string }> = {};

beforeAll(async () => {
  const dir = await tempDir("amadegi-freeze-keys-");
  for (const name of ["m-one", "m-two", "m-three"]) keys[name] = await newKey(dir, name);
});

async function production() {
  const root = await fixtureCopy();
  await edit(root, ELECTION, "  timeZone: Asia/Tehran\n", "  timeZone: Asia/Tehran\n  changeFreeze: 1405-11-20\n");
  const members = ["m-one", "m-two", "m-three"].map(
    (id, i) => `  - { id: ${id}, name: عضو ${i + 1}, ` + `role: member, level: county, sshKey: ${keys[id]?.pub} }`,
  );
  await writeFile(join(root, "governance/committee.yaml"), `committee:\n${members.join("\n")}\n`);
  const commit = await commitAll(root);
  const results = await resultsFor(root, { now: DURING, ageMs: 3_600_000 });
  const inventory = join(root, "inventory");
  const judged = (await gate({ inventory, results, now: DURING })).result;
  const approvals = join(root, "approvals");
  await mkdir(approvals);
  const sign = async (member: string) => {
    const file = join(approvals, `${member}.txt`);
    const manifest = {
      election: "gate-1405",
      milestone: judged.milestone.id,
      inventoryCommit: commit,
      resultsSha256: judged.results?.sha256 ?? "",
      verdict: judged.criteriaVerdict === "ready" ? ("ready" as const) : ("not-ready" as const),
      time: "2027-02-15T05:30:00Z",
    };
    await writeFile(file, renderManifest(manifest));
    await exec("ssh-keygen", ["-Y", "sign", "-f", keys[member]?.path ?? "", "-n", SIGNOFF_NAMESPACE, file]);
  };
  return { inventory, results, approvals, sign };
}

describe("changeFreeze", () => {
  it("never holds back a stack that is not production (and reads nothing for it)", async () => {
    const d = await changeFreeze({ stack: "rehearsal", environment: "rehearsal", operation: "up", inventory: "/nonexistent", now: DURING });
    expect(d).toEqual({ frozen: false, allowed: true, reason: "stack rehearsal is rehearsal: no change freeze" });
  });

  it("lets production change before the freeze, saying when it begins", async () => {
    const p = await production();
    const d = await changeFreeze({ stack: "tehran", environment: "production", operation: "up", inventory: p.inventory, now: BEFORE });
    expect(d).toMatchObject({ frozen: false, allowed: true });
    expect(d.reason).toMatch(/the change freeze begins 1405-11-20 \(2027-02-09\)|the change freeze begins .*1405-11-20/);
  });

  it("refuses production during the freeze without approvals, naming what to pass", async () => {
    const p = await production();
    const d = await changeFreeze({ stack: "tehran", environment: "production", operation: "destroy", inventory: p.inventory, now: DURING });
    expect(d.frozen).toBe(true);
    expect(d.allowed).toBe(false);
    expect(d.reason).toMatch(
      /^stack tehran is production and the change freeze began .*: `destroy` needs the IT committee's signed approval \(--approvals DIR --results FILE/,
    );
  });

  it("is unlocked by a majority of valid approvals of these results, not by one", async () => {
    const p = await production();
    const base = {
      stack: "tehran",
      environment: "production",
      operation: "up" as const,
      inventory: p.inventory,
      results: p.results,
      approvals: p.approvals,
      now: DURING,
    };
    await p.sign("m-one");
    const one = await changeFreeze(base);
    expect(one).toMatchObject({ frozen: true, allowed: false, signoff: { required: 2, of: 3, members: ["m-one"] } });
    await p.sign("m-three");
    const two = await changeFreeze(base);
    expect(two).toMatchObject({ frozen: true, allowed: true, signoff: { met: true, members: ["m-one", "m-three"] } });
    expect(two.reason).toMatch(/approved for T-\d+ by m-one, m-three \(2 of 3, 2 needed\)$/);
  });

  it("is not unlocked by approvals of other results", async () => {
    const p = await production();
    await p.sign("m-one");
    await p.sign("m-two");
    const other = await resultsFor(join(p.inventory, ".."), { now: DURING, ageMs: 7_200_000 }, "other.jsonl");
    const d = await changeFreeze({
      stack: "tehran",
      environment: "production",
      operation: "up",
      inventory: p.inventory,
      results: other,
      approvals: p.approvals,
      now: DURING,
    });
    expect(d.allowed).toBe(false);
    expect(d.reason).toMatch(/approved results [0-9a-f]{12}, not [0-9a-f]{12}/);
  });
});
